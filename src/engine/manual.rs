//! Changes the user makes by hand, outside any model step: editing a core block, adding or
//! deleting archival passages, embedding passages again.
//!
//! Contract: these are the only ways a face changes memory. The engine task runs them for the
//! TUI's and `run`'s commands, and the one-shot commands (`archival insert`, `archival
//! reembed`) call the same methods on an agent they opened for writing. Each one commits in one
//! transaction and returns what to report, or why it was refused (nothing is written then).

use chrono::Utc;

use super::agent::Agent;
use super::exec::{Effects, Embeds};
use crate::memory::Passage;
use crate::store::{Commit, StoreError};

/// A manual change that was made, or refused with the reason.
pub type Manual<T> = Result<Result<T, String>, StoreError>;

/// A core block after a manual edit.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreEdited {
    pub chars: usize,
    pub limit: usize,
}

impl Agent {
    /// Replaces a core block's whole value.
    pub fn edit_core_by_hand(&mut self, label: &str, value: &str) -> Manual<CoreEdited> {
        let chars = match self.state.core.set(label, value) {
            Ok(chars) => chars,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let limit = self
            .state
            .core
            .get(label)
            .map(|b| b.limit)
            .unwrap_or_default();
        self.state.core_updated_at = Utc::now();
        self.core_changed();
        self.commit(&[], &[], &[], None)?;
        Ok(Ok(CoreEdited { chars, limit }))
    }

    /// Saves text as archival passages (chunked; embedded when `embeds` holds vectors).
    /// Returns the new passages' ids and the message to show.
    pub fn insert_passage_by_hand(
        &mut self,
        text: &str,
        embeds: Option<&Embeds>,
    ) -> Manual<(Vec<u64>, String)> {
        let mut fx = Effects::default();
        let r = self.archival_insert(text, "user", embeds, &mut fx);
        if !r.ok {
            return Ok(Err(r.message));
        }
        self.commit(&[], &[], &fx.passages, None)?;
        Ok(Ok((fx.passages.iter().map(|p| p.id).collect(), r.message)))
    }

    /// Writes passages whose embeddings were computed again (same ids, same text).
    pub fn update_embeddings(&mut self, passages: &[Passage]) -> Result<(), StoreError> {
        let name = self.state.name.clone();
        self.store.commit(
            &name,
            &Commit {
                passages,
                ..Default::default()
            },
        )?;
        if let Some(cache) = self.archival.as_mut() {
            for p in passages {
                cache.passages.insert(p.id, p.clone());
            }
        }
        Ok(())
    }
}
