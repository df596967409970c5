//! New agents made from a point in another's history, and agents taken back to one.
//!
//! Contract: a fork copies an agent, whole or as of a [`Cut`], into a new name in one
//! transaction: recall, traces, journal entries and marks up to the cut, archival memory as of
//! it (passages inserted later are absent, passages deleted later are back), and the shared
//! texts. A rewind is, in one transaction, a whole copy of the agent under a backup name, then
//! the agent replaced by a fork of that copy: nothing it drops is lost. The original of a fork
//! is never written. A rename is a whole fork and the original's deletion, in one transaction.

use super::backend::{Span, Tbl, Write};
use super::history::{Cut, Deleted};
use super::{Result, Store, StoreError, decode, encode};
use crate::memory::{AgentState, Message, MessageKind};

fn put_rows(tx: &mut Write, t: Tbl, agent: &str, rows: Vec<(u64, Vec<u8>)>) -> Result<()> {
    tx.put_all(t, agent, &mut rows.into_iter().map(Ok))?;
    Ok(())
}

/// Every row of `agent`, in every table, removed inside `tx`. True when the agent existed.
pub(super) fn delete_in(tx: &mut Write, agent: &str) -> Result<bool> {
    let existed = tx.remove_agent(agent)?.is_some();
    // An agent made under this name later starts a search index of its own.
    tx.new_epoch(agent)?;
    for t in Tbl::ALL {
        tx.clear(t, agent)?;
    }
    tx.changed(agent)?;
    Ok(existed)
}

/// `src` copied into `dst` (absent) inside `tx`, whole or as of `cut`.
fn fork_in(tx: &mut Write, src: &str, dst: &str, cut: Option<&Cut>) -> Result<()> {
    if tx.agent(dst)?.is_some() {
        return Err(StoreError::Exists(dst.to_string()));
    }
    let mut state: AgentState = match tx.agent(src)? {
        None => return Err(StoreError::NoAgent(src.to_string())),
        Some(v) => match cut {
            Some(c) => c.state.clone(),
            None => decode(&v)?,
        },
    };
    state.name = dst.to_string();
    let end = |t: Tbl| -> Option<u64> {
        let c = cut?;
        match t {
            Tbl::Recall | Tbl::Marks => Some(c.state.next_message_id),
            Tbl::Archival | Tbl::ArchivalDeleted => Some(c.state.next_passage_id),
            Tbl::Traces => Some(c.state.next_trace_id),
            Tbl::Journal => Some(c.journal_next),
            Tbl::Texts => None,
        }
    };
    let mut restored = Vec::new();
    for t in Tbl::ALL {
        let span = Span {
            hi: end(t),
            ..Span::ALL
        };
        let Some(c) = cut.filter(|_| t == Tbl::ArchivalDeleted) else {
            tx.copy_rows(t, src, dst, span)?;
            continue;
        };
        // A passage deleted after the cut is in archival memory as of it.
        let mut kept = Vec::new();
        for (k, v) in tx.rows(t, src, span)? {
            let d: Deleted = decode(&v)?;
            if d.commit > c.state.commits {
                restored.push((k, encode(&d.passage)));
            } else {
                kept.push((k, v));
            }
        }
        put_rows(tx, t, dst, kept)?;
    }
    put_rows(tx, Tbl::Archival, dst, restored)?;
    // The original went on from the cut: in the same session unless its next message was a
    // login, and the fork's next input should make the same request.
    if let Some(c) = cut
        && let Some(v) = tx.get(Tbl::Recall, src, c.state.next_message_id)?
    {
        let next: Message = decode(&v)?;
        state.no_login = next.kind != MessageKind::Login;
    }
    tx.put_agent(dst, &encode(&state))?;
    tx.new_epoch(dst)?;
    tx.changed(dst)?;
    Ok(())
}

impl Store {
    /// A new agent `dst` made from `src`: whole, or as it was at `cut`.
    pub fn fork(&self, src: &str, dst: &str, cut: Option<&Cut>) -> Result<()> {
        self.located((|| {
            let mut tx = self.begin_write_as(&[dst])?;
            fork_in(&mut tx, src, dst, cut)?;
            tx.commit()
        })())
    }

    /// `src` under the name `dst`, whole (recall, traces, journal, archival), in one
    /// transaction: nothing is left under the old name, nothing is lost.
    pub fn rename_agent(&self, src: &str, dst: &str) -> Result<()> {
        self.located((|| {
            let mut tx = self.begin_write_as(&[src, dst])?;
            fork_in(&mut tx, src, dst, None)?;
            delete_in(&mut tx, src)?;
            tx.commit()?;
            self.forget_index(src);
            Ok(())
        })())
    }

    /// `agent` taken back to `cut`; what it was before is kept whole as `backup`.
    pub fn rewind(&self, agent: &str, backup: &str, cut: &Cut) -> Result<()> {
        self.located((|| {
            let mut tx = self.begin_write_as(&[agent, backup])?;
            fork_in(&mut tx, agent, backup, None)?;
            delete_in(&mut tx, agent)?;
            fork_in(&mut tx, backup, agent, Some(cut))?;
            tx.commit()
        })())
    }
}
