//! The journal: every event a face showed for an agent (its transcript, function log, errors,
//! warnings and run state), in order, keyed `(agent, seq)`.
//!
//! Contract: the engine writes a step's entries in the step's own commit, and the others (a
//! model call starting, an error, a chain ending) as they happen. Readers replay them: the TUI's
//! history after a restart and `memscope watch` see exactly the events a live face saw. Stores
//! made before the journal simply have none (faces then rebuild from recall).

use super::{Commit, JOURNAL, Result, Store, db_err, decode, open_existing};
use crate::protocol::Event;

impl Store {
    /// Journal entries with `after < seq < before`, oldest first.
    pub fn journal(&self, agent: &str, after: u64, before: u64) -> Result<Vec<(u64, Event)>> {
        self.located((|| {
            if before <= after.saturating_add(1) {
                return Ok(Vec::new());
            }
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, JOURNAL)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in table
                .range((agent, after + 1)..(agent, before))
                .map_err(db_err)?
            {
                let (k, v) = row.map_err(db_err)?;
                out.push((k.value().1, decode(v.value())?));
            }
            Ok(out)
        })())
    }

    /// The newest `n` journal entries with `seq < before`, oldest first.
    pub fn journal_tail(&self, agent: &str, before: u64, n: usize) -> Result<Vec<(u64, Event)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, JOURNAL)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in table
                .range((agent, 0)..(agent, before))
                .map_err(db_err)?
                .rev()
                .take(n)
            {
                let (k, v) = row.map_err(db_err)?;
                out.push((k.value().1, decode(v.value())?));
            }
            out.reverse();
            Ok(out)
        })())
    }

    /// The sequence number the next journal entry gets (1 for an empty journal).
    pub fn journal_next(&self, agent: &str) -> Result<u64> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, JOURNAL)? else {
                return Ok(1);
            };
            let last = table
                .range((agent, 0)..=(agent, u64::MAX))
                .map_err(db_err)?
                .next_back()
                .transpose()
                .map_err(db_err)?
                .map(|(k, _)| k.value().1);
            Ok(last.map_or(1, |n| n + 1))
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
