//! A user message as it enters memory: one that fits goes in as it is; one too long for the
//! context is kept whole and the model gets what fits.
//!
//! Contract: [`Agent::user_message`] makes the queue message (nothing is committed here). A
//! message longer than half the room the fixed part leaves is kept whole in recall (the
//! message's searchable text) and in archival memory (chunked passages, as MemGPT's design
//! offers for exactly this); the model reads its start and a note that says where the rest
//! is. The caller commits the message and passages together and tells the user.

use super::agent::Agent;
use super::exec::Effects;
use crate::memory::{Message, MessageKind, Passage};

/// A user message ready to commit.
pub struct UserInput {
    pub message: Message,
    /// The whole text as archival passages, when it was too long.
    pub passages: Vec<Passage>,
    /// What to tell the user when it was too long.
    pub warning: Option<String>,
}

impl Agent {
    /// The room the fixed part leaves before a flush, in tokens as the server would count
    /// them: what no single message can pass and still be sent.
    pub fn message_room(&self) -> u32 {
        let b = self.budget();
        let fixed = self.effective(self.fixed_part(&b));
        self.settings.flush_at().saturating_sub(fixed).max(64)
    }

    /// The most tokens a user message may take in the queue: half the room, so that the
    /// conversation can go on around it.
    pub fn user_message_limit(&self) -> u32 {
        (self.message_room() / 2).max(64)
    }

    pub fn user_message(&mut self, text: &str) -> UserInput {
        let limit = self.user_message_limit();
        // Counting megabytes takes seconds: far past the limit, an estimate says enough.
        let tokens = if text.len() > 64 * limit as usize {
            self.effective((text.len() / 4) as u32)
        } else {
            self.effective(self.counter.count(text))
        };
        if tokens <= limit {
            return UserInput {
                message: self.event_message(MessageKind::UserMessage, text),
                passages: Vec::new(),
                warning: None,
            };
        }
        let mut fx = Effects::default();
        let saved = self.archival_insert(text, "user", None, &mut fx);
        let (first, last) = match (fx.passages.first(), fx.passages.last()) {
            (Some(a), Some(b)) => (a.id, b.id),
            _ => (0, 0),
        };
        let where_ = if saved.ok {
            format!("archival memory as passages #{first}–#{last} (archival_memory_search) and")
        } else {
            String::new()
        };
        let note = |shown: u32| {
            format!(
                "\n[This message was too long for your context: it holds about {tokens} tokens, \
                 of which about the first {shown} are shown. The whole text is in {where_} \
                 recall memory (conversation_search).]"
            )
        };
        // The start that fits with the note, cut at a character boundary.
        let room = limit.saturating_sub(self.counter.count(&note(limit)));
        let mut keep = text.chars().count().min((room as usize).saturating_mul(4));
        let head = loop {
            let head: String = text.chars().take(keep).collect();
            if self.effective(self.counter.count(&head)) <= room || keep == 0 {
                break head;
            }
            keep = keep * 3 / 4;
        };
        let shown = self.counter.count(&head);
        let content =
            super::prompt::event_json(MessageKind::UserMessage, &format!("{head}{}", note(shown)));
        let mut message = self.make_message(
            crate::memory::Role::User,
            MessageKind::UserMessage,
            content,
            text.to_string(),
            true,
        );
        self.count_message(&mut message);
        let kept = if saved.ok {
            format!("in archival memory as passages #{first}–#{last} and in recall")
        } else {
            "in recall".to_string()
        };
        UserInput {
            message,
            passages: fx.passages,
            warning: Some(format!(
                "your message holds about {tokens} tokens, more than fits the context (room for \
                 {limit}); the model reads its first {shown} tokens and a note, and the whole text \
                 is kept {kept}"
            )),
        }
    }
}
