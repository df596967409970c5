//! Function calls written in the reply text instead of `tool_calls` (some local models do
//! this), recognised only when unambiguous.
//!
//! Contract: [`call_in_text`] returns a call only when the text holds exactly one candidate
//! naming a known function: a `<tool_call>{…}</tool_call>` block, a JSON object with
//! `name`/`function` and `arguments`/`parameters`, or `function_name({…})`. Anything else is
//! left as text.

use serde_json::Value;

use super::repair::parse_lenient;
use super::spec;

fn from_object(v: &Value) -> Option<(String, String)> {
    let obj = v.as_object()?;
    let name = ["name", "function", "function_name"]
        .iter()
        .find_map(|k| obj.get(*k)?.as_str())?;
    spec::find(name)?;
    let args = ["arguments", "parameters", "params", "args"]
        .iter()
        .find_map(|k| obj.get(*k))?;
    let args = match args {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some((name.to_string(), args))
}

/// (function name, argument text, note) of the one call the text makes, if it makes one.
pub fn call_in_text(text: &str) -> Option<(String, String, String)> {
    let mut found: Vec<(String, String, &'static str)> = Vec::new();
    // <tool_call> … </tool_call> blocks (Hermes/Qwen style).
    let mut rest = text;
    while let Some(start) = rest.find("<tool_call>") {
        let after = &rest[start + "<tool_call>".len()..];
        let end = after.find("</tool_call>").unwrap_or(after.len());
        if let Ok(r) = parse_lenient(&after[..end])
            && let Some((n, a)) = from_object(&r.value)
        {
            found.push((n, a, "a <tool_call> block in the reply text"));
        }
        rest = &after[end..];
    }
    if found.is_empty() {
        // name({...}) written out.
        for f in spec::FUNCTIONS {
            let pat = format!("{}(", f.name);
            if let Some(i) = text.find(&pat) {
                let inner = &text[i + pat.len()..];
                if inner.trim_start().starts_with('{')
                    && let Ok(r) = parse_lenient(inner)
                    && r.value.is_object()
                {
                    found.push((
                        f.name.to_string(),
                        r.value.to_string(),
                        "a call written out in the reply text",
                    ));
                }
            }
        }
    }
    if found.is_empty() {
        // A bare JSON object naming a function.
        if let Some(i) = text.find('{')
            && let Ok(r) = parse_lenient(&text[i..])
            && let Some((n, a)) = from_object(&r.value)
        {
            found.push((n, a, "a JSON call in the reply text"));
        }
    }
    if found.len() != 1 {
        return None;
    }
    let (n, a, how) = found.pop()?;
    Some((n, a, format!("function call read from {how}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_unambiguous_calls_only() {
        let t = "Sure!\n<tool_call>\n{\"name\": \"send_message\", \"arguments\": {\"message\": \"hi\"}}\n</tool_call>";
        assert_eq!(call_in_text(t).unwrap().0, "send_message");
        let t = r#"I'll save it: core_memory_append({"name": "human", "content": "x", "request_heartbeat": false})"#;
        assert_eq!(call_in_text(t).unwrap().0, "core_memory_append");
        let t = r#"{"function": "archival_memory_search", "parameters": {"query": "tea", "request_heartbeat": true}}"#;
        assert!(call_in_text(t).unwrap().1.contains("tea"));
        let two = "<tool_call>{\"name\":\"send_message\",\"arguments\":{}}</tool_call><tool_call>{\"name\":\"send_message\",\"arguments\":{}}</tool_call>";
        assert!(call_in_text(two).is_none(), "two calls are ambiguous");
        assert!(call_in_text(r#"{"name": "launch_rockets", "arguments": {}}"#).is_none());
        assert!(call_in_text("I could send_message (later).").is_none());
    }
}
