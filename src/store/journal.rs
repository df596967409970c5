//! The journal: every event a face showed for an agent (its transcript, function log, errors,
//! warnings and run state), in order, keyed `(agent, seq)`.
//!
//! Contract: the engine writes a step's entries in the step's own commit, and the others (a
//! model call starting, an error, a chain ending) as they happen. Readers replay them: the TUI's
//! history after a restart and `memscope watch` see exactly the events a live face saw. Stores
//! made before the journal simply have none (faces then rebuild from recall).

use super::backend::{Span, Tbl};
use super::{Commit, Result, Store, decode};
use crate::protocol::Event;

impl Store {
    /// Journal entries in `span`, oldest first.
    fn journal_in(&self, agent: &str, span: Span, n: usize) -> Result<Vec<(u64, Event)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let mut out = Vec::new();
            for row in tx.rows(Tbl::Journal, agent, span)?.take(n) {
                let (seq, v) = row?;
                out.push((seq, decode(&v)?));
            }
            if span.newest_first {
                out.reverse();
            }
            Ok(out)
        })())
    }

    /// Journal entries with `after < seq < before`, oldest first.
    pub fn journal(&self, agent: &str, after: u64, before: u64) -> Result<Vec<(u64, Event)>> {
        if before <= after.saturating_add(1) {
            return Ok(Vec::new());
        }
        let span = Span {
            lo: after + 1,
            hi: Some(before),
            newest_first: false,
        };
        self.journal_in(agent, span, usize::MAX)
    }

    /// The newest `n` journal entries with `seq < before`, oldest first.
    pub fn journal_tail(&self, agent: &str, before: u64, n: usize) -> Result<Vec<(u64, Event)>> {
        self.journal_in(agent, Span::below(before).newest(), n)
    }

    /// The sequence number the next journal entry gets (1 for an empty journal).
    pub fn journal_next(&self, agent: &str) -> Result<u64> {
        self.located((|| {
            let tx = self.begin_read()?;
            Ok(tx.last_id(Tbl::Journal, agent)?.map_or(1, |n| n + 1))
        })())
    }

    /// Writes journal entries on their own (events outside any commit).
    pub fn journal_append(&self, agent: &str, entries: &[(u64, Event)]) -> Result<()> {
        self.commit(
            agent,
            &Commit {
                journal: entries,
                ..Default::default()
            },
        )
    }
}
