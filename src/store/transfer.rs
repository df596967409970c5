//! An agent's rows taken out of a store whole, and an agent put into one whole: what export
//! and import are built on.
//!
//! Contract: [`Store::agent_rows`] hands every row of one per-agent table to a callback in key
//! order, as the bytes stored (JSON), without holding the table in memory. [`Store::import`]
//! writes a new agent (its state and its rows in any of the per-agent tables) in one write
//! transaction: it refuses a name already taken and an unknown table, and writes nothing then.
//! [`Store::copy_agent`] moves an agent between two stores byte for byte (`memscope migrate`).

use redb::{ReadableTable, TableDefinition, TableHandle};

use super::fork::TABLES;
use super::{AGENTS, Result, Store, StoreError, db_err, encode, open_existing};
use crate::memory::AgentState;

/// The per-agent tables, by name, in the order export writes them.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|t| t.name())
}

fn def(name: &str) -> Option<TableDefinition<'static, (&'static str, u64), &'static [u8]>> {
    TABLES.iter().copied().find(|t| t.name() == name)
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
        let Some(d) = def(table) else {
            return Err(StoreError::Db(format!("there is no table {table}")).into());
        };
        let tx = self.begin_read().map_err(E::from)?;
        let Some(t) = open_existing(&tx, d).map_err(E::from)? else {
            return Ok(());
        };
        let range = t
            .range((agent, 0)..=(agent, u64::MAX))
            .map_err(|e| E::from(self.located::<()>(Err(db_err(e))).unwrap_err()))?;
        for row in range {
            let (k, v) =
                row.map_err(|e| E::from(self.located::<()>(Err(db_err(e))).unwrap_err()))?;
            each(k.value().1, v.value())?;
        }
        Ok(())
    }

    /// A new agent named as `state` says, with `rows` in its tables, in one transaction.
    pub fn import(&self, state: &AgentState, rows: &[(&str, Rows)]) -> Result<()> {
        for (table, _) in rows {
            if def(table).is_none() {
                return Err(StoreError::Db(format!("there is no table {table}")));
            }
        }
        self.located((|| {
            let tx = self.begin_write()?;
            {
                let mut t = tx.open_table(AGENTS).map_err(db_err)?;
                if t.get(state.name.as_str()).map_err(db_err)?.is_some() {
                    return Err(StoreError::Exists(state.name.clone()));
                }
                t.insert(state.name.as_str(), encode(state).as_slice())
                    .map_err(db_err)?;
            }
            super::search::new_epoch(&tx, &state.name)?;
            for (table, rows) in rows {
                let d = def(table).expect("checked above");
                let mut t = tx.open_table(d).map_err(db_err)?;
                for (k, v) in rows {
                    t.insert((state.name.as_str(), *k), v.as_slice())
                        .map_err(db_err)?;
                }
            }
            tx.commit()
        })())
    }

    /// The agent `agent` of `from` copied into this store whole, row for row, byte for byte
    /// (its state and every per-agent table), in one write transaction here and one snapshot
    /// there; nothing is held in memory beyond a row. Refused, with nothing written, when the
    /// name is taken here or absent there. Returns how many rows were copied.
    pub fn copy_agent(&self, from: &Store, agent: &str) -> Result<u64> {
        let read = from.located(from.begin_read())?;
        let state: Vec<u8> = {
            let t = from.located(open_existing(&read, AGENTS))?;
            let v = t.as_ref().map(|t| t.get(agent).map_err(db_err)).transpose();
            match from.located(v)?.flatten() {
                Some(v) => v.value().to_vec(),
                None => return Err(StoreError::NoAgent(agent.to_string())),
            }
        };
        self.located((|| {
            let tx = self.begin_write()?;
            {
                let mut t = tx.open_table(AGENTS).map_err(db_err)?;
                if t.get(agent).map_err(db_err)?.is_some() {
                    return Err(StoreError::Exists(agent.to_string()));
                }
                t.insert(agent, state.as_slice()).map_err(db_err)?;
            }
            super::search::new_epoch(&tx, agent)?;
            let mut copied = 1;
            for d in TABLES {
                let Some(src) = from.located(open_existing(&read, d))? else {
                    continue;
                };
                let mut dst = tx.open_table(d).map_err(db_err)?;
                let rows =
                    from.located(src.range((agent, 0)..=(agent, u64::MAX)).map_err(db_err))?;
                for row in rows {
                    let (k, v) = from.located(row.map_err(db_err))?;
                    dst.insert((agent, k.value().1), v.value())
                        .map_err(db_err)?;
                    copied += 1;
                }
            }
            tx.commit()?;
            Ok(copied)
        })())
    }

    /// The agent's state as stored (its bytes), when there is such an agent.
    pub fn agent_bytes(&self, agent: &str) -> Result<Option<Vec<u8>>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(t) = open_existing(&tx, AGENTS)? else {
                return Ok(None);
            };
            Ok(t.get(agent).map_err(db_err)?.map(|v| v.value().to_vec()))
        })())
    }
}
