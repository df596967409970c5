//! Past model calls as plain lines of text: a steps row, a step's detail, a diff, a request's
//! JSON indented in its own key order.
//!
//! Contract: pure; both faces print these (the command line as they are, the TUI inside its
//! panes, each line made printable first). Nothing here decides what a step holds, only how it
//! reads.

use super::diff::StepDiff;
use super::view::{Part, StepDetail, StepRow};
use crate::text;

/// The width of a steps row's columns other than the trigger and the function, with the gaps.
const FIXED_COLUMNS: usize = 5 + 2 + 19 + 2 + 2 + 2 + 13 + 2 + 7 + 2 + 8;

/// The trigger's and the function's columns for a row `width` characters wide: what the fixed
/// columns leave, shared 2 to 3, never narrower than 24 and 26.
pub fn step_columns(width: usize) -> (usize, usize) {
    let rest = width.saturating_sub(FIXED_COLUMNS);
    let trigger = (rest * 2 / 5).max(24);
    (trigger, rest.saturating_sub(trigger).max(26))
}

/// The header of `steps` rows with these column widths.
pub fn row_header(trigger_w: usize, function_w: usize) -> String {
    format!(
        "{:>5}  {:<19}  {:<trigger_w$}  {:<function_w$}  {:>13}  {:>7}  {:>8}",
        "step", "time (UTC)", "trigger", "function", "prompt", "cached", "ms"
    )
}

/// One row of `steps`, printable.
pub fn row_line(r: &StepRow) -> String {
    row_line_in(r, 24, 26)
}

/// One row of `steps` with these widths for the trigger and the function.
pub fn row_line_in(r: &StepRow, trigger_w: usize, function_w: usize) -> String {
    let function = match (&r.function, &r.status) {
        (Some(f), Some(s)) => format!("{f} ({s})"),
        (Some(f), None) => f.clone(),
        (None, _) if r.kind == "summary" => "(summary)".into(),
        (None, _) => "(no call)".into(),
    };
    let prompt = match (r.prompt_tokens, r.server_prompt_tokens) {
        (Some(l), Some(s)) => format!("{l}/{s}"),
        (Some(l), None) => format!("{l}/-"),
        (None, Some(s)) => format!("-/{s}"),
        (None, None) => "-".into(),
    };
    let cached = r
        .server_cached
        .or(r.shared_tokens)
        .map(|c| c.to_string())
        .unwrap_or_else(|| "-".into());
    text::visible(&format!(
        "{:>5}  {:<19}  {:<trigger_w$}  {:<function_w$}  {:>13}  {:>7}  {:>8.0}",
        r.step,
        r.started_at.format("%Y-%m-%d %H:%M:%S"),
        text::one_line(&r.trigger, trigger_w),
        text::one_line(&function, function_w),
        prompt,
        cached,
        r.model_ms
    ))
}

/// A step's detail as plain lines (the TUI draws the same content in panes).
pub fn detail_lines(d: &StepDetail) -> Vec<String> {
    let r = &d.row;
    let mut l = vec![
        format!(
            "step {} · {} · {} · {:.0} ms",
            r.step,
            r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            r.trigger,
            r.model_ms
        ),
        String::new(),
        match r.prompt_tokens {
            // What the budget counted when it was sent (the server's tokenizer, where there
            // was one), and what the local count of its sections gives now.
            Some(sent) if sent != d.budget.total => format!(
                "== request ({sent} tokens as counted when sent; {} by the local count) ==",
                d.budget.total
            ),
            _ => format!("== request ({} tokens) ==", d.budget.total),
        },
    ];
    for s in &d.sections {
        l.push(format!("-- {} · {} tokens --", s.label, s.tokens));
        if s.part == Part::Tools {
            // The schemas whole are in the raw request; here, what the model could call.
            let names: Vec<String> = serde_json::from_str::<serde_json::Value>(&s.text)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect();
            l.push(format!("  {}", names.join(", ")));
            continue;
        }
        l.extend(s.text.lines().map(|x| format!("  {x}")));
    }
    l.push(String::new());
    l.push("== reply ==".into());
    if let Some(t) = &d.reply.text {
        l.push(format!("text: {t}"));
    }
    for c in &d.reply.tool_calls {
        l.push(format!("call: {}({})", c.name, c.arguments));
    }
    l.push(format!(
        "finish: {} · usage: {}",
        d.reply.finish_reason.as_deref().unwrap_or("-"),
        d.reply
            .usage
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| "-".into())
    ));
    for res in &d.results {
        l.push(format!(
            "result: {} {} {}",
            res.name, res.status, res.message
        ));
    }
    if let Some(m) = &d.memory {
        l.push(String::new());
        l.push(format!(
            "== memory after it: queue {} · recall {} · archival {} ==",
            m.queue, m.recall, m.archival
        ));
        for (label, value) in &m.core {
            l.push(format!("<{label}>"));
            l.extend(value.lines().map(|x| format!("  {x}")));
        }
    }
    l
}

/// A diff as plain lines.
pub fn diff_lines(d: &StepDiff) -> Vec<String> {
    let mut l = vec![format!("step {} → step {}", d.from_step, d.to_step)];
    for m in &d.entered {
        l.push(format!(
            "+ entered {} {}: {}",
            m.role,
            m.id.map(|i| format!("#{i}")).unwrap_or_default(),
            text::one_line(&m.text, 100)
        ));
    }
    for m in &d.left {
        l.push(format!(
            "- left {} {}: {}",
            m.role,
            m.id.map(|i| format!("#{i}")).unwrap_or_default(),
            text::one_line(&m.text, 100)
        ));
    }
    for c in &d.changed {
        l.push(format!("~ {} changed:", c.label));
        l.extend(
            c.lines
                .iter()
                .filter(|x| x.tag != ' ' || c.label.starts_with("core"))
                .map(|x| format!("  {} {}", x.tag, x.text)),
        );
    }
    if d.entered.is_empty() && d.left.is_empty() && d.changed.is_empty() {
        l.push("(the context is the same)".into());
    }
    let budget: Vec<String> = d
        .budget
        .iter()
        .filter(|x| x.change != 0)
        .map(|x| format!("{} {:+}", x.section, x.change))
        .collect();
    l.push(format!(
        "tokens: {}",
        if budget.is_empty() {
            "no change".to_string()
        } else {
            budget.join(", ")
        }
    ));
    l
}

/// JSON indented two spaces a level, keys and bytes in the order they came (a request shown
/// as it was sent, not re-encoded).
pub fn pretty_exact(json: &[u8]) -> String {
    let text = String::from_utf8_lossy(json);
    let mut out = String::with_capacity(text.len() * 2);
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    out.push(chars.next().expect("peeked"));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_json_keeps_the_order_and_the_strings() {
        let raw = br#"{"z":1,"a":[{"k":"x, {y}: \"q\""},[]],"e":{}}"#;
        let p = pretty_exact(raw);
        assert!(p.find("\"z\"").unwrap() < p.find("\"a\"").unwrap(), "{p}");
        assert!(p.contains(r#""x, {y}: \"q\"""#), "{p}");
        let back: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(
            back,
            serde_json::from_slice::<serde_json::Value>(raw).unwrap()
        );
        assert!(p.contains("\"e\": {}"), "{p}");
    }
}
