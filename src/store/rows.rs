//! Reading an agent's rows: whole tables (tests, exports, small agents), the newest rows, and
//! rows by id (a queue, a page of search results).
//!
//! Contract: every read is one snapshot, so it never blocks the writer and never sees half a
//! commit; a record that cannot be decoded fails the read as [`StoreError::Decode`] (the
//! streaming reads of `scan.rs` pass over it instead).

use serde::de::DeserializeOwned;

use super::backend::{Span, Tbl};
use super::{Result, Store, StoreError, decode};
use crate::memory::{Message, Passage, StepTrace};

impl Store {
    /// The records of `agent` in `span`, decoded, in id order (oldest first) whatever the
    /// span's direction.
    fn decoded<T: DeserializeOwned>(
        &self,
        t: Tbl,
        agent: &str,
        span: Span,
        n: usize,
    ) -> Result<Vec<T>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let mut out = Vec::new();
            for row in tx.rows(t, agent, span)?.take(n) {
                out.push(decode(&row?.1)?);
            }
            if span.newest_first {
                out.reverse();
            }
            Ok(out)
        })())
    }

    /// Every message ever, oldest first.
    pub fn recall(&self, agent: &str) -> Result<Vec<Message>> {
        self.decoded(Tbl::Recall, agent, Span::ALL, usize::MAX)
    }

    /// Messages with an id above `after`, oldest first.
    pub fn recall_since(&self, agent: &str, after: u64) -> Result<Vec<Message>> {
        if after == u64::MAX {
            return Ok(Vec::new());
        }
        self.decoded(Tbl::Recall, agent, Span::from(after + 1), usize::MAX)
    }

    /// The newest `n` messages with an id below `below`, oldest first.
    pub fn recall_newest(&self, agent: &str, below: u64, n: usize) -> Result<Vec<Message>> {
        self.decoded(Tbl::Recall, agent, Span::below(below).newest(), n)
    }

    pub fn recall_get(&self, agent: &str, ids: &[u64]) -> Result<Vec<Message>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let rows = tx.get_many(Tbl::Recall, agent, ids)?;
            let mut out = Vec::with_capacity(ids.len());
            for (id, v) in ids.iter().zip(rows) {
                let v = v.ok_or_else(|| StoreError::Decode(format!("row {id} is missing")))?;
                out.push(decode(&v)?);
            }
            Ok(out)
        })())
    }

    /// The passages with these ids, in the order given; ids it does not hold are left out.
    pub fn archival_get(&self, agent: &str, ids: &[u64]) -> Result<Vec<Passage>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let mut out = Vec::with_capacity(ids.len());
            for v in tx
                .get_many(Tbl::Archival, agent, ids)?
                .into_iter()
                .flatten()
            {
                out.push(decode(&v)?);
            }
            Ok(out)
        })())
    }

    pub fn archival(&self, agent: &str) -> Result<Vec<Passage>> {
        self.decoded(Tbl::Archival, agent, Span::ALL, usize::MAX)
    }

    pub fn traces(&self, agent: &str) -> Result<Vec<StepTrace>> {
        self.decoded(Tbl::Traces, agent, Span::ALL, usize::MAX)
    }
}
