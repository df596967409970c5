//! Messages as recall stores them and as the main context sends them.
//!
//! A [`Message`] keeps the exact wire content sent to the model (`content`, `tool_calls`,
//! `tool_call_id`) beside a human-readable `text` used for display and search. `searchable`
//! marks what `conversation_search` may match: what the user wrote, the agent's inner thoughts and
//! what it said with `send_message`, never the JSON envelopes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// What a message is, beyond its wire role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    UserMessage,
    Heartbeat,
    SystemAlert,
    Login,
    /// A model reply: inner thoughts and/or tool calls.
    Assistant,
    ToolResult,
    /// A recursive summary written when messages were evicted (recall only, not in the queue).
    Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments exactly as the model sent them.
    pub arguments: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub role: Role,
    pub kind: MessageKind,
    /// Exact content sent to the model.
    pub content: String,
    /// Readable text for display and search.
    pub text: String,
    pub searchable: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Function name, for tool results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Cached token count of this message as sent (content plus tool calls).
    pub tokens: u32,
    /// The agent step this message belongs to.
    pub step: u64,
}

impl Message {
    /// An assistant message's inner thought alone: its `text` also carries what it sent with
    /// `send_message` (so that recall searches find it), which this leaves out.
    pub fn thought(&self) -> &str {
        let mut t = self.text.as_str();
        for c in self.tool_calls.iter().filter(|c| c.name == "send_message") {
            let said = serde_json::from_str::<serde_json::Value>(&c.arguments)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_string));
            if let Some(said) = said.filter(|s| !s.is_empty()) {
                t = t.strip_suffix(said.as_str()).unwrap_or(t).trim_end();
            }
        }
        t
    }

    /// The text the token counter sees for this message with native tool calls: the content
    /// and every field the request carries for it (call ids, names, arguments; the id a
    /// result answers).
    pub fn token_text(&self) -> String {
        let mut s = self.content.clone();
        for c in &self.tool_calls {
            s.push_str(&c.id);
            s.push_str("function");
            s.push_str(&c.name);
            s.push_str(&c.arguments);
        }
        if let Some(id) = &self.tool_call_id {
            s.push_str(id);
        }
        s
    }

    /// Id of the tool call this message answers, or the ids of the calls it makes.
    pub fn is_tool_call(&self) -> bool {
        self.role == Role::Assistant && !self.tool_calls.is_empty()
    }
}
