//! Going on after the store failed a write (a full disk, a lost permission, an I/O error).
//!
//! Contract: a failed commit leaves the store as it was at its last commit (redb's
//! transactions are all or nothing) and the agent in memory ahead of it, so the agent is never
//! trusted again: the driver reports the failure where the faces look (an `error` event of kind
//! `store`), closes and reopens the file, and reloads the agent from it. Until that has
//! worked, nothing is written: every action that would write first tries again to reopen, and
//! fails with the reason if it still cannot. So the session goes on once the cause is gone,
//! and nothing reported as saved is ever lost or overwritten by state that was not.

use super::agent::Agent;
use super::run::Engine;
use crate::protocol::{ErrorKind, EventKind};
use crate::store::StoreError;

impl Agent {
    /// The agent exactly as its last commit left it (same settings); what was counted from
    /// the server is kept.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        let name = self.state.name.clone();
        let mut fresh = Agent::open(self.store.clone(), &name, self.settings.clone())?;
        fresh.server_prompt_tokens = self.server_prompt_tokens;
        fresh.server_ratio = self.server_ratio;
        *self = fresh;
        Ok(())
    }
}

impl Engine {
    /// Reopens the store when a read or write failed on it (a journal entry's, say), and
    /// reloads the agent when one of its commits failed.
    pub(super) fn recover(&mut self) -> Result<(), StoreError> {
        if !self.store_broken && !self.agent.store.needs_reopen() {
            return Ok(());
        }
        self.agent.store.reopen()?;
        if self.store_broken {
            self.agent.reload()?;
            self.store_broken = false;
            tracing::info!("the agent was reloaded from the store after a failed write");
        }
        Ok(())
    }

    /// Reports a failed write, then tries at once to go on.
    pub(super) fn store_failed(&mut self, e: &StoreError) {
        self.store_failures += 1;
        self.store_broken = true;
        tracing::warn!(error = %e, "a store write failed");
        let next = match self.recover() {
            Ok(()) => "the store was reopened; memscope goes on, and what you send is saved once \
                       the cause is gone (free space, restore the permission)"
                .to_string(),
            Err(again) => format!(
                "it cannot be reopened yet ({again}); memscope tries again before it next writes"
            ),
        };
        let message = match e {
            // Nothing was attempted: the store was still closed from an earlier failure.
            StoreError::Closed(_) => format!("not saved: {e}; {next}"),
            _ => format!(
                "the store could not be written ({e}); the step in progress was not saved, what \
                 was reported as saved is kept; {next}"
            ),
        };
        self.emit_error(ErrorKind::Store, message);
        if let Some(text) = self.unsaved.take() {
            self.emit(EventKind::MessageNotSaved { text });
        }
    }

    /// What the task returns when it ends: how many writes failed, if any did.
    pub(super) fn outcome(&self) -> Result<(), StoreError> {
        match self.store_failures {
            0 => Ok(()),
            n => Err(StoreError::WritesFailed(n)),
        }
    }
}
