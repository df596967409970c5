//! An agent's past as the store keeps it: step traces read a page at a time, the marks left
//! before each user input, and the passages deleted from archival memory.
//!
//! Contract: [`Store::trace_page`] and [`Store::step_trace`] read only the traces they return
//! (plus a binary search's probes), so an agent with many steps opens at once. A [`Mark`] is
//! the agent's state just before one user input was committed (what retry and pop go back to);
//! a deleted passage is kept with the commit that deleted it, so that a fork from before it has
//! it back (see `fork.rs`).

use serde::{Deserialize, Serialize};

use super::backend::{Span, Tbl};
use super::{Result, Store, decode};
use crate::memory::{AgentState, Passage, StepTrace};

// Passages deleted from archival memory are kept in `archival_deleted`, `(agent, passage id)`
// → [`Deleted`]; the state before each user input in `marks`, `(agent, user message id)` →
// [`Mark`].

/// A deleted passage, the step it was deleted at, and the commit that deleted it (the
/// agent's `commits` count after it; 0 in stores from before it was kept).
#[derive(Serialize, Deserialize)]
pub(super) struct Deleted {
    pub step: u64,
    #[serde(default)]
    pub commit: u64,
    pub passage: Passage,
}

/// The state of an agent just before one of its user inputs was committed: compacted as a
/// step trace's snapshot is (see `memory::snapshot`), or, when nothing was committed since the
/// last step, that step's trace key (its snapshot is that state).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mark {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<u64>,
    /// The journal's next sequence number at that point.
    pub journal_next: u64,
}

/// A point in an agent's history that a fork or rewind goes back to: the state as it was
/// there (after a step's commit, or before a user's input). Everything the agent wrote later
/// (messages, passages, traces, journal entries, marks) has ids past the counters of `state`.
#[derive(Debug, Clone)]
pub struct Cut {
    pub state: AgentState,
    /// The journal's next sequence number at that point.
    pub journal_next: u64,
}

impl Store {
    /// Up to `n` traces with keys below `before` (all when none), newest first, with their keys.
    pub fn trace_page(
        &self,
        agent: &str,
        before: Option<u64>,
        n: usize,
    ) -> Result<Vec<(u64, StepTrace)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let span = Span {
                hi: before,
                ..Span::ALL
            };
            let mut out = Vec::with_capacity(n.min(1024));
            for row in tx.rows(Tbl::Traces, agent, span.newest())?.take(n) {
                let (k, v) = row?;
                out.push((k, decode(&v)?));
            }
            Ok(out)
        })())
    }

    /// The trace stored under `key`.
    pub fn trace_at(&self, agent: &str, key: u64) -> Result<Option<StepTrace>> {
        self.located((|| {
            let tx = self.begin_read()?;
            tx.get(Tbl::Traces, agent, key)?
                .map(|v| decode(&v))
                .transpose()
        })())
    }

    /// The model call numbered `step` (its step trace, not a summary's), with its key. Traces
    /// are in step order, so this reads a handful of them.
    pub fn step_trace(&self, agent: &str, step: u64) -> Result<Option<(u64, StepTrace)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let first_at = |k: u64| -> Result<Option<(u64, StepTrace)>> {
                match tx.rows(Tbl::Traces, agent, Span::from(k))?.next() {
                    Some(row) => {
                        let (k, v) = row?;
                        Ok(Some((k, decode(&v)?)))
                    }
                    None => Ok(None),
                }
            };
            // The first key whose trace has a step at or past `step`: every key below `lo`
            // has a step before it, and the answer is the first key at or after `hi`.
            let Some(last) = tx.last_id(Tbl::Traces, agent)? else {
                return Ok(None);
            };
            let (mut lo, mut hi) = (0u64, last + 1);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match first_at(mid)? {
                    Some((k, tr)) if tr.step < step => lo = k + 1,
                    _ => hi = mid,
                }
            }
            let mut k = lo;
            while let Some((key, tr)) = first_at(k)? {
                if tr.step != step {
                    return Ok(None);
                }
                if matches!(tr.request, crate::memory::RequestRecord::Step { .. }) {
                    return Ok(Some((key, tr)));
                }
                k = key + 1;
            }
            Ok(None)
        })())
    }

    /// The newest mark of `agent` (before its last user input), with its key.
    pub fn last_mark(&self, agent: &str) -> Result<Option<(u64, Mark)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            match tx.rows(Tbl::Marks, agent, Span::ALL.newest())?.next() {
                Some(row) => {
                    let (k, v) = row?;
                    Ok(Some((k, decode(&v)?)))
                }
                None => Ok(None),
            }
        })())
    }

    /// Passages deleted from archival memory, with the step each was deleted at.
    pub fn archival_deleted(&self, agent: &str) -> Result<Vec<(u64, Passage)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let mut out = Vec::new();
            for row in tx.rows(Tbl::ArchivalDeleted, agent, Span::ALL)? {
                let d: Deleted = decode(&row?.1)?;
                out.push((d.step, d.passage));
            }
            Ok(out)
        })())
    }
}
