//! An agent's past: its step traces read a page at a time, and new agents made from any step.
//!
//! Contract: [`Store::trace_page`] and [`Store::step_trace`] read only the traces they return
//! (plus a binary search's probes), so an agent with many steps opens at once. A fork copies an
//! agent, as it was right after one step ([`Cut`]) or whole, into a new name in one
//! transaction: recall and archival as of that step (passages deleted later are back, passages
//! inserted later are absent), the traces and journal up to it, and the shared texts. A rewind
//! is, in one transaction, a whole copy of the agent under a backup name, then the agent
//! replaced by a fork of that copy: nothing it drops is lost. Passages deleted from archival
//! memory are kept in `archival_deleted`, with the step they were deleted at, for this.

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{
    AGENTS, ARCHIVAL, JOURNAL, RECALL, Result, Store, StoreError, TRACES, db_err, decode, encode,
    open_existing, texts::TEXTS,
};
use crate::memory::{AgentState, Passage, StepTrace};

/// Passages deleted from archival memory, `(agent, passage id)` → [`Deleted`].
pub(super) const ARCHIVAL_DELETED: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("archival_deleted");

/// A deleted passage and the step it was deleted at.
#[derive(Serialize, Deserialize)]
pub(super) struct Deleted {
    pub step: u64,
    pub passage: Passage,
}

/// Where a fork or rewind cuts an agent's history: right after the trace `key`, whose commit
/// left `state`.
#[derive(Debug, Clone)]
pub struct Cut {
    pub key: u64,
    pub step: u64,
    pub state: AgentState,
    /// The journal's next sequence number after that commit.
    pub journal_next: u64,
}

/// Rows of one table that belong to `agent`, as bytes.
fn rows_of(
    tx: &WriteTransaction,
    def: TableDefinition<(&str, u64), &[u8]>,
    agent: &str,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let t = tx.open_table(def).map_err(db_err)?;
    let mut out = Vec::new();
    for row in t.range((agent, 0)..=(agent, u64::MAX)).map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        out.push((k.value().1, v.value().to_vec()));
    }
    Ok(out)
}

fn put_rows(
    tx: &WriteTransaction,
    def: TableDefinition<(&str, u64), &[u8]>,
    agent: &str,
    rows: impl IntoIterator<Item = (u64, Vec<u8>)>,
) -> Result<()> {
    let mut t = tx.open_table(def).map_err(db_err)?;
    for (k, v) in rows {
        t.insert((agent, k), v.as_slice()).map_err(db_err)?;
    }
    Ok(())
}

/// Every row of `agent`, in every table, removed inside `tx`. True when the agent existed.
pub(super) fn delete_in(tx: &WriteTransaction, agent: &str) -> Result<bool> {
    let mut t = tx.open_table(AGENTS).map_err(db_err)?;
    let existed = t.remove(agent).map_err(db_err)?.is_some();
    for def in [RECALL, ARCHIVAL, TRACES, JOURNAL, TEXTS, ARCHIVAL_DELETED] {
        let mut t = tx.open_table(def).map_err(db_err)?;
        t.retain_in((agent, 0)..=(agent, u64::MAX), |_, _| false)
            .map_err(db_err)?;
    }
    Ok(existed)
}

/// `src` copied into `dst` (absent) inside `tx`, whole or as of `cut`.
fn fork_in(tx: &WriteTransaction, src: &str, dst: &str, cut: Option<&Cut>) -> Result<()> {
    let mut state: AgentState = {
        let t = tx.open_table(AGENTS).map_err(db_err)?;
        if t.get(dst).map_err(db_err)?.is_some() {
            return Err(StoreError::Exists(dst.to_string()));
        }
        match cut {
            Some(c) => c.state.clone(),
            None => match t.get(src).map_err(db_err)? {
                Some(v) => decode(v.value())?,
                None => return Err(StoreError::NoAgent(src.to_string())),
            },
        }
    };
    state.name = dst.to_string();
    let (msg_end, passage_end, trace_end, journal_end) = match cut {
        Some(c) => (
            c.state.next_message_id,
            c.state.next_passage_id,
            c.key + 1,
            c.journal_next,
        ),
        None => (u64::MAX, u64::MAX, u64::MAX, u64::MAX),
    };
    // Each table's rows up to the cut (every key below its end; all with `u64::MAX`).
    for (def, end) in [
        (RECALL, msg_end),
        (TRACES, trace_end),
        (JOURNAL, journal_end),
        (TEXTS, u64::MAX),
        (ARCHIVAL, passage_end),
    ] {
        let rows = rows_of(tx, def, src)?;
        put_rows(
            tx,
            def,
            dst,
            rows.into_iter()
                .filter(|(k, _)| end == u64::MAX || *k < end),
        )?;
    }
    // A passage deleted after the cut is in archival memory as of it.
    let mut restored = Vec::new();
    let mut still_deleted = Vec::new();
    for (k, v) in rows_of(tx, ARCHIVAL_DELETED, src)? {
        if k >= passage_end {
            continue;
        }
        match cut {
            Some(c) => {
                let d: Deleted = decode(&v)?;
                if d.step > c.step {
                    restored.push((k, encode(&d.passage)));
                } else {
                    still_deleted.push((k, v));
                }
            }
            None => still_deleted.push((k, v)),
        }
    }
    put_rows(tx, ARCHIVAL, dst, restored)?;
    put_rows(tx, ARCHIVAL_DELETED, dst, still_deleted)?;
    let mut t = tx.open_table(AGENTS).map_err(db_err)?;
    t.insert(dst, encode(&state).as_slice()).map_err(db_err)?;
    Ok(())
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
            let Some(t) = open_existing(&tx, TRACES)? else {
                return Ok(Vec::new());
            };
            let end = before.unwrap_or(u64::MAX);
            let mut out = Vec::with_capacity(n);
            if end == 0 {
                return Ok(out);
            }
            for row in t
                .range((agent, 0)..=(agent, end - 1))
                .map_err(db_err)?
                .rev()
                .take(n)
            {
                let (k, v) = row.map_err(db_err)?;
                out.push((k.value().1, decode(v.value())?));
            }
            Ok(out)
        })())
    }

    /// The trace stored under `key`.
    pub fn trace_at(&self, agent: &str, key: u64) -> Result<Option<StepTrace>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(t) = open_existing(&tx, TRACES)? else {
                return Ok(None);
            };
            match t.get((agent, key)).map_err(db_err)? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            }
        })())
    }

    /// The model call numbered `step` (its step trace, not a summary's), with its key. Traces
    /// are in step order, so this reads a handful of them.
    pub fn step_trace(&self, agent: &str, step: u64) -> Result<Option<(u64, StepTrace)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(t) = open_existing(&tx, TRACES)? else {
                return Ok(None);
            };
            let first_at = |k: u64| -> Result<Option<(u64, StepTrace)>> {
                match t
                    .range((agent, k)..=(agent, u64::MAX))
                    .map_err(db_err)?
                    .next()
                {
                    Some(row) => {
                        let (k, v) = row.map_err(db_err)?;
                        Ok(Some((k.value().1, decode(v.value())?)))
                    }
                    None => Ok(None),
                }
            };
            // The first key whose trace has a step at or past `step`: every key below `lo`
            // has a step before it, and the answer is the first key at or after `hi`.
            let last = match t
                .range((agent, 0)..=(agent, u64::MAX))
                .map_err(db_err)?
                .next_back()
            {
                Some(row) => row.map_err(db_err)?.0.value().1,
                None => return Ok(None),
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

    /// A new agent `dst` made from `src`: whole, or as it was right after `cut`.
    pub fn fork(&self, src: &str, dst: &str, cut: Option<&Cut>) -> Result<()> {
        self.located((|| {
            let tx = self.begin_write()?;
            fork_in(&tx, src, dst, cut)?;
            tx.commit()
        })())
    }

    /// `agent` taken back to `cut`; what it was before is kept whole as `backup`.
    pub fn rewind(&self, agent: &str, backup: &str, cut: &Cut) -> Result<()> {
        self.located((|| {
            let tx = self.begin_write()?;
            fork_in(&tx, agent, backup, None)?;
            delete_in(&tx, agent)?;
            fork_in(&tx, backup, agent, Some(cut))?;
            tx.commit()
        })())
    }

    /// Passages deleted from archival memory, with the step each was deleted at.
    pub fn archival_deleted(&self, agent: &str) -> Result<Vec<(u64, Passage)>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(t) = open_existing(&tx, ARCHIVAL_DELETED)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in t.range((agent, 0)..=(agent, u64::MAX)).map_err(db_err)? {
                let (_, v) = row.map_err(db_err)?;
                let d: Deleted = decode(v.value())?;
                out.push((d.step, d.passage));
            }
            Ok(out)
        })())
    }
}
