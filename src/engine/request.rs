//! The step request of an agent: the record a trace keeps, the body sent, and the body rebuilt
//! from a stored trace.
//!
//! Contract: [`Agent::request_record`] describes the next step's request; [`Agent::encode_request`]
//! serializes it through `model::request` (the one place that shapes bodies);
//! [`request_bytes`] rebuilds a stored trace's body byte for byte, reading its messages (and
//! any texts it names) back from the store (no agent needed: faces call it on the store).

use serde_json::Value;

use super::agent::Agent;
use crate::memory::{Message, RequestRecord, ToolMode};
use crate::model::request::ChatRequest;
use crate::store::{Store, StoreError};

impl Agent {
    /// What the next step's request will hold; see [`Agent::encode_request`].
    pub fn request_record(&self) -> RequestRecord {
        let policy = self.state.policy;
        RequestRecord::Step {
            model: self.settings.model.clone(),
            max_tokens: self.reply_room(),
            system: self.system_prompt(),
            system_id: None,
            summary: self.summary_event(),
            summary_id: None,
            message_ids: self.state.fifo.clone(),
            tool_mode: policy.tool_mode,
            tool_choice: policy.tool_choice,
            stream: false,
            stream_usage: false,
            response_format: (policy.tool_mode == ToolMode::Json)
                .then(|| crate::functions::json_mode::response_format(self.settings.json_format)),
        }
    }

    /// `max_tokens` for the next step: the setting, within the room the prompt leaves in the
    /// window (by the count pressure decisions use), so a reply can never push the context
    /// past it. At least 1: a prompt with no room left is not sent at all (`memory_full`).
    pub fn reply_room(&self) -> u32 {
        let used = self.effective(self.budget().total);
        self.settings
            .max_tokens
            .min(self.settings.context_window.saturating_sub(used))
            .max(1)
    }

    /// The chat-completions body for a step record whose messages are the current queue.
    pub fn encode_request(&self, record: &RequestRecord) -> Vec<u8> {
        match (chat_request(record, self.fifo(), &self.tools), record) {
            (Some(req), _) => serde_json::to_vec(&req).expect("requests always serialize"),
            (None, RequestRecord::Raw { body }) => serde_json::to_vec(body).expect("json"),
            (None, _) => unreachable!("step records always make a request"),
        }
    }

    /// Rebuilds the exact request of a stored trace (messages are read back from recall).
    pub fn replay_request(&self, record: &RequestRecord) -> Result<Value, StoreError> {
        let bytes = request_bytes(&self.store, self.name(), record)?;
        Ok(serde_json::from_slice(&bytes).expect("requests are JSON"))
    }
}

fn chat_request<'a>(
    record: &'a RequestRecord,
    queue: &'a [Message],
    tools: &'a Value,
) -> Option<ChatRequest<'a>> {
    use crate::model::request::ChatParts;
    match record {
        RequestRecord::Step {
            model,
            max_tokens,
            system,
            summary,
            tool_mode,
            tool_choice,
            response_format,
            stream,
            stream_usage,
            ..
        } => Some(ChatRequest::new(ChatParts {
            stream: *stream,
            stream_usage: *stream_usage,
            model,
            max_tokens: *max_tokens,
            system,
            summary: summary.as_deref(),
            queue,
            tools,
            mode: *tool_mode,
            choice: *tool_choice,
            response_format: response_format.as_ref(),
        })),
        RequestRecord::Raw { .. } => None,
    }
}

/// The body of a stored trace's request as it was sent: a step's byte for byte (its messages
/// read back from recall, the texts it names from the store); a summary call's as the JSON it
/// was.
pub fn request_bytes(
    store: &Store,
    agent: &str,
    record: &RequestRecord,
) -> Result<Vec<u8>, StoreError> {
    match record {
        RequestRecord::Step { message_ids, .. } => {
            let full = record.resolved(|id| store.text(agent, id))?;
            let messages = store.recall_get(agent, message_ids)?;
            let tools = crate::functions::tools_json();
            let req = chat_request(&full, &messages, &tools).expect("a step record");
            Ok(serde_json::to_vec(&req).expect("requests always serialize"))
        }
        RequestRecord::Raw { body } => Ok(serde_json::to_vec(body).expect("json")),
    }
}
