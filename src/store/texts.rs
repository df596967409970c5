//! Texts that many step traces share (a system message, a summary alert), stored once, keyed
//! `(agent, fingerprint)`.
//!
//! Contract: a trace names such a text by its fingerprint instead of holding it; the commit
//! that writes the trace writes the text too, unless the store already has it (a text is never
//! rewritten). Reading a trace's request back fetches them. Values are bytes, not text: a
//! damaged record comes back as an error, never a panic.

use super::backend::Tbl;
use super::{Result, Store, StoreError};

impl Store {
    /// A shared text by its fingerprint.
    pub fn text(&self, agent: &str, id: u64) -> Result<Option<String>> {
        self.located((|| {
            let tx = self.begin_read()?;
            match tx.get(Tbl::Texts, agent, id)? {
                None => Ok(None),
                Some(v) => String::from_utf8(v)
                    .map(Some)
                    .map_err(|e| StoreError::Decode(format!("text {id}: {e}"))),
            }
        })())
    }
}
