//! One message between memscope's shape and Letta's.
//!
//! Letta keeps a message's content as a list of typed parts (`text`, `reasoning`...), an
//! assistant's calls in OpenAI's `tool_calls` shape, and a tool's answer as a `tool` message
//! with `tool_call_id` and `tool_returns`. memscope's user-side events (a user message, a
//! heartbeat, a login, a system alert) are MemGPT's packed JSON, which Letta uses too.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use crate::memory::{Message, MessageKind, Role, ToolCall};

/// `m` as a Letta message (without its `id` and `agent_id`).
pub fn to_letta(m: &Message) -> Value {
    let role = m.role.as_str();
    let calls: Vec<Value> = m
        .tool_calls
        .iter()
        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
        .collect();
    let mut v = json!({
        "role": role,
        "content": [{"type": "text", "text": m.content}],
        "name": m.name,
        "created_at": m.created_at,
        "tool_calls": if calls.is_empty() { Value::Null } else { Value::Array(calls) },
        "tool_call_id": m.tool_call_id,
        "model": null,
    });
    if m.role == Role::Tool {
        let status = serde_json::from_str::<Value>(&m.content)
            .ok()
            .and_then(|r| r["status"].as_str().map(str::to_string));
        let ok = status.is_none_or(|s| s.eq_ignore_ascii_case("ok"));
        v["tool_returns"] = json!([{
            "tool_call_id": m.tool_call_id,
            "status": if ok { "success" } else { "error" },
            "func_response": m.content,
        }]);
    }
    v
}

/// What memscope kept of a message that Letta has no slot for (from the file's extension).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Meta {
    pub kind: Option<MessageKind>,
    pub text: Option<String>,
    pub searchable: Option<bool>,
    pub step: Option<u64>,
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("text")
                    .or_else(|| o.get("reasoning"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

pub fn time_of(v: &Value) -> DateTime<Utc> {
    let Some(s) = v.as_str() else {
        return Utc::now();
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t.with_timezone(&Utc);
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|t| t.and_utc())
        .unwrap_or_else(|_| Utc::now())
}

/// The kind and readable text of a user-side message from its packed JSON, if it is one.
fn packed_event(content: &str) -> Option<(MessageKind, String)> {
    let v: Value = serde_json::from_str(content).ok()?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(match v.get("type")?.as_str()? {
        "user_message" => (MessageKind::UserMessage, field("message")),
        "heartbeat" => (MessageKind::Heartbeat, field("reason")),
        "login" => (MessageKind::Login, field("last_login")),
        "system_alert" => (MessageKind::SystemAlert, field("message")),
        _ => return None,
    })
}

/// A Letta message (at `at` in the document) as memscope's message `id`.
pub fn from_letta(v: &Value, at: &str, id: u64, meta: Option<&Meta>) -> Result<Message, String> {
    let Value::Object(o) = v else {
        return Err(format!("{at}: a message is not an object"));
    };
    let role = match o.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("system") => Role::System,
        Some("tool") | Some("function") => Role::Tool,
        Some(other) => {
            return Err(format!(
                "{at}.role: {other:?} is not user, assistant, system or tool"
            ));
        }
        None => return Err(format!("{at}: the message has no \"role\"")),
    };
    let mut content = o
        .get("content")
        .map(text_of)
        .or_else(|| o.get("text").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let returns = o.get("tool_returns").and_then(Value::as_array);
    if role == Role::Tool
        && content.is_empty()
        && let Some(r) = returns.and_then(|r| r.first())
    {
        content = r["func_response"].as_str().unwrap_or_default().to_string();
    }
    let mut tool_calls = Vec::new();
    for (i, c) in o
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = c.get("function").unwrap_or(c);
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.tool_calls[{i}]: the call names no function"))?;
        let arguments = match f.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "{}".into(),
        };
        tool_calls.push(ToolCall {
            id: c
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: name.to_string(),
            arguments,
        });
    }
    let tool_call_id = o
        .get("tool_call_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            returns
                .and_then(|r| r.first())
                .and_then(|r| r["tool_call_id"].as_str().map(str::to_string))
        });
    let (kind, text, searchable) = match role {
        Role::User => match packed_event(&content) {
            Some((k, t)) => (k, t, k == MessageKind::UserMessage),
            None => (MessageKind::UserMessage, content.clone(), true),
        },
        Role::Assistant => (MessageKind::Assistant, content.trim().to_string(), true),
        Role::System => (MessageKind::SystemAlert, content.clone(), false),
        Role::Tool => {
            let shown = serde_json::from_str::<Value>(&content)
                .ok()
                .and_then(|r| {
                    let status = r.get("status")?.as_str()?.to_string();
                    let msg = match r.get("message") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    };
                    // Letta's functions that return nothing say "None": the status says it all.
                    Some(match msg.trim() {
                        "" | "None" | "null" => status,
                        m => format!("{status}: {m}"),
                    })
                })
                .unwrap_or_else(|| content.clone());
            (MessageKind::ToolResult, shown, false)
        }
    };
    let meta = meta.cloned().unwrap_or_default();
    Ok(Message {
        id,
        role,
        kind: meta.kind.unwrap_or(kind),
        content,
        text: meta.text.unwrap_or(text),
        searchable: meta.searchable.unwrap_or(searchable),
        tool_calls,
        tool_call_id,
        name: o.get("name").and_then(Value::as_str).map(str::to_string),
        created_at: time_of(o.get("created_at").unwrap_or(&Value::Null)),
        tokens: 0,
        step: meta.step.unwrap_or(0),
    })
}
