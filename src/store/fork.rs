//! New agents made from a point in another's history, and agents taken back to one.
//!
//! Contract: a fork copies an agent, whole or as of a [`Cut`], into a new name in one
//! transaction: recall, traces, journal entries and marks up to the cut, archival memory as of
//! it (passages inserted later are absent, passages deleted later are back), and the shared
//! texts. A rewind is, in one transaction, a whole copy of the agent under a backup name, then
//! the agent replaced by a fork of that copy: nothing it drops is lost. The original of a fork
//! is never written. A rename is a whole fork and the original's deletion, in one transaction.

use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::history::{ARCHIVAL_DELETED, Cut, Deleted, MARKS};
use super::{
    AGENTS, ARCHIVAL, JOURNAL, RECALL, Result, Store, StoreError, TRACES, db_err, decode, encode,
    texts::TEXTS,
};
use crate::memory::{AgentState, Message, MessageKind};

/// Every per-agent table keyed `(agent, id)`.
pub(super) const TABLES: [TableDefinition<(&str, u64), &[u8]>; 7] = [
    RECALL,
    ARCHIVAL,
    TRACES,
    JOURNAL,
    TEXTS,
    ARCHIVAL_DELETED,
    MARKS,
];

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
    // An agent made under this name later starts a search index of its own.
    super::search::new_epoch(tx, agent)?;
    for def in TABLES {
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
        match t.get(src).map_err(db_err)? {
            None => return Err(StoreError::NoAgent(src.to_string())),
            Some(v) => match cut {
                Some(c) => c.state.clone(),
                None => decode(v.value())?,
            },
        }
    };
    state.name = dst.to_string();
    let end = |def: TableDefinition<(&str, u64), &[u8]>| -> u64 {
        let Some(c) = cut else { return u64::MAX };
        match def.name() {
            "recall" | "marks" => c.state.next_message_id,
            "archival" | "archival_deleted" => c.state.next_passage_id,
            "traces" => c.state.next_trace_id,
            "journal" => c.journal_next,
            _ => u64::MAX,
        }
    };
    let mut restored = Vec::new();
    for def in TABLES {
        let end = end(def);
        let mut rows: Vec<(u64, Vec<u8>)> = rows_of(tx, def, src)?
            .into_iter()
            .filter(|(k, _)| *k < end)
            .collect();
        // A passage deleted after the cut is in archival memory as of it.
        if let (Some(c), "archival_deleted") = (cut, def.name()) {
            let mut kept = Vec::with_capacity(rows.len());
            for (k, v) in rows {
                let d: Deleted = decode(&v)?;
                if d.commit > c.state.commits {
                    restored.push((k, encode(&d.passage)));
                } else {
                    kept.push((k, v));
                }
            }
            rows = kept;
        }
        put_rows(tx, def, dst, rows)?;
    }
    put_rows(tx, ARCHIVAL, dst, restored)?;
    // The original went on from the cut: in the same session unless its next message was a
    // login, and the fork's next input should make the same request.
    if let Some(c) = cut {
        let t = tx.open_table(RECALL).map_err(db_err)?;
        if let Some(v) = t.get((src, c.state.next_message_id)).map_err(db_err)? {
            let next: Message = decode(v.value())?;
            state.no_login = next.kind != MessageKind::Login;
        }
    }
    let mut t = tx.open_table(AGENTS).map_err(db_err)?;
    t.insert(dst, encode(&state).as_slice()).map_err(db_err)?;
    super::search::new_epoch(tx, dst)?;
    Ok(())
}

impl Store {
    /// A new agent `dst` made from `src`: whole, or as it was at `cut`.
    pub fn fork(&self, src: &str, dst: &str, cut: Option<&Cut>) -> Result<()> {
        self.located((|| {
            let tx = self.begin_write()?;
            fork_in(&tx, src, dst, cut)?;
            tx.commit()
        })())
    }

    /// `src` under the name `dst`, whole (recall, traces, journal, archival), in one
    /// transaction: nothing is left under the old name, nothing is lost.
    pub fn rename_agent(&self, src: &str, dst: &str) -> Result<()> {
        self.located((|| {
            let tx = self.begin_write()?;
            fork_in(&tx, src, dst, None)?;
            delete_in(&tx, src)?;
            tx.commit()?;
            self.forget_index(src);
            Ok(())
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
}
