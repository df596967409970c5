//! Writing the journal: the events a face shows, kept in the store so that history and
//! `watch` replay them.
//!
//! Contract: events that belong to a commit (a step's, a user message, a flush, a manual
//! change) are staged with [`Agent::stage`] and written by that commit, in the same
//! transaction; others go in on their own with [`Agent::journal`]. Read-only agents write
//! nothing. Sequence numbers only grow.

use std::sync::atomic::Ordering;

use chrono::Utc;

use super::agent::Agent;
use crate::protocol::{Event, EventKind};
use crate::store::StoreError;

impl Agent {
    /// The event as it is sent and journaled: stamped with the step and the time.
    pub fn event(&self, kind: EventKind) -> Event {
        Event {
            step: self.state.step,
            time: Utc::now(),
            kind,
        }
    }

    /// Keeps `kind` for the journal of the next commit (if it is journaled at all).
    pub fn stage(&mut self, kind: &EventKind) {
        if kind.journaled() {
            let ev = self.event(kind.clone());
            self.staged.push(ev);
        }
    }

    /// The staged entries with their sequence numbers, for a commit.
    pub(super) fn take_staged(&mut self) -> Vec<(u64, Event)> {
        std::mem::take(&mut self.staged)
            .into_iter()
            .map(|e| (self.journal_seq.fetch_add(1, Ordering::SeqCst), e))
            .collect()
    }

    /// Writes one event to the journal on its own (when it is journaled and this agent writes).
    pub fn journal(&self, ev: &Event) -> Result<(), StoreError> {
        if !ev.kind.journaled() || !self.store.is_writer() {
            return Ok(());
        }
        let seq = self.journal_seq.fetch_add(1, Ordering::SeqCst);
        self.store.journal_append(self.name(), &[(seq, ev.clone())])
    }

    /// The sequence number the next journal entry gets: entries below it are history.
    pub fn journal_next(&self) -> u64 {
        self.journal_seq.load(Ordering::SeqCst)
    }
}

/// How many of the newest user messages were saved while no model was configured and never
/// answered (`events` oldest first): each one followed by a `no_model` error, with no model call
/// after them. A message a crash left unanswered is not counted: only the user decides to send
/// it again.
pub fn waiting_for_a_model(events: &[EventKind]) -> u32 {
    let mut waiting = 0;
    let mut told_no_model = false;
    for e in events.iter().rev() {
        match e {
            EventKind::Error {
                kind: crate::protocol::ErrorKind::NoModel,
                ..
            } => told_no_model = true,
            EventKind::UserMessage { .. } if told_no_model => {
                waiting += 1;
                told_no_model = false;
            }
            EventKind::UserMessage { .. }
            | EventKind::ModelCall { .. }
            | EventKind::AssistantMessage { .. }
            | EventKind::Thought { .. }
            | EventKind::FunctionCall { .. } => break,
            _ => {}
        }
    }
    waiting
}

impl Agent {
    /// Messages saved while no model was configured that no model has answered yet, read from
    /// the newest journal entries (0 when they cannot be read).
    pub fn unanswered_messages(&self) -> u32 {
        let tail = self
            .store
            .journal_tail(self.name(), self.journal_next(), 256)
            .unwrap_or_default();
        let events: Vec<EventKind> = tail.into_iter().map(|(_, e)| e.kind).collect();
        waiting_for_a_model(&events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorKind, Trigger};

    fn user(text: &str) -> EventKind {
        EventKind::UserMessage {
            id: 1,
            text: text.into(),
        }
    }

    fn no_model() -> EventKind {
        EventKind::Error {
            kind: ErrorKind::NoModel,
            message: "no model".into(),
        }
    }

    #[test]
    fn messages_saved_with_no_model_wait_and_a_crash_does_not_count() {
        let answered = EventKind::ModelCall {
            trigger: Trigger::UserMessage,
        };
        let ended = EventKind::ChainEnded { steps: 0 };
        let two = [
            user("a"),
            answered.clone(),
            user("b"),
            no_model(),
            ended.clone(),
            user("c"),
            no_model(),
            ended.clone(),
        ];
        assert_eq!(waiting_for_a_model(&two), 2);
        // Answered since: nothing waits.
        let mut done = two.to_vec();
        done.push(answered.clone());
        assert_eq!(waiting_for_a_model(&done), 0);
        // The newest message was cut short by a crash, not refused for want of a model.
        let crashed = [user("b"), no_model(), ended, user("c")];
        assert_eq!(waiting_for_a_model(&crashed), 0);
        assert_eq!(waiting_for_a_model(&[]), 0);
    }
}
