//! An agent's rows taken out of a store whole, and an agent put into one whole: what export
//! and import are built on.
//!
//! Contract: [`Store::agent_rows`] hands every row of one per-agent table to a callback in key
//! order, as the bytes stored (JSON), without holding the table in memory. [`Store::import`]
//! writes a new agent (its state and its rows in any of the per-agent tables) in one write
//! transaction: it refuses a name already taken and an unknown table, and writes nothing then.
//! [`Store::copy_agent`] moves an agent between two stores byte for byte (`memscope migrate`).

use super::backend::{Span, Tbl};
use super::{Result, Store, StoreError, encode};
use crate::memory::AgentState;

/// The per-agent tables, by name, in the order export writes them.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    Tbl::ALL.iter().map(|t| t.name())
}

/// Rows of one table for an import: keys and stored bytes.
pub type Rows = Vec<(u64, Vec<u8>)>;

impl Store {
    /// Every row `agent` has in the table `table`, in key order; the callback's error stops the
    /// scan and is returned.
    pub fn agent_rows<E: From<StoreError>>(
        &self,
        agent: &str,
        table: &str,
        mut each: impl FnMut(u64, &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let Some(t) = Tbl::named(table) else {
            return Err(StoreError::Db(format!("there is no table {table}")).into());
        };
        let tx = self.located(self.begin_read())?;
        for row in self.located(tx.rows(t, agent, Span::ALL))? {
            let (k, v) = self.located(row)?;
            each(k, &v)?;
        }
        Ok(())
    }

    /// A new agent named as `state` says, with `rows` in its tables, in one transaction.
    pub fn import(&self, state: &AgentState, rows: &[(&str, Rows)]) -> Result<()> {
        for (table, _) in rows {
            if Tbl::named(table).is_none() {
                return Err(StoreError::Db(format!("there is no table {table}")));
            }
        }
        self.located((|| {
            let name = state.name.as_str();
            let mut tx = self.begin_write_as(&[name])?;
            if tx.agent(name)?.is_some() {
                return Err(StoreError::Exists(state.name.clone()));
            }
            tx.put_agent(name, &encode(state))?;
            tx.new_epoch(name)?;
            for (table, rows) in rows {
                let t = Tbl::named(table).expect("checked above");
                tx.put_all(t, name, &mut rows.iter().map(|(k, v)| Ok((*k, v.clone()))))?;
            }
            tx.changed(name)?;
            tx.commit()?;
            self.after_bulk_write();
            Ok(())
        })())
    }

    /// The agent `agent` of `from` copied into this store whole, row for row, byte for byte
    /// (its state and every per-agent table), in one write transaction here and one snapshot
    /// there; nothing is held in memory beyond a row (a batch of rows from PostgreSQL). Refused,
    /// with nothing written, when the name is taken here or absent there. Returns how many rows
    /// were copied.
    pub fn copy_agent(&self, from: &Store, agent: &str) -> Result<u64> {
        let read = from.located(from.begin_read())?;
        let Some(state) = from.located(read.agent(agent))? else {
            return Err(StoreError::NoAgent(agent.to_string()));
        };
        self.located((|| {
            let mut tx = self.begin_write_as(&[agent])?;
            if tx.agent(agent)?.is_some() {
                return Err(StoreError::Exists(agent.to_string()));
            }
            tx.put_agent(agent, &state)?;
            tx.new_epoch(agent)?;
            let mut copied = 1;
            for t in Tbl::ALL {
                let mut rows = from
                    .located(read.rows(t, agent, Span::ALL))?
                    .map(|row| from.located(row));
                copied += tx.put_all(t, agent, &mut rows)?;
            }
            tx.changed(agent)?;
            tx.commit()?;
            self.after_bulk_write();
            Ok(copied)
        })())
    }

    /// After many rows came at once: PostgreSQL's planner is given fresh statistics, so the
    /// first searches plan for the tables as they are (best effort; redb needs nothing).
    fn after_bulk_write(&self) {
        if let super::handle::Backend::Pg(pg) = &self.backend
            && let Err(e) = pg.analyze()
        {
            tracing::warn!(error = %e, "ANALYZE after a bulk write failed");
        }
    }

    /// The agent's state as stored (its bytes), when there is such an agent.
    pub fn agent_bytes(&self, agent: &str) -> Result<Option<Vec<u8>>> {
        self.located((|| self.begin_read()?.agent(agent))())
    }
}
