//! Request bodies for the chat-completions endpoint: a step (the main context with its tools)
//! and a flush's summary call.
//!
//! Contract: the one place that shapes what goes on the wire. A step request borrows the
//! agent's messages instead of copying them; serializing the same parts always gives the same
//! bytes (a stored trace replays exactly).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Value, json};

use crate::memory::{Message, Role, ToolChoice, ToolMode};

/// The body of a flush's summary call: the summariser's instructions and the prompt, no tools.
pub fn summary_request(model: &str, system: &str, prompt: &str, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
        ],
        "max_tokens": max_tokens,
    })
}

/// A chat-completions request that borrows the agent's messages instead of copying them.
#[derive(Serialize)]
pub struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a Value>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

/// Asks a stream to end with a chunk that carries `usage` (OpenAI, vLLM, llama.cpp).
#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

pub struct ChatParts<'a> {
    pub stream: bool,
    pub stream_usage: bool,
    pub model: &'a str,
    pub max_tokens: u32,
    pub system: &'a str,
    pub summary: Option<&'a str>,
    pub queue: &'a [Message],
    pub tools: &'a Value,
    pub mode: ToolMode,
    pub choice: ToolChoice,
    pub response_format: Option<&'a Value>,
}

impl<'a> ChatRequest<'a> {
    pub fn new(p: ChatParts<'a>) -> Self {
        let mut messages = Vec::with_capacity(p.queue.len() + 2);
        messages.push(WireMessage::Plain {
            role: "system",
            content: Cow::Borrowed(p.system),
        });
        if let Some(s) = p.summary {
            messages.push(WireMessage::Plain {
                role: "user",
                content: Cow::Borrowed(s),
            });
        }
        messages.extend(p.queue.iter().map(|m| WireMessage::of(m, p.mode)));
        let native = p.mode == ToolMode::Native;
        ChatRequest {
            model: p.model,
            messages,
            tools: native.then_some(p.tools),
            tool_choice: native.then_some(p.choice.as_str()),
            response_format: p.response_format,
            max_tokens: p.max_tokens,
            stream: p.stream,
            stream_options: (p.stream && p.stream_usage).then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum WireMessage<'a> {
    Calls {
        role: &'static str,
        /// Some servers reject `null` beside tool_calls, so this is always a string.
        content: &'a str,
        tool_calls: Vec<WireCall<'a>>,
    },
    Tool {
        role: &'static str,
        tool_call_id: &'a str,
        content: &'a str,
    },
    Plain {
        role: &'static str,
        content: Cow<'a, str>,
    },
}

#[derive(Serialize)]
struct WireCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

impl<'a> WireMessage<'a> {
    fn of(m: &'a Message, mode: ToolMode) -> Self {
        match (m.role, mode) {
            (Role::Assistant, ToolMode::Native) if !m.tool_calls.is_empty() => WireMessage::Calls {
                role: "assistant",
                content: &m.content,
                tool_calls: m
                    .tool_calls
                    .iter()
                    .map(|c| WireCall {
                        id: &c.id,
                        kind: "function",
                        function: WireFunction {
                            name: &c.name,
                            arguments: &c.arguments,
                        },
                    })
                    .collect(),
            },
            (Role::Tool, ToolMode::Native) => WireMessage::Tool {
                role: "tool",
                tool_call_id: m.tool_call_id.as_deref().unwrap_or_default(),
                content: &m.content,
            },
            // JSON mode: the reply goes back as the JSON the model wrote; results come back as
            // user-role events, since the server knows nothing of tools.
            (Role::Tool, ToolMode::Json) => WireMessage::Plain {
                role: "user",
                content: Cow::Owned(crate::functions::json_mode::result_event(m)),
            },
            (role, _) => WireMessage::Plain {
                role: role.as_str(),
                content: Cow::Borrowed(&m.content),
            },
        }
    }
}
