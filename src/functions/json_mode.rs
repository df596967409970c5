//! JSON mode, for servers or models without usable native tool calling (MemGPT's own
//! approach): the functions are described in the system prompt, the reply is one JSON object
//! `{"inner_thoughts": …, "function": …, "params": {…}}` (constrained by `response_format` where
//! the server supports it), and function results go back as user-role events.
//!
//! Contract: [`parse_reply`] turns such a reply into the same tool call native mode would give,
//! tolerating what the repair tolerates; anything it cannot read is left as plain text.

use std::sync::OnceLock;

use serde_json::{Value, json};

use super::repair::parse_lenient;
use super::spec::FUNCTIONS;
use crate::memory::Message;

/// How the reply is constrained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JsonFormat {
    /// OpenAI's `{"type": "json_schema", "json_schema": {…}}` (vLLM, Ollama, LM Studio, OpenAI).
    #[default]
    JsonSchema,
    /// `{"type": "json_object", "schema": {…}}` (llama.cpp and llama-cpp-python).
    JsonObject,
}

/// The section of the system prompt that lists the functions and the reply format.
pub fn instructions() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut s = String::from(
            "### How to reply\n\
             Reply with exactly one JSON object and nothing else:\n\
             {\"inner_thoughts\": \"your private reasoning\", \"function\": \"<function name>\", \"params\": {<arguments>}}\n\
             Results of your functions come back as user-role events with \"type\": \"function_result\".\n\n\
             ### Functions\n",
        );
        for f in FUNCTIONS {
            s.push_str(&format!("- {}: {}\n", f.name, f.description));
            for p in f.params {
                s.push_str(&format!(
                    "    - {} ({}{}): {}\n",
                    p.name,
                    p.ty.json_name(),
                    if p.required { ", required" } else { "" },
                    p.description
                ));
            }
        }
        s
    })
}

/// The reply's schema: one branch per function, each naming it and requiring its parameters
/// with their types, so a server that turns the schema into a grammar (llama.cpp, vLLM,
/// Ollama) can only produce a call with what the function needs. The root also says "object",
/// which OpenAI asks of every schema.
fn schema() -> Value {
    let branches: Vec<Value> = super::spec::tools_json()
        .as_array()
        .into_iter()
        .flatten()
        .map(|tool| {
            let f = &tool["function"];
            json!({
                "type": "object",
                "properties": {
                    "inner_thoughts": {"type": "string"},
                    "function": {"const": f["name"]},
                    "params": f["parameters"],
                },
                "required": ["inner_thoughts", "function", "params"],
            })
        })
        .collect();
    json!({"type": "object", "anyOf": branches})
}

pub fn response_format(style: JsonFormat) -> Value {
    match style {
        JsonFormat::JsonSchema => json!({
            "type": "json_schema",
            "json_schema": {"name": "agent_step", "schema": schema()},
        }),
        JsonFormat::JsonObject => json!({"type": "json_object", "schema": schema()}),
    }
}

/// A tool result as the user-role event JSON mode sends.
pub fn result_event(m: &Message) -> String {
    let v: Value = serde_json::from_str(&m.content).unwrap_or(Value::Null);
    json!({
        "type": "function_result",
        "function": m.name.clone().unwrap_or_default(),
        "status": v["status"],
        "message": v["message"],
        "time": v["time"],
    })
    .to_string()
}

/// What a JSON-mode reply says: (inner thoughts, function name, arguments as JSON text, notes).
pub fn parse_reply(content: &str) -> Option<(String, String, String, Vec<String>)> {
    let parsed = parse_lenient(content).ok()?;
    let obj = parsed.value.as_object()?;
    let name = ["function", "name", "function_name"]
        .iter()
        .find_map(|k| obj.get(*k)?.as_str())?;
    let params = ["params", "parameters", "arguments", "args"]
        .iter()
        .find_map(|k| obj.get(*k))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let params = match params {
        // Some models put the arguments in a string.
        Value::String(s) => parse_lenient(&s)
            .map(|r| r.value)
            .unwrap_or(Value::String(s)),
        other => other,
    };
    let thoughts = ["inner_thoughts", "thoughts", "thought"]
        .iter()
        .find_map(|k| obj.get(*k)?.as_str())
        .unwrap_or_default()
        .to_string();
    Some((
        thoughts,
        name.to_string(),
        params.to_string(),
        parsed.repairs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reply_object() {
        let (t, n, a, r) = parse_reply(r#"{"inner_thoughts": "save it", "function": "core_memory_append", "params": {"name": "human", "content": "x", "request_heartbeat": false}}"#).unwrap();
        assert_eq!((t.as_str(), n.as_str()), ("save it", "core_memory_append"));
        assert!(a.contains("\"human\"") && r.is_empty());
        assert!(parse_reply("just chatting").is_none());
        assert!(instructions().contains("archival_memory_search"));
    }
}
