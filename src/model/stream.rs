//! Server-sent events: assembling a streamed chat completion from its deltas.
//!
//! Contract: [`StreamState`] takes the `data:` payloads of a stream in order and builds the
//! same [`ChatReply`] a non-streamed call gives. It tolerates the dialects seen in the wild:
//! OpenAI (id and name once, arguments in pieces), llama-cpp-python (id, type and name repeated
//! in every delta, explicit nulls, a legacy `function_call` beside `tool_calls`). A stream that
//! ends without `[DONE]` or a finish reason is cut off, and is an error, never a partial reply.
//! Bytes are buffered until an event is whole, so a character split across network chunks
//! arrives intact. With a secret (the API key) set, the secret never leaves in a piece, even
//! when a server echoes it split across several deltas: a piece's tail that could begin the
//! secret is held back until the next piece shows what follows.

use serde_json::{Value, json};

use super::client::{ChatReply, Usage};
use super::error::ModelError;
use crate::memory::ToolCall;

/// What an echoed API key is replaced with.
pub const REDACTED: &str = "[redacted API key]";

/// Removes a secret from a stream of text pieces, however the pieces split it.
#[derive(Debug, Default)]
struct Redactor {
    secret: Option<String>,
    held: String,
}

impl Redactor {
    fn clean(&self, text: &str) -> String {
        match &self.secret {
            Some(k) if text.contains(k.as_str()) => text.replace(k.as_str(), REDACTED),
            _ => text.to_string(),
        }
    }

    /// Takes the next piece; returns what can be shown now.
    fn push(&mut self, piece: &str) -> String {
        let Some(k) = self.secret.as_deref() else {
            return piece.to_string();
        };
        self.held.push_str(piece);
        let cleaned = self.held.replace(k, REDACTED);
        // Hold back the longest tail that the secret starts with.
        let keep = cleaned
            .char_indices()
            .find(|(i, _)| k.starts_with(&cleaned[*i..]))
            .map(|(i, _)| cleaned.len() - i)
            .unwrap_or(0);
        let (out, rest) = cleaned.split_at(cleaned.len() - keep);
        let out = out.to_string();
        self.held = rest.to_string();
        out
    }

    /// What was held back, once the stream has ended.
    fn flush(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[derive(Debug, Default)]
pub struct StreamState {
    buffer: Vec<u8>,
    /// How much of `buffer` is known to hold no event end.
    scanned: usize,
    redactor: Redactor,
    content: String,
    calls: Vec<ToolCall>,
    legacy: Option<ToolCall>,
    finish_reason: Option<String>,
    usage: Usage,
    done: bool,
    saw_content: bool,
}

impl StreamState {
    /// A stream whose pieces and reply never hold `secret` (ignored when shorter than 4).
    pub fn with_secret(secret: Option<&str>) -> StreamState {
        StreamState {
            redactor: Redactor {
                secret: secret.filter(|k| k.len() >= 4).map(String::from),
                held: String::new(),
            },
            ..Default::default()
        }
    }

    /// Feeds raw bytes; returns the content pieces they completed (for showing as they arrive).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, ModelError> {
        self.buffer.extend_from_slice(bytes);
        let mut pieces = Vec::new();
        loop {
            // An end can straddle what was scanned and what just came.
            let from = self.scanned.saturating_sub(3);
            let rest = &self.buffer[from..];
            let end = match (find(rest, b"\n\n"), find(rest, b"\r\n\r\n")) {
                (Some(a), Some(b)) if b < a => (from + b, 4),
                (Some(a), _) => (from + a, 2),
                (None, Some(b)) => (from + b, 4),
                (None, None) => {
                    self.scanned = self.buffer.len();
                    break;
                }
            };
            self.scanned = 0;
            let raw: Vec<u8> = self.buffer.drain(..end.0 + end.1).collect();
            let event = String::from_utf8_lossy(&raw);
            for line in event.lines() {
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    self.done = true;
                    continue;
                }
                if let Some(p) = self.payload(data)? {
                    let shown = self.redactor.push(&p);
                    if !shown.is_empty() {
                        pieces.push(shown);
                    }
                }
            }
        }
        Ok(pieces)
    }

    fn payload(&mut self, data: &str) -> Result<Option<String>, ModelError> {
        let v: Value = serde_json::from_str(data).map_err(|e| {
            ModelError::InvalidResponse(format!("a streamed event is not JSON ({e})"))
        })?;
        if let Some(err) = v.get("error") {
            return Err(ModelError::InvalidResponse(format!(
                "the stream reported an error: {}",
                crate::text::visible(&crate::text::one_line(
                    &self.redactor.clean(&err.to_string()),
                    200
                ))
            )));
        }
        self.usage.read(&v);
        let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else {
            return Ok(None);
        };
        if let Some(r) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(r.to_string());
        }
        let delta = &choice["delta"];
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = tc["index"]
                .as_u64()
                .unwrap_or(self.calls.len().saturating_sub(1) as u64)
                as usize;
            if index > 64 {
                return Err(ModelError::InvalidResponse(
                    "a streamed tool call index is out of range".into(),
                ));
            }
            while self.calls.len() <= index {
                self.calls.push(ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
            }
            let call = &mut self.calls[index];
            if let Some(id) = tc["id"].as_str().filter(|s| !s.is_empty())
                && call.id.is_empty()
            {
                call.id = id.to_string();
            }
            merge_name(&mut call.name, tc["function"]["name"].as_str());
            if let Some(a) = tc["function"]["arguments"].as_str() {
                call.arguments.push_str(a);
            }
        }
        if let Some(fc) = delta.get("function_call").filter(|f| f.is_object()) {
            let legacy = self.legacy.get_or_insert(ToolCall {
                id: "call_0".into(),
                name: String::new(),
                arguments: String::new(),
            });
            merge_name(&mut legacy.name, fc["name"].as_str());
            if let Some(a) = fc["arguments"].as_str() {
                legacy.arguments.push_str(a);
            }
        }
        match delta["content"].as_str().filter(|c| !c.is_empty()) {
            Some(c) => {
                self.saw_content = true;
                self.content.push_str(c);
                Ok(Some(c.to_string()))
            }
            None => Ok(None),
        }
    }

    /// The connection has closed: the pieces still held back (an event without its blank line,
    /// a tail that only looked like the start of the secret).
    pub fn end(&mut self) -> Result<Vec<String>, ModelError> {
        let mut pieces = Vec::new();
        if !self.buffer.trim_ascii().is_empty() {
            let mut rest = std::mem::take(&mut self.buffer);
            rest.extend_from_slice(b"\n\n");
            self.scanned = 0;
            pieces = self.feed(&rest)?;
        }
        let tail = self.redactor.flush();
        if !tail.is_empty() {
            pieces.push(tail);
        }
        Ok(pieces)
    }

    /// The assembled reply, or an error if the stream was cut off.
    pub fn finish(mut self) -> Result<ChatReply, ModelError> {
        self.end()?;
        if !self.done && self.finish_reason.is_none() {
            return Err(ModelError::InvalidResponse(
                "the stream was cut off before it finished".into(),
            ));
        }
        // llama-cpp-python sends the same call as `tool_calls` and as a legacy `function_call`.
        let mut calls: Vec<ToolCall> = self
            .calls
            .into_iter()
            .filter(|c| !c.name.is_empty())
            .collect();
        if calls.is_empty()
            && let Some(l) = self.legacy.filter(|l| !l.name.is_empty())
        {
            calls.push(l);
        }
        for (i, c) in calls.iter_mut().enumerate() {
            if c.id.is_empty() {
                c.id = format!("call_{i}");
            }
            c.id = self.redactor.clean(&c.id);
            c.name = self.redactor.clean(&c.name);
            c.arguments = self.redactor.clean(&c.arguments);
        }
        let content = self.saw_content.then(|| self.redactor.clean(&self.content));
        let finish_reason = self.finish_reason.map(|r| self.redactor.clean(&r));
        let raw = json!({
            "object": "chat.completion",
            "streamed": true,
            "choices": [{
                "index": 0,
                "finish_reason": finish_reason,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "tool_calls": calls.iter().map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})).collect::<Vec<_>>(),
                },
            }],
        });
        Ok(ChatReply {
            content,
            thought: None,
            notes: Vec::new(),
            tool_calls: calls,
            usage: self.usage,
            finish_reason,
            raw,
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Names come whole and repeated (llama-cpp-python) or once (OpenAI); some servers split them.
fn merge_name(name: &mut String, piece: Option<&str>) {
    let Some(p) = piece.filter(|p| !p.is_empty()) else {
        return;
    };
    if name.is_empty() || p.starts_with(name.as_str()) {
        *name = p.to_string();
    } else if !name.ends_with(p) && *name != p {
        name.push_str(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(events: &[Value]) -> String {
        events
            .iter()
            .map(|e| format!("data: {e}\n\n"))
            .collect::<String>()
            + "data: [DONE]\n\n"
    }

    #[test]
    fn openai_style_deltas_assemble() {
        let s = sse(&[
            json!({"choices":[{"delta":{"role":"assistant","content":"Let me "}}]}),
            json!({"choices":[{"delta":{"content":"think."}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"send_message","arguments":""}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"message\":"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"hi\"}"}}]},"finish_reason":"tool_calls"}]}),
        ]);
        let mut st = StreamState::default();
        // Feed in awkward pieces.
        let mut pieces = Vec::new();
        for chunk in s.as_bytes().chunks(7) {
            pieces.extend(st.feed(chunk).unwrap());
        }
        assert_eq!(pieces.concat(), "Let me think.");
        let r = st.finish().unwrap();
        assert_eq!(
            r.tool_calls,
            vec![ToolCall {
                id: "c1".into(),
                name: "send_message".into(),
                arguments: "{\"message\":\"hi\"}".into()
            }]
        );
    }

    #[test]
    fn llama_cpp_python_style_deltas_assemble() {
        let s = sse(&[
            json!({"choices":[{"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"core_memory_append","arguments":"{\"name\""}}],"function_call":{"name":"core_memory_append","arguments":"{\"name\""}},"finish_reason":null}]}),
            json!({"choices":[{"delta":{"role":null,"content":null,"tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"core_memory_append","arguments":": \"human\"}"}}],"function_call":{"name":"core_memory_append","arguments":": \"human\"}"}},"finish_reason":null}]}),
            json!({"choices":[{"delta":{},"finish_reason":"tool_calls"}]}),
        ]);
        let mut st = StreamState::default();
        st.feed(s.as_bytes()).unwrap();
        let r = st.finish().unwrap();
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].name, "core_memory_append");
        assert_eq!(r.tool_calls[0].arguments, "{\"name\": \"human\"}");
        assert_eq!(r.content, None);
    }

    #[test]
    fn a_character_split_across_chunks_arrives_whole() {
        let s = sse(&[
            json!({"choices":[{"delta":{"content":"Grüße aus Lisboa — ☕"}}]}),
            json!({"choices":[{"delta":{},"finish_reason":"stop"}]}),
        ]);
        let mut st = StreamState::default();
        let mut pieces = Vec::new();
        for chunk in s.as_bytes().chunks(3) {
            pieces.extend(st.feed(chunk).unwrap());
        }
        pieces.extend(st.end().unwrap());
        assert_eq!(pieces.concat(), "Grüße aus Lisboa — ☕");
        assert_eq!(
            st.finish().unwrap().content.as_deref(),
            Some("Grüße aus Lisboa — ☕")
        );
    }

    #[test]
    fn a_secret_split_across_deltas_never_leaves_in_a_piece() {
        let key = "sk-test-0123456789";
        let s = sse(&[
            json!({"choices":[{"delta":{"content":"your key is sk-te"}}]}),
            json!({"choices":[{"delta":{"content":"st-01234"}}]}),
            json!({"choices":[{"delta":{"content":"56789, keep it s"}}]}),
            json!({"choices":[{"delta":{"content":"afe"}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"send_message","arguments":"{\"message\": \"sk-test-"}}]}}]}),
            json!({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"0123456789\"}"}}]},"finish_reason":"tool_calls"}]}),
        ]);
        let mut st = StreamState::with_secret(Some(key));
        let mut pieces = Vec::new();
        for chunk in s.as_bytes().chunks(5) {
            pieces.extend(st.feed(chunk).unwrap());
        }
        pieces.extend(st.end().unwrap());
        let shown = pieces.concat();
        assert_eq!(shown, format!("your key is {REDACTED}, keep it safe"));
        for p in &pieces {
            assert!(!p.contains("0123456789"), "{p}");
        }
        let r = st.finish().unwrap();
        assert_eq!(r.content, Some(shown));
        assert!(!r.tool_calls[0].arguments.contains(key));
        assert!(!r.raw.to_string().contains(key));
    }

    #[test]
    fn a_cut_off_stream_is_an_error() {
        let mut st = StreamState::default();
        st.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"half a tho\"}}]}\n\n")
            .unwrap();
        assert!(
            matches!(st.finish(), Err(ModelError::InvalidResponse(m)) if m.contains("cut off"))
        );
    }
}
