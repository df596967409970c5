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
