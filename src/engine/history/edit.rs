//! Rethink and rewrite (MemGPT's `/rethink` and `/rewrite`): the agent's last reply changed in
//! place.
//!
//! Contract: each puts a changed copy of one reply in its place in the queue, in one commit
//! that also journals a `message_edited` event holding the text it replaced. The copy is a new
//! message in recall; the reply it replaces stays there as it was (out of `conversation_search`),
//! because the traces of the calls that read it name it by id and must rebuild their requests
//! exactly. Only the part named changes, in the form the model reads (the content in native
//! mode, the JSON object the model wrote in JSON mode). Refused, with nothing written, when
//! there is no such reply in the queue.

use serde_json::Value;

use super::HistoryError;
use crate::engine::agent::Agent;
use crate::memory::{Message, MessageKind, ToolMode};
use crate::protocol::EventKind;
use crate::store::Commit;

impl Agent {
    /// Replaces the inner thought of the agent's last reply.
    pub fn rethink(&mut self, thought: &str) -> Result<EventKind, HistoryError> {
        let Some(mut m) = self.last_reply(|_| true) else {
            return Err(HistoryError::Refused(
                "there is no reply of the agent in the context to rethink".into(),
            ));
        };
        let original = m.clone();
        let before = match self.state.policy.tool_mode {
            ToolMode::Native => std::mem::replace(&mut m.content, thought.to_string()),
            ToolMode::Json => {
                let old = serde_json::from_str::<Value>(&m.content)
                    .ok()
                    .and_then(|v| v["inner_thoughts"].as_str().map(str::to_string))
                    .unwrap_or_default();
                m.content = with_field(&m.content, &["inner_thoughts"], thought)?;
                old
            }
        };
        // The readable text is the thought, then what was said.
        m.text = match m.text.strip_prefix(before.trim()) {
            Some(rest) if !before.trim().is_empty() => format!("{}{rest}", thought.trim()),
            _ => thought.trim().to_string(),
        };
        self.write_edit(original, m, "thought", before, thought)
    }

    /// Replaces what the agent last said with send_message.
    pub fn rewrite(&mut self, said: &str) -> Result<EventKind, HistoryError> {
        let Some(mut m) = self.last_reply(|m| {
            m.tool_calls
                .first()
                .is_some_and(|c| c.name == "send_message")
        }) else {
            return Err(HistoryError::Refused(
                "the agent has said nothing with send_message in the context to rewrite".into(),
            ));
        };
        let original = m.clone();
        let call = &mut m.tool_calls[0];
        let before = serde_json::from_str::<Value>(&call.arguments)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| call.arguments.clone());
        call.arguments = with_field(&call.arguments, &["message"], said)?;
        if self.state.policy.tool_mode == ToolMode::Json {
            m.content = with_field(&m.content, &["params", "message"], said)?;
        }
        if let Some(at) = m.text.rfind(before.as_str()).filter(|_| !before.is_empty()) {
            m.text.replace_range(at..at + before.len(), said);
        }
        self.write_edit(original, m, "message", before, said)
    }

    /// The newest assistant reply in the queue that `keep` accepts.
    fn last_reply(&self, keep: impl Fn(&Message) -> bool) -> Option<Message> {
        self.fifo()
            .iter()
            .rev()
            .find(|m| m.kind == MessageKind::Assistant && keep(m))
            .cloned()
    }

    fn write_edit(
        &mut self,
        original: Message,
        mut m: Message,
        part: &str,
        before: String,
        after: &str,
    ) -> Result<EventKind, HistoryError> {
        m.id = self.state.next_message_id;
        self.state.next_message_id += 1;
        self.state.recall_count += 1;
        self.count_message(&mut m);
        for id in self.state.fifo.iter_mut().filter(|id| **id == original.id) {
            *id = m.id;
        }
        let replaced = original.id;
        let superseded = Message {
            searchable: false,
            ..original
        };
        let shown = EventKind::MessageEdited {
            id: m.id,
            replaced,
            part: part.into(),
            before,
            after: after.to_string(),
        };
        self.stage(&shown);
        self.state.commits += 1;
        let journal = self.take_staged();
        let name = self.name().to_string();
        self.store.commit(
            &name,
            &Commit {
                state: Some(&self.state),
                messages: &[superseded, m.clone()],
                journal: &journal,
                ..Default::default()
            },
        )?;
        self.replace_queued(replaced, m);
        Ok(shown)
    }
}

/// `json` (an object) with the string at `path` set to `value`.
fn with_field(json: &str, path: &[&str], value: &str) -> Result<String, HistoryError> {
    let mut v: Value = serde_json::from_str(json).map_err(|_| {
        HistoryError::Refused("the reply is not the JSON object it should be; left as it is".into())
    })?;
    let mut at = &mut v;
    for (i, key) in path.iter().enumerate() {
        let Value::Object(map) = at else {
            return Err(HistoryError::Refused(format!(
                "the reply has no '{}' to change; left as it is",
                path[..=i].join(".")
            )));
        };
        at = map.entry(key.to_string()).or_insert(Value::Null);
    }
    *at = Value::String(value.to_string());
    Ok(v.to_string())
}
