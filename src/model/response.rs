//! Reading what a server answered: a chat completion (tool calls, content, usage), embeddings,
//! and an error status with its body classified into a [`ModelError`].
//!
//! Contract: pure functions of the response; model output never panics them. Arguments that
//! arrive as a JSON object instead of a string are kept as its text.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::error::{ModelError, is_context_overflow};
use crate::memory::ToolCall;
use crate::text;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// Prompt tokens the server took from its cache instead of evaluating them, where it says:
    /// OpenAI and vLLM `usage.prompt_tokens_details.cached_tokens`, llama.cpp's server
    /// `timings.cache_n`.
    pub cached_tokens: Option<u32>,
}

impl Usage {
    /// Reads what a response (or a stream's chunk) reports, keeping what an earlier chunk said
    /// where this one is silent.
    pub fn read(&mut self, v: &Value) {
        let n = |x: &Value| x.as_u64().map(|n| n.min(u32::MAX as u64) as u32);
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = n(&u["prompt_tokens"]).or(self.prompt_tokens);
            self.completion_tokens = n(&u["completion_tokens"]).or(self.completion_tokens);
            self.cached_tokens =
                n(&u["prompt_tokens_details"]["cached_tokens"]).or(self.cached_tokens);
        }
        if let Some(c) = v.get("timings").and_then(|t| n(&t["cache_n"])) {
            self.cached_tokens = Some(c);
        }
    }
}

/// What the model answered.
#[derive(Debug, Clone)]
pub struct ChatReply {
    pub content: Option<String>,
    /// The inner thoughts, when they are not the whole content (JSON mode).
    pub thought: Option<String>,
    /// How the reply was read, when that took more than reading `tool_calls` (a call found in
    /// the text, a JSON-mode reply...). Shown with the call's repairs.
    pub notes: Vec<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// The response body as received.
    pub raw: Value,
}

pub(super) fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: String,
) -> ModelError {
    let short = text::visible(&text::one_line(&body, 300));
    let code = status.as_u16();
    if (code == 400 || code == 413 || code >= 500) && is_context_overflow(&body) {
        return ModelError::ContextOverflow(short);
    }
    match code {
        429 => ModelError::RateLimited {
            retry_after,
            body: short,
        },
        401 | 403 => ModelError::Auth {
            status: code,
            body: short,
        },
        500..=599 => ModelError::Server {
            status: code,
            body: short,
        },
        _ => ModelError::BadRequest {
            status: code,
            body: short,
        },
    }
}

/// Reads a chat-completions response body.
pub fn parse_chat(raw: Value) -> Result<ChatReply, ModelError> {
    let choice = raw["choices"]
        .as_array()
        .and_then(|c| c.first())
        .ok_or_else(|| ModelError::InvalidResponse("the reply has no choices".into()))?;
    let msg = &choice["message"];
    if !msg.is_object() {
        return Err(ModelError::InvalidResponse(
            "the first choice has no message".into(),
        ));
    }
    let content = msg["content"].as_str().map(String::from);
    let mut tool_calls = Vec::new();
    if let Some(calls) = msg["tool_calls"].as_array() {
        for (i, c) in calls.iter().enumerate() {
            let f = &c["function"];
            tool_calls.push(ToolCall {
                id: c["id"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .unwrap_or_else(|| format!("call_{i}")),
                name: f["name"].as_str().unwrap_or_default().to_string(),
                arguments: arguments_text(&f["arguments"]),
            });
        }
    } else if msg["function_call"].is_object() {
        let f = &msg["function_call"];
        tool_calls.push(ToolCall {
            id: "call_0".into(),
            name: f["name"].as_str().unwrap_or_default().to_string(),
            arguments: arguments_text(&f["arguments"]),
        });
    }
    let mut usage = Usage::default();
    usage.read(&raw);
    let finish_reason = choice["finish_reason"].as_str().map(String::from);
    Ok(ChatReply {
        content,
        thought: None,
        notes: Vec::new(),
        tool_calls,
        usage,
        finish_reason,
        raw,
    })
}

/// Arguments are a JSON string in the spec; some servers send an object instead.
fn arguments_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) fn parse_embeddings(raw: Value, n: usize) -> Result<Vec<Vec<f32>>, ModelError> {
    let data = raw["data"]
        .as_array()
        .ok_or_else(|| ModelError::InvalidResponse("embeddings reply has no data".into()))?;
    let mut out: Vec<(usize, Vec<f32>)> = Vec::with_capacity(data.len());
    for (i, d) in data.iter().enumerate() {
        let idx = d["index"].as_u64().map(|v| v as usize).unwrap_or(i);
        let emb = d["embedding"]
            .as_array()
            .ok_or_else(|| ModelError::InvalidResponse("an embedding is not a list".into()))?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| ModelError::InvalidResponse("an embedding holds a non-number".into()))?;
        out.push((idx, emb));
    }
    if out.len() != n {
        return Err(ModelError::InvalidResponse(format!(
            "asked for {n} embeddings, got {}",
            out.len()
        )));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[test]
    fn overflow_bodies_are_recognised() {
        let e = classify(
            StatusCode::BAD_REQUEST,
            None,
            r#"{"error":{"code":"context_length_exceeded"}}"#.into(),
        );
        assert_eq!(e.kind().as_str(), "context_overflow");
        let e = classify(StatusCode::BAD_REQUEST, None, "bad field".into());
        assert_eq!(e.kind().as_str(), "bad_request");
    }

    #[test]
    fn parses_tool_calls_with_object_arguments() {
        let raw = json!({"choices":[{"message":{"content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"send_message","arguments":{"message":"hi"}}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":12}});
        let r = parse_chat(raw).unwrap();
        assert_eq!(r.tool_calls[0].arguments, r#"{"message":"hi"}"#);
        assert_eq!(r.usage.prompt_tokens, Some(12));
        assert_eq!(r.usage.cached_tokens, None);
        assert!(parse_chat(json!({"choices":[]})).is_err());
    }

    #[test]
    fn reads_the_cached_prompt_tokens_each_server_reports() {
        let openai =
            json!({"usage":{"prompt_tokens":900,"prompt_tokens_details":{"cached_tokens":768}}});
        let llama = json!({"usage":{"prompt_tokens":900},"timings":{"cache_n":850,"prompt_n":50}});
        for (raw, want) in [(openai, 768), (llama, 850)] {
            let mut u = Usage::default();
            u.read(&raw);
            assert_eq!((u.prompt_tokens, u.cached_tokens), (Some(900), Some(want)));
        }
        // A later chunk without usage keeps what an earlier one said.
        let mut u = Usage::default();
        u.read(&json!({"usage":{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":2}}}));
        u.read(&json!({"choices":[]}));
        assert_eq!(u.cached_tokens, Some(2));
    }
}
