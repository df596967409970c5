//! Validating a raw tool call into a typed [`Call`].

use serde_json::{Map, Value};

use super::MAX_ARGUMENT_BYTES;
use super::repair::parse_lenient;
use super::spec::{self, PType};
use crate::text::visible;

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    SendMessage {
        message: String,
    },
    PauseHeartbeats {
        minutes: i64,
    },
    CoreMemoryAppend {
        name: String,
        content: String,
        request_heartbeat: bool,
    },
    CoreMemoryReplace {
        name: String,
        old_content: String,
        new_content: String,
        request_heartbeat: bool,
    },
    ConversationSearch {
        query: String,
        page: usize,
        request_heartbeat: bool,
    },
    ConversationSearchDate {
        start_date: String,
        end_date: String,
        page: usize,
        request_heartbeat: bool,
    },
    ArchivalMemoryInsert {
        content: String,
        request_heartbeat: bool,
    },
    ArchivalMemorySearch {
        query: String,
        page: usize,
        request_heartbeat: bool,
    },
}

impl Call {
    pub fn request_heartbeat(&self) -> bool {
        match self {
            Call::SendMessage { .. } | Call::PauseHeartbeats { .. } => false,
            Call::CoreMemoryAppend {
                request_heartbeat, ..
            }
            | Call::CoreMemoryReplace {
                request_heartbeat, ..
            }
            | Call::ConversationSearch {
                request_heartbeat, ..
            }
            | Call::ConversationSearchDate {
                request_heartbeat, ..
            }
            | Call::ArchivalMemoryInsert {
                request_heartbeat, ..
            }
            | Call::ArchivalMemorySearch {
                request_heartbeat, ..
            } => *request_heartbeat,
        }
    }

    /// Search results are paged already and are never truncated as a whole.
    pub fn is_search(&self) -> bool {
        matches!(
            self,
            Call::ConversationSearch { .. }
                | Call::ConversationSearchDate { .. }
                | Call::ArchivalMemorySearch { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCall {
    pub call: Call,
    /// The arguments as understood (after repairs).
    pub arguments: Value,
    pub repairs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub message: String,
    pub repairs: Vec<String>,
    /// The arguments as far as they could be read.
    pub arguments: Value,
}

impl CallError {
    fn new(message: String, repairs: Vec<String>, arguments: Value) -> Self {
        CallError {
            message,
            repairs,
            arguments,
        }
    }
}

struct Args {
    map: Map<String, Value>,
    repairs: Vec<String>,
}

impl Args {
    fn str(&mut self, k: &str) -> String {
        self.map
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
    fn int(&self, k: &str) -> Option<i64> {
        self.map.get(k).and_then(Value::as_i64)
    }
    fn page(&self) -> usize {
        self.int("page").unwrap_or(0).max(0) as usize
    }
    fn heartbeat(&self) -> bool {
        self.map
            .get("request_heartbeat")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Turns a tool call's name and raw argument string into a validated call.
pub fn parse_call(name: &str, raw_args: &str) -> Result<ParsedCall, CallError> {
    let mut repairs = Vec::new();
    let mut fname = name.trim();
    if let Some(stripped) = fname.strip_prefix("functions.") {
        repairs.push(format!("function name '{fname}' read as '{stripped}'"));
        fname = stripped;
    }
    let Some(spec) = spec::find(fname) else {
        return Err(CallError::new(
            format!(
                "there is no function named '{}'; the functions are: {}",
                visible(&crate::text::one_line(name, 80)),
                spec::names()
            ),
            repairs,
            Value::Null,
        ));
    };
    if raw_args.len() > MAX_ARGUMENT_BYTES {
        return Err(CallError::new(
            format!(
                "the arguments are {} bytes long, over the limit of {} bytes; send less text at once",
                raw_args.len(),
                MAX_ARGUMENT_BYTES
            ),
            repairs,
            Value::Null,
        ));
    }
    let parsed = match parse_lenient(raw_args) {
        Ok(p) => p,
        Err(e) => return Err(CallError::new(e, repairs, Value::Null)),
    };
    repairs.extend(parsed.repairs);
    let Value::Object(map) = parsed.value else {
        let kind = match parsed.value {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(CallError::new(
            format!("the arguments must be a JSON object, not {kind}"),
            repairs,
            parsed.value,
        ));
    };
    let mut args = Args { map, repairs };
    if let Err(msg) = check(spec, &mut args) {
        return Err(CallError::new(msg, args.repairs, Value::Object(args.map)));
    }
    let call = match spec.name {
        "send_message" => Call::SendMessage {
            message: args.str("message"),
        },
        "pause_heartbeats" => Call::PauseHeartbeats {
            minutes: args.int("minutes").unwrap_or(0),
        },
        "core_memory_append" => Call::CoreMemoryAppend {
            name: args.str("name"),
            content: args.str("content"),
            request_heartbeat: args.heartbeat(),
        },
        "core_memory_replace" => Call::CoreMemoryReplace {
            name: args.str("name"),
            old_content: args.str("old_content"),
            new_content: args.str("new_content"),
            request_heartbeat: args.heartbeat(),
        },
        "conversation_search" => Call::ConversationSearch {
            query: args.str("query"),
            page: args.page(),
            request_heartbeat: args.heartbeat(),
        },
        "conversation_search_date" => Call::ConversationSearchDate {
            start_date: args.str("start_date"),
            end_date: args.str("end_date"),
            page: args.page(),
            request_heartbeat: args.heartbeat(),
        },
        "archival_memory_insert" => Call::ArchivalMemoryInsert {
            content: args.str("content"),
            request_heartbeat: args.heartbeat(),
        },
        "archival_memory_search" => Call::ArchivalMemorySearch {
            query: args.str("query"),
            page: args.page(),
            request_heartbeat: args.heartbeat(),
        },
        other => unreachable!("function table and parser disagree on {other}"),
    };
    Ok(ParsedCall {
        call,
        arguments: Value::Object(args.map),
        repairs: args.repairs,
    })
}

/// Checks names, presence and types; coerces the unambiguous cases and records them.
fn check(spec: &spec::FunctionSpec, args: &mut Args) -> Result<(), String> {
    let takes = || {
        spec.params
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unknown: Vec<String> = args
        .map
        .keys()
        .filter(|k| spec.param(k).is_none())
        .map(|k| visible(k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "{} does not take the parameter(s) {}; it takes: {}",
            spec.name,
            unknown.join(", "),
            takes()
        ));
    }
    // An explicit null for an optional parameter means "not given".
    args.map
        .retain(|k, v| !(v.is_null() && spec.param(k).is_some_and(|p| !p.required)));
    let missing: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.required && args.map.get(p.name).is_none_or(Value::is_null))
        .map(|p| p.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} is missing the required parameter(s) {}; it takes: {}",
            spec.name,
            missing.join(", "),
            takes()
        ));
    }
    for p in spec.params {
        let Some(v) = args.map.get(p.name).cloned() else {
            continue;
        };
        let fixed = match (p.ty, &v) {
            (PType::Str, Value::String(_)) | (PType::Bool, Value::Bool(_)) => None,
            (PType::Int, Value::Number(n)) if n.is_i64() => None,
            (PType::Int, Value::Number(n)) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(Value::from(f as i64)),
                _ => return Err(type_error(spec.name, p.name, p.ty, &v)),
            },
            (PType::Int, Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(i) => Some(Value::from(i)),
                Err(_) => return Err(type_error(spec.name, p.name, p.ty, &v)),
            },
            (PType::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => return Err(type_error(spec.name, p.name, p.ty, &v)),
            },
            _ => return Err(type_error(spec.name, p.name, p.ty, &v)),
        };
        if let Some(new) = fixed {
            args.repairs
                .push(format!("{} given as {} read as {}", p.name, v, new));
            args.map.insert(p.name.to_string(), new);
        }
    }
    Ok(())
}

fn type_error(func: &str, param: &str, want: PType, got: &Value) -> String {
    let got_kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!(
        "{func}: parameter {param} must be {}, not {got_kind}",
        want.json_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_call_parses() {
        let p = parse_call(
            "core_memory_append",
            r#"{"name":"human","content":"Likes tea","request_heartbeat":true}"#,
        )
        .unwrap();
        assert_eq!(
            p.call,
            Call::CoreMemoryAppend {
                name: "human".into(),
                content: "Likes tea".into(),
                request_heartbeat: true
            }
        );
        assert!(p.repairs.is_empty());
    }

    #[test]
    fn heartbeat_as_string_is_coerced_with_a_note() {
        let p = parse_call(
            "archival_memory_search",
            r#"{"query":"x","request_heartbeat":"true","page":"1"}"#,
        )
        .unwrap();
        assert!(p.call.request_heartbeat());
        assert_eq!(p.repairs.len(), 2, "{:?}", p.repairs);
    }

    #[test]
    fn errors_say_what_to_fix() {
        let e = parse_call("core_memory_append", r#"{"name":"human"}"#).unwrap_err();
        assert!(
            e.message.contains("content") && e.message.contains("request_heartbeat"),
            "{}",
            e.message
        );
        let e = parse_call("send_message", r#"{"message":"hi","mood":"happy"}"#).unwrap_err();
        assert!(e.message.contains("mood"));
        let e = parse_call("send_message", r#"{"message":42}"#).unwrap_err();
        assert!(e.message.contains("must be string"));
        let e = parse_call("send_message", r#"["hi"]"#).unwrap_err();
        assert!(e.message.contains("array"));
        let e = parse_call("launch\x1b[2J", "{}").unwrap_err();
        assert!(!e.message.contains('\x1b') && e.message.contains("no function"));
        let big = format!(r#"{{"message":"{}"}}"#, "a".repeat(MAX_ARGUMENT_BYTES));
        assert!(
            parse_call("send_message", &big)
                .unwrap_err()
                .message
                .contains("limit")
        );
    }
}
