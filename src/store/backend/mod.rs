//! The one interface every store operation goes through, whichever database holds the rows.
//!
//! Contract: a store is a set of tables of bytes. `agents` maps a name to the agent's state;
//! each per-agent table ([`Tbl`]) maps `(agent, id)` to a record, ordered by id. A [`Read`] is
//! one consistent snapshot (redb's MVCC read, PostgreSQL's repeatable-read transaction); a
//! [`Write`] is one transaction that commits all it did or nothing (dropped without
//! [`Write::commit`], it is rolled back). The store's own modules (`rows.rs`, `fork.rs`, …) are
//! written once against these two types; `redb.rs` and `../pg/` are the two databases.

mod redb;

pub(crate) use redb::create_tables;

use super::Result;
use super::handle::Tx;
use super::pg;

/// A table of per-agent records keyed `(agent, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tbl {
    Recall,
    Archival,
    Traces,
    Journal,
    Texts,
    ArchivalDeleted,
    Marks,
}

impl Tbl {
    /// Every per-agent table, in the order export writes them.
    pub(crate) const ALL: [Tbl; 7] = [
        Tbl::Recall,
        Tbl::Archival,
        Tbl::Traces,
        Tbl::Journal,
        Tbl::Texts,
        Tbl::ArchivalDeleted,
        Tbl::Marks,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Tbl::Recall => "recall",
            Tbl::Archival => "archival",
            Tbl::Traces => "traces",
            Tbl::Journal => "journal",
            Tbl::Texts => "texts",
            Tbl::ArchivalDeleted => "archival_deleted",
            Tbl::Marks => "marks",
        }
    }

    pub(crate) fn named(name: &str) -> Option<Tbl> {
        Tbl::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Which ids of one agent a read covers: `lo` up to `hi` (exclusive; `None` is to the end),
/// in id order or newest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub lo: u64,
    pub hi: Option<u64>,
    pub newest_first: bool,
}

impl Span {
    /// Every id, oldest first.
    pub const ALL: Span = Span {
        lo: 0,
        hi: None,
        newest_first: false,
    };

    pub fn from(lo: u64) -> Span {
        Span { lo, ..Span::ALL }
    }

    pub fn below(hi: u64) -> Span {
        Span {
            hi: Some(hi),
            ..Span::ALL
        }
    }

    pub fn newest(self) -> Span {
        Span {
            newest_first: true,
            ..self
        }
    }
}

/// Records `(id, bytes)` in the order asked for, read as they are consumed.
pub(crate) type RowIter<'a> = Box<dyn Iterator<Item = Result<(u64, Vec<u8>)>> + 'a>;

/// One consistent snapshot of the store.
pub(crate) enum Read {
    Redb(Tx<::redb::ReadTransaction>),
    Pg(pg::Session),
}

impl Read {
    /// The stored state of the agent `name`.
    pub fn agent(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Read::Redb(tx) => redb::agent(tx, name),
            Read::Pg(s) => s.agent(name),
        }
    }

    /// Every agent's name and stored state, by name.
    pub fn agents(&self) -> Result<Vec<(String, Vec<u8>)>> {
        match self {
            Read::Redb(tx) => redb::agents(tx),
            Read::Pg(s) => s.agents(),
        }
    }

    pub fn get(&self, t: Tbl, agent: &str, id: u64) -> Result<Option<Vec<u8>>> {
        match self {
            Read::Redb(tx) => redb::get(tx, t, agent, id),
            Read::Pg(s) => s.get(t, agent, id),
        }
    }

    /// The agent's records in `span`, read lazily.
    pub fn rows<'a>(&'a self, t: Tbl, agent: &'a str, span: Span) -> Result<RowIter<'a>> {
        match self {
            Read::Redb(tx) => redb::rows(tx, t, agent, span),
            Read::Pg(s) => s.rows(t, agent, span),
        }
    }

    /// How many records the agent has in `t`.
    pub fn count(&self, t: Tbl, agent: &str) -> Result<u64> {
        match self {
            Read::Redb(tx) => redb::count(tx, t, agent),
            Read::Pg(s) => s.count(t, agent),
        }
    }

    /// The newest id the agent has in `t`.
    pub fn last_id(&self, t: Tbl, agent: &str) -> Result<Option<u64>> {
        if let Read::Pg(s) = self {
            return s.last_id(t, agent);
        }
        match self.rows(t, agent, Span::ALL.newest())?.next() {
            Some(row) => Ok(Some(row?.0)),
            None => Ok(None),
        }
    }

    /// The records under these ids, in the order given (None where there is none).
    pub fn get_many(&self, t: Tbl, agent: &str, ids: &[u64]) -> Result<Vec<Option<Vec<u8>>>> {
        match self {
            Read::Pg(s) => s.get_many(t, agent, ids),
            _ => ids.iter().map(|id| self.get(t, agent, *id)).collect(),
        }
    }

    /// The agent's search epoch (see `search/`; 0 when it never had one).
    pub fn epoch(&self, agent: &str) -> Result<u64> {
        match self {
            Read::Redb(tx) => redb::epoch(tx, agent),
            Read::Pg(_) => Ok(0),
        }
    }
}

/// One write transaction (there is one at a time; its size does not matter).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Write {
    Redb(Tx<::redb::WriteTransaction>),
    Pg(pg::Session),
}

impl Write {
    pub fn agent(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Write::Redb(tx) => redb::w_agent(tx, name),
            Write::Pg(s) => s.agent(name),
        }
    }

    pub fn get(&self, t: Tbl, agent: &str, id: u64) -> Result<Option<Vec<u8>>> {
        match self {
            Write::Redb(tx) => redb::w_get(tx, t, agent, id),
            Write::Pg(s) => s.get(t, agent, id),
        }
    }

    /// The agent's records in `span`, read whole.
    pub fn rows(&self, t: Tbl, agent: &str, span: Span) -> Result<Vec<(u64, Vec<u8>)>> {
        match self {
            Write::Redb(tx) => redb::w_rows(tx, t, agent, span),
            Write::Pg(s) => s.rows(t, agent, span)?.collect(),
        }
    }

    pub fn put_agent(&mut self, name: &str, state: &[u8]) -> Result<()> {
        match self {
            Write::Redb(tx) => redb::put_agent(tx, name, state),
            Write::Pg(s) => s.put_agent(name, state),
        }
    }

    pub fn remove_agent(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Write::Redb(tx) => redb::remove_agent(tx, name),
            Write::Pg(s) => s.remove_agent(name),
        }
    }

    /// Writes (or replaces) one record.
    pub fn put(&mut self, t: Tbl, agent: &str, id: u64, value: &[u8]) -> Result<()> {
        self.put_all(t, agent, &mut std::iter::once(Ok((id, value.to_vec()))))?;
        Ok(())
    }

    /// Writes (or replaces) many records, streamed from `rows`; the first error stops it.
    pub fn put_all(
        &mut self,
        t: Tbl,
        agent: &str,
        rows: &mut dyn Iterator<Item = Result<(u64, Vec<u8>)>>,
    ) -> Result<u64> {
        match self {
            Write::Redb(tx) => redb::put_all(tx, t, agent, rows),
            Write::Pg(s) => s.put_all(t, agent, rows),
        }
    }

    /// The records of `src` in `span` copied under `dst`, same ids, same bytes; how many. On
    /// PostgreSQL the server copies them (nothing passes through memscope).
    pub fn copy_rows(&mut self, t: Tbl, src: &str, dst: &str, span: Span) -> Result<u64> {
        match self {
            Write::Redb(tx) => {
                let rows = redb::w_rows(tx, t, src, span)?;
                redb::put_all(tx, t, dst, &mut rows.into_iter().map(Ok))
            }
            Write::Pg(s) => s.copy_rows(t, src, dst, span),
        }
    }

    /// Writes the record unless there is one under its key already.
    pub fn put_new(&mut self, t: Tbl, agent: &str, id: u64, value: &[u8]) -> Result<()> {
        if self.get(t, agent, id)?.is_none() {
            self.put(t, agent, id, value)?;
        }
        Ok(())
    }

    pub fn remove(&mut self, t: Tbl, agent: &str, id: u64) -> Result<Option<Vec<u8>>> {
        match self {
            Write::Redb(tx) => redb::remove(tx, t, agent, id),
            Write::Pg(s) => s.remove(t, agent, id),
        }
    }

    /// Every record of the agent in `t`, removed.
    pub fn clear(&mut self, t: Tbl, agent: &str) -> Result<()> {
        match self {
            Write::Redb(tx) => redb::clear(tx, t, agent),
            Write::Pg(s) => s.clear(t, agent),
        }
    }

    /// Gives `agent` a search epoch no index has seen (PostgreSQL's search needs none).
    pub fn new_epoch(&mut self, agent: &str) -> Result<()> {
        match self {
            Write::Redb(tx) => redb::new_epoch(tx, agent),
            Write::Pg(_) => Ok(()),
        }
    }

    /// A damaged record's bytes, kept aside under `(table, agent, key)`.
    pub fn quarantine(&mut self, table: &str, agent: &str, key: u64, value: &[u8]) -> Result<()> {
        match self {
            Write::Redb(tx) => redb::quarantine(tx, table, agent, key, value),
            Write::Pg(s) => s.quarantine(table, agent, key, value),
        }
    }

    /// Tells the store's followers that `agent` changed, when the transaction commits.
    pub fn changed(&mut self, agent: &str) -> Result<()> {
        match self {
            Write::Redb(_) => Ok(()),
            Write::Pg(s) => s.notify(agent),
        }
    }

    pub fn commit(self) -> Result<()> {
        match self {
            Write::Redb(tx) => tx.commit(),
            Write::Pg(s) => s.commit(),
        }
    }
}
