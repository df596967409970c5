//! Changes the user makes by hand, outside any model step: editing a core block, adding or
//! deleting archival passages, embedding passages again, changing the system instructions.
//!
//! Contract: these are the only ways a face changes memory. The engine task runs them for the
//! TUI's and `run`'s commands, and the one-shot commands (`archival insert`, `archival
//! reembed`) call the same methods on an agent they opened for writing. Each one commits in one
//! transaction and returns what to report, or why it was refused (nothing is written then).

use super::agent::{Agent, BASE_INSTRUCTIONS};
use super::exec::{Effects, Embeds};
use crate::memory::Passage;
use crate::protocol::{EditSource, EventKind};
use crate::store::{Commit, StoreError};

/// A manual change that was made (the event that reports it, journaled with the commit), or
/// refused with the reason.
pub type Manual = Result<Result<EventKind, String>, StoreError>;

impl Agent {
    /// Replaces a core block's whole value.
    pub fn edit_core_by_hand(&mut self, label: &str, value: &str) -> Manual {
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
        // In append mode the model learns of the edit from an event in the queue.
        let update = self
            .core_edited(label, "the user")
            .map(|u| self.event_message(crate::memory::MessageKind::SystemAlert, &u));
        let shown = EventKind::CoreMemoryUpdated {
            label: label.to_string(),
            value: value.to_string(),
            chars,
            limit,
            source: EditSource::User,
        };
        self.stage(&shown);
        self.commit(update.as_slice(), &[], &[], None)?;
        Ok(Ok(shown))
    }

    /// Adds a core block (a manual edit), refused when the label is taken or the text is over
    /// the usual limit.
    pub fn add_block_by_hand(&mut self, label: &str, value: &str) -> Manual {
        if self.state.core.get(label).is_some() {
            return Ok(Err(format!(
                "there is already a core block named '{label}'"
            )));
        }
        let block = crate::memory::Block::new(label, "");
        self.state.core.blocks.push(block);
        let done = self.edit_core_by_hand(label, value)?;
        if done.is_err() {
            self.state.core.blocks.retain(|b| b.label != label);
        }
        Ok(done)
    }

    /// Saves text as archival passages (chunked; embedded when `embeds` holds vectors).
    pub fn insert_passage_by_hand(&mut self, text: &str, embeds: Option<&Embeds>) -> Manual {
        let mut fx = Effects::default();
        let r = self.archival_insert(text, "user", embeds, &mut fx);
        if !r.ok {
            return Ok(Err(r.message));
        }
        let shown = EventKind::ArchivalEdited {
            added: fx.passages.iter().map(|p| p.id).collect(),
            deleted: vec![],
            message: r.message,
        };
        self.stage(&shown);
        self.commit(&[], &[], &fx.passages, None)?;
        Ok(Ok(shown))
    }

    /// Deletes an archival passage.
    pub fn delete_passage_by_hand(&mut self, id: u64) -> Manual {
        let shown = EventKind::ArchivalEdited {
            added: vec![],
            deleted: vec![id],
            message: format!("deleted passage {id}"),
        };
        self.stage(&shown);
        match self.delete_passage(id)? {
            true => Ok(Ok(shown)),
            false => {
                self.staged.clear();
                Ok(Err(format!("there is no passage {id}")))
            }
        }
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
            passages.iter().for_each(|p| cache.put(p));
        }
        Ok(())
    }

    /// Deletes an archival passage (a manual action).
    pub fn delete_passage(&mut self, id: u64) -> Result<bool, StoreError> {
        if self.store.archival_get(self.name(), &[id])?.is_empty() {
            return Ok(false);
        }
        if let Some(c) = self.archival.as_mut() {
            c.remove(id);
        }
        self.state.archival_count = self.state.archival_count.saturating_sub(1);
        self.state.commits += 1;
        let name = self.state.name.clone();
        let journal = self.take_staged();
        self.store.commit(
            &name,
            &Commit {
                state: Some(&self.state),
                delete_passages: &[id],
                journal: &journal,
                ..Default::default()
            },
        )?;
        Ok(true)
    }
}

impl Agent {
    /// Replaces the system instructions (None: memscope's own). The old text is kept for
    /// [`Agent::undo_instructions`]; the change is journaled and the system message rebuilt
    /// (the model reads the new instructions from the next call on).
    pub fn set_instructions_by_hand(&mut self, new: Option<String>) -> Manual {
        let new = new.filter(|t| t.trim() != BASE_INSTRUCTIONS.trim());
        if let Some(t) = &new
            && t.trim().is_empty()
        {
            return Ok(Err(
                "the instructions cannot be empty (reset gives memscope's own back)".into(),
            ));
        }
        if new == self.state.instructions {
            return Ok(Err("the instructions are already that".into()));
        }
        let old = std::mem::replace(&mut self.state.instructions, new);
        self.state.instructions_undo.push(old);
        let over = self
            .state
            .instructions_undo
            .len()
            .saturating_sub(crate::memory::INSTRUCTIONS_UNDO);
        self.state.instructions_undo.drain(..over);
        self.instructions_changed(false)
    }

    /// Puts back the instructions the last change replaced.
    pub fn undo_instructions(&mut self) -> Manual {
        let Some(old) = self.state.instructions_undo.pop() else {
            return Ok(Err("no change of the instructions to undo".into()));
        };
        self.state.instructions = old;
        self.instructions_changed(true)
    }

    fn instructions_changed(&mut self, undo: bool) -> Manual {
        self.base_tokens = std::sync::OnceLock::new();
        self.recompile(if undo {
            "instructions restored by the user"
        } else {
            "instructions edited by the user"
        });
        let shown = EventKind::InstructionsEdited {
            instructions: self.base_instructions().to_string(),
            custom: self.state.instructions.is_some(),
            undo,
        };
        self.stage(&shown);
        self.commit(&[], &[], &[], None)?;
        Ok(Ok(shown))
    }
}
