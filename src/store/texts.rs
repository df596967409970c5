//! Texts that many step traces share (a system message, a summary alert), stored once, keyed
//! `(agent, fingerprint)`.
//!
//! Contract: a trace names such a text by its fingerprint instead of holding it; the commit
//! that writes the trace writes the text too, unless the store already has it (a text is never
//! rewritten). Reading a trace's request back fetches them.

use redb::{ReadableTable, TableDefinition};

use super::{Result, Store, StoreError, db_err, open_existing};

/// Values are bytes, not `&str`: a damaged record must come back as an error, never a panic.
pub(super) const TEXTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("texts");

/// Writes the texts the store does not have yet, inside `tx`.
pub(super) fn write_new(
    tx: &redb::WriteTransaction,
    agent: &str,
    texts: &[(u64, &str)],
) -> Result<()> {
    if texts.is_empty() {
        return Ok(());
    }
    let mut t = tx.open_table(TEXTS).map_err(db_err)?;
    for (id, text) in texts {
        if t.get((agent, *id)).map_err(db_err)?.is_none() {
            t.insert((agent, *id), text.as_bytes()).map_err(db_err)?;
        }
    }
    Ok(())
}

impl Store {
    /// A shared text by its fingerprint.
    pub fn text(&self, agent: &str, id: u64) -> Result<Option<String>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let Some(table) = open_existing(&tx, TEXTS)? else {
                return Ok(None);
            };
            match table.get((agent, id)).map_err(db_err)? {
                None => Ok(None),
                Some(v) => String::from_utf8(v.value().to_vec())
                    .map(Some)
                    .map_err(|e| StoreError::Decode(format!("text {id}: {e}"))),
            }
        })())
    }
}
