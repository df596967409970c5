//! Reading an agent's rows: whole tables (tests, exports, small agents), the newest rows, and
//! rows by id (a queue, a page of search results).
//!
//! Contract: every read is one MVCC snapshot, so it never blocks the writer and never sees
//! half a commit; a record that cannot be decoded fails the read as [`StoreError::Decode`]
//! (the streaming reads of `scan.rs` pass over it instead).

use redb::TableDefinition;
use serde::de::DeserializeOwned;

use super::{ARCHIVAL, RECALL, Result, Store, StoreError, TRACES, db_err, decode, open_existing};
use crate::memory::{Message, Passage, StepTrace};

impl Store {
    fn rows<T: DeserializeOwned>(
        &self,
        def: TableDefinition<(&str, u64), &[u8]>,
        agent: &str,
    ) -> Result<Vec<T>> {
        let tx = self.begin_read()?;
        let Some(table) = open_existing(&tx, def)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in table
            .range((agent, 0)..=(agent, u64::MAX))
            .map_err(db_err)?
        {
            let (_, v) = row.map_err(db_err)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    fn get_rows<T: DeserializeOwned>(
        &self,
        def: TableDefinition<(&str, u64), &[u8]>,
        agent: &str,
        ids: &[u64],
    ) -> Result<Vec<T>> {
        let tx = self.begin_read()?;
        let table = tx.open_table(def).map_err(db_err)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let v = table
                .get((agent, *id))
                .map_err(db_err)?
                .ok_or_else(|| StoreError::Decode(format!("row {id} is missing")))?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// Every message ever, oldest first.
    pub fn recall(&self, agent: &str) -> Result<Vec<Message>> {
        self.located(self.rows(RECALL, agent))
    }

    /// Messages with an id above `after`, oldest first.
    pub fn recall_since(&self, agent: &str, after: u64) -> Result<Vec<Message>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, RECALL)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in table
                .range((agent, after.saturating_add(1))..=(agent, u64::MAX))
                .map_err(db_err)?
            {
                let (_, v) = row.map_err(db_err)?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })())
    }

    /// The newest `n` messages with an id below `below`, oldest first.
    pub fn recall_newest(&self, agent: &str, below: u64, n: usize) -> Result<Vec<Message>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, RECALL)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for row in table
                .range((agent, 0)..(agent, below))
                .map_err(db_err)?
                .rev()
                .take(n)
            {
                let (_, v) = row.map_err(db_err)?;
                out.push(decode(v.value())?);
            }
            out.reverse();
            Ok(out)
        })())
    }

    pub fn recall_get(&self, agent: &str, ids: &[u64]) -> Result<Vec<Message>> {
        self.located(self.get_rows(RECALL, agent, ids))
    }

    /// The passages with these ids, in the order given; ids it does not hold are left out.
    pub fn archival_get(&self, agent: &str, ids: &[u64]) -> Result<Vec<Passage>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, ARCHIVAL)? else {
                return Ok(Vec::new());
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(v) = table.get((agent, *id)).map_err(db_err)? {
                    out.push(decode(v.value())?);
                }
            }
            Ok(out)
        })())
    }

    pub fn archival(&self, agent: &str) -> Result<Vec<Passage>> {
        self.located(self.rows(ARCHIVAL, agent))
    }

    pub fn traces(&self, agent: &str) -> Result<Vec<StepTrace>> {
        self.located(self.rows(TRACES, agent))
    }
}
