//! The engine's side of the history commands: rewind, fork, retry, pop, rethink, rewrite.
//!
//! Contract: run only while no chain is in progress (the machine queues them until it ends).
//! A refusal is an `error` of kind `edit_refused` and writes nothing; a store failure is
//! returned, for the driver's recovery. After a rewind or pop the agent is read again from the
//! store, a `rewound` event tells the faces (they read their history again), then the budget;
//! a retry then hands the dropped message back to the machine as a new input.

use super::HistoryError;
use crate::engine::run::Engine;
use crate::protocol::{Command, ErrorKind, EventKind};
use crate::store::StoreError;

impl Engine {
    /// Runs one history command. A retry answers the message to send again.
    pub(in crate::engine) async fn history(
        &mut self,
        cmd: Command,
    ) -> Result<Option<String>, StoreError> {
        let retry = cmd == Command::Retry;
        let result = match cmd {
            Command::Rewind(step) => self.agent.rewind_to(step).map(Some),
            Command::Pop | Command::Retry => self.agent.pop().map(Some),
            Command::Fork { step, name } => match self.agent.fork_from(step, &name) {
                Ok(()) => {
                    self.emit(EventKind::Forked {
                        from_step: step,
                        name,
                    });
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            Command::Rethink(text) => {
                let r = self.agent.rethink(&text);
                self.edited(r)
            }
            Command::Rewrite(text) => {
                let r = self.agent.rewrite(&text);
                self.edited(r)
            }
            other => {
                tracing::warn!(?other, "not a history command; ignored");
                Ok(None)
            }
        };
        match result {
            Ok(Some(rewound)) => {
                // The new session of the rewound agent starts as its original went on.
                self.logged_in = false;
                self.emit(rewound.event(&self.agent));
                self.recount().await;
                self.emit_budget();
                Ok(rewound.dropped_input.filter(|_| retry))
            }
            Ok(None) => Ok(None),
            Err(HistoryError::Refused(why)) => {
                self.emit_error(ErrorKind::EditRefused, why);
                Ok(None)
            }
            Err(HistoryError::Store(e)) => Err(e),
        }
    }

    fn edited(
        &mut self,
        r: Result<EventKind, HistoryError>,
    ) -> Result<Option<super::Rewound>, HistoryError> {
        let shown = r?;
        self.send(shown);
        self.emit_budget();
        Ok(None)
    }
}
