//! `steps`, `step N`, `diff A B`, `fork`, `rewind`, `pop`, `rethink`, `rewrite`: an agent's
//! past from the command line.
//!
//! Contract: the reading commands open the store read-only (they run beside a writer) and need
//! no endpoint; `--json` prints one JSON document whose field names are stable (README). `step
//! N --json` holds the request exactly as it was sent, as a JSON object (its bytes as they
//! were). The changing commands open the store for writing and go through the agent's own
//! history operations, journaling what they did as the TUI's would.

use std::io::Write;

use serde_json::json;

use crate::config::Resolved;
use crate::engine::history::{HistoryError, diff, view};
use crate::session::{Failure, Outcome, open_existing, open_reader, open_writer};
use crate::store::Store;
use crate::text;

fn out_err(e: std::io::Error) -> Failure {
    Failure::runtime(format!("cannot write the output: {e}"))
}

/// JSON for stdout: escaped where a terminal would read control characters in it, exact
/// (byte for byte as recorded) into a pipe or a file.
pub(super) fn safe_json(doc: String) -> String {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        text::json_terminal_safe(doc)
    } else {
        doc
    }
}

fn refused(e: HistoryError) -> Failure {
    match e {
        HistoryError::Refused(why) => Failure::start(why),
        HistoryError::Store(e) => Failure::runtime(e),
    }
}

/// Every model call of the agent, oldest first.
pub fn steps(cfg: &Resolved, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let mut rows = Vec::new();
    let mut before = None;
    loop {
        let page = view::rows(&agent.store, agent.name(), before, 512)?;
        let Some(last) = page.last() else { break };
        before = Some(last.key);
        rows.extend(page);
    }
    rows.reverse();
    if json_out {
        let doc = json!({"agent": agent.name(), "steps": rows});
        writeln!(out, "{}", safe_json(doc.to_string())).map_err(out_err)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>5}  {:<19}  {:<24}  {:<26}  {:>13}  {:>7}  {:>8}",
        "step", "time (UTC)", "trigger", "function", "prompt", "cached", "ms"
    )
    .map_err(out_err)?;
    for r in &rows {
        writeln!(out, "{}", row_line(r)).map_err(out_err)?;
    }
    if rows.is_empty() {
        writeln!(out, "(no model calls yet)").map_err(out_err)?;
    }
    Ok(())
}

/// One row of `steps`, printable.
pub fn row_line(r: &view::StepRow) -> String {
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
        "{:>5}  {:<19}  {:<24}  {:<26}  {:>13}  {:>7}  {:>8.0}",
        r.step,
        r.started_at.format("%Y-%m-%d %H:%M:%S"),
        text::one_line(&r.trigger, 24),
        text::one_line(&function, 26),
        prompt,
        cached,
        r.model_ms
    ))
}

fn detail_of(store: &Store, agent: &str, step: u64) -> Result<view::StepDetail, Failure> {
    view::step_detail(store, agent, step)?.ok_or_else(|| {
        Failure::start(format!(
            "agent '{agent}' has no step {step} (`memscope steps` lists them)"
        ))
    })
}

/// One model call: the request as sent, the reply, the memory it left.
pub fn step(cfg: &Resolved, n: u64, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let d = detail_of(&agent.store, agent.name(), n)?;
    if json_out {
        let doc = serde_json::to_string(&d).map_err(Failure::runtime)?;
        writeln!(out, "{}", safe_json(doc)).map_err(out_err)?;
        return Ok(());
    }
    for line in detail_lines(&d) {
        writeln!(out, "{}", text::visible(&line)).map_err(out_err)?;
    }
    Ok(())
}

/// A step's detail as plain lines (the TUI draws the same content in panes).
pub fn detail_lines(d: &view::StepDetail) -> Vec<String> {
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
        format!("== request ({} local tokens) ==", d.budget.total),
    ];
    for s in &d.sections {
        l.push(format!("-- {} · {} tokens --", s.label, s.tokens));
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
            l.push(format!("<{label}> {value}"));
        }
    }
    l
}

/// What changed from step `a` to step `b`.
pub fn diff(cfg: &Resolved, a: u64, b: u64, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let (da, db) = (
        detail_of(&agent.store, agent.name(), a)?,
        detail_of(&agent.store, agent.name(), b)?,
    );
    let d = diff::diff(&da, &db);
    if json_out {
        let doc = serde_json::to_string(&d).map_err(Failure::runtime)?;
        writeln!(out, "{}", safe_json(doc)).map_err(out_err)?;
        return Ok(());
    }
    for line in diff_lines(&d) {
        writeln!(out, "{}", text::visible(&line)).map_err(out_err)?;
    }
    Ok(())
}

/// A diff as plain lines.
pub fn diff_lines(d: &diff::StepDiff) -> Vec<String> {
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

/// A new agent made from this one as it was right after step `step`.
pub fn fork(cfg: &Resolved, step: u64, name: &str, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    agent.fork_from(step, name).map_err(refused)?;
    agent.journal(&agent.event(crate::engine::EventKind::Forked {
        from_step: step,
        name: name.to_string(),
    }))?;
    writeln!(
        out,
        "made agent '{}' from '{}' as it was right after step {step}",
        text::visible(name),
        text::visible(agent.name())
    )
    .map_err(out_err)
}

/// What `rewind` and `pop` did, said and journaled.
fn rewound(
    agent: &crate::engine::Agent,
    r: &crate::engine::history::Rewound,
    out: &mut dyn Write,
) -> Outcome {
    agent.journal(&agent.event(r.event(agent)))?;
    writeln!(
        out,
        "'{}' is back at step {}; what it was is kept whole as the agent '{}'",
        text::visible(agent.name()),
        r.step,
        text::visible(&r.backup)
    )
    .map_err(out_err)?;
    if let Some(t) = &r.dropped_input {
        writeln!(out, "dropped message: {}", text::visible(t)).map_err(out_err)?;
    }
    Ok(())
}

/// The agent taken back to right after step `step`.
pub fn rewind(cfg: &Resolved, step: u64, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_writer(cfg, store)?;
    let r = agent.rewind_to(step).map_err(refused)?;
    rewound(&agent, &r, out)
}

/// The last user message and everything after it dropped (kept in a backup).
pub fn pop(cfg: &Resolved, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_writer(cfg, store)?;
    let r = agent.pop().map_err(refused)?;
    rewound(&agent, &r, out)
}

/// The last inner thought (`rethink`) or send_message (`rewrite`) replaced.
pub fn edit_reply(cfg: &Resolved, message: bool, new: &str, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_writer(cfg, store)?;
    let shown = if message {
        agent.rewrite(new)
    } else {
        agent.rethink(new)
    }
    .map_err(refused)?;
    if let crate::engine::EventKind::MessageEdited { id, part, .. } = &shown {
        writeln!(out, "message {id}: the {part} was replaced").map_err(out_err)?;
    }
    Ok(())
}
