//! Time travel: an agent's past steps, read back exactly, and new histories made from them.
//!
//! Contract: steps are numbered as the events' `step` field; step N's trace holds the request
//! exactly as sent and a snapshot of the state its commit left. From those:
//! - [`view`]: the list of model calls (a page at a time) and one step's detail, with the
//!   request's bytes rebuilt exactly and its sections;
//! - [`diff`]: what changed between two steps' requests (pure);
//! - [`Agent::fork_from`]: a new agent as this one was right after step N, the original never
//!   written;
//! - [`Agent::rewind_to`], [`Agent::pop`]: this agent taken back to right after step N, or to
//!   just before its last user input; what they drop is kept whole as a backup agent
//!   (`NAME@undo-K`), so nothing is lost;
//! - [`edit`]: rethink and rewrite, which change the last reply in place and journal what it
//!   was.
//!
//! After a fork or rewind to step N, the same input makes the request the original made at
//! step N+1 (timestamps aside): the state, queue, summary and archival memory are those of N,
//! and a login event is sent only where the original sent one.

pub mod diff;
pub mod edit;
pub mod lines;
mod ops;
pub mod view;

use super::agent::Agent;
use crate::memory::{MessageKind, snapshot};
use crate::store::{Cut, StoreError};

/// Why a history operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request cannot be met as asked (nothing was written).
    #[error("{0}")]
    Refused(String),
}

/// What a rewind or pop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewound {
    /// The agent as it was before, kept whole.
    pub backup: String,
    /// The last step the agent now has.
    pub step: u64,
    /// The text of the user message dropped (pop and retry).
    pub dropped_input: Option<String>,
}

impl Agent {
    /// The point right after step `step`'s commit.
    pub fn cut_after(&self, step: u64) -> Result<Cut, HistoryError> {
        let name = self.name();
        let Some((_, trace)) = self.store.step_trace(name, step)? else {
            return Err(HistoryError::Refused(format!(
                "agent '{name}' has no step {step} (it has made {} model calls; `memscope steps` \
                 lists them)",
                self.state.step
            )));
        };
        let (Some(after), Some(journal_next)) = (&trace.after, trace.journal_next) else {
            return Err(HistoryError::Refused(format!(
                "step {step} was recorded by an older memscope that kept no snapshot of the \
                 state after it, so nothing can go back to it"
            )));
        };
        let state = snapshot::expand(after, |id| self.store.text(name, id)).map_err(|e| {
            HistoryError::Refused(format!("the snapshot of step {step} cannot be read: {e}"))
        })?;
        Ok(Cut {
            state,
            journal_next,
        })
    }

    /// A new agent `new_name` made from this one as it was right after step `step`.
    pub fn fork_from(&self, step: u64, new_name: &str) -> Result<(), HistoryError> {
        check_name(new_name)?;
        let cut = self.cut_after(step)?;
        self.store
            .fork(self.name(), new_name, Some(&cut))
            .map_err(refuse_exists)
    }

    /// This agent taken back to right after step `step`; what it was is kept as a backup.
    pub fn rewind_to(&mut self, step: u64) -> Result<Rewound, HistoryError> {
        let cut = self.cut_after(step)?;
        let backup = self.rewind(&cut)?;
        Ok(Rewound {
            backup,
            step,
            dropped_input: None,
        })
    }

    /// This agent taken back to just before its last user input (the input and everything
    /// after it dropped, and kept in the backup).
    pub fn pop(&mut self) -> Result<Rewound, HistoryError> {
        let name = self.name().to_string();
        let Some((id, mark)) = self.store.last_mark(&name)? else {
            return Err(HistoryError::Refused(
                "there is no user message to go back before (messages sent with a memscope \
                 older than this one kept no state to go back to)"
                    .into(),
            ));
        };
        let text = match self.store.recall_get(&name, &[id])?.pop() {
            Some(m) if m.kind == MessageKind::UserMessage => m.text,
            _ => {
                return Err(HistoryError::Refused(format!(
                    "the last user message ({id}) is missing from recall"
                )));
            }
        };
        let snapshot = match (&mark.state, mark.trace) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(key)) => self.store.trace_at(&name, key)?.and_then(|t| t.after),
            (None, None) => None,
        };
        let state = snapshot
            .ok_or_else(|| "it names no snapshot".to_string())
            .and_then(|s| snapshot::expand(&s, |t| self.store.text(&name, t)))
            .map_err(|e| {
                HistoryError::Refused(format!("the state before message {id} cannot be read: {e}"))
            })?;
        let step = state.step;
        let cut = Cut {
            state,
            journal_next: mark.journal_next,
        };
        let backup = self.rewind(&cut)?;
        Ok(Rewound {
            backup,
            step,
            dropped_input: Some(text),
        })
    }

    /// Rewinds to `cut` under a fresh backup name, then reloads.
    fn rewind(&mut self, cut: &Cut) -> Result<String, HistoryError> {
        let name = self.name().to_string();
        let taken: Vec<String> = self.store.agents()?.into_iter().map(|a| a.name).collect();
        let backup = (1..)
            .map(|k| format!("{name}@undo-{k}"))
            .find(|b| !taken.contains(b))
            .expect("some name is free");
        // The journal's numbers only grow, so a watcher that read past the cut sees what
        // comes next.
        let seq = self.journal_next();
        self.store.rewind(&name, &backup, cut)?;
        self.reload()?;
        // The server counted a prompt this agent no longer sends: no figure until the next.
        self.server_prompt_tokens = None;
        self.journal_seq = std::sync::atomic::AtomicU64::new(seq.max(self.journal_next()));
        Ok(backup)
    }
}

impl Rewound {
    /// The event that tells faces (and the journal) of it.
    pub fn event(&self, agent: &Agent) -> crate::protocol::EventKind {
        crate::protocol::EventKind::Rewound {
            to_step: self.step,
            backup: self.backup.clone(),
            dropped_input: self.dropped_input.clone(),
            core: agent.state.core.blocks.clone(),
            history_before: agent.journal_next(),
        }
    }
}

/// A name a new agent can take.
pub fn check_name(name: &str) -> Result<(), HistoryError> {
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(HistoryError::Refused(format!(
            "'{}' cannot name an agent (it must be printable and not empty)",
            crate::text::visible(name)
        )));
    }
    Ok(())
}

fn refuse_exists(e: StoreError) -> HistoryError {
    match e {
        StoreError::Exists(n) => HistoryError::Refused(format!(
            "there is already an agent named '{n}'; choose another name"
        )),
        e => HistoryError::Store(e),
    }
}
