//! The headless face: `run` (JSON lines), `dump`, `archival` and `agents` commands.
//!
//! Contract: these functions write only to the writers they are given (stdout for data; errors
//! are returned for the caller to print on stderr) and return an exit status. `run` reads one
//! user message per line and prints every engine event as one JSON object per line; it uses the
//! same engine and channels as the TUI.

mod commands;
mod run;

pub use commands::{
    agents_create, agents_delete, agents_list, archival_insert, archival_reembed, archival_search,
    dump,
};
pub use run::run;

/// A failure that stops a command, with its exit status.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Could not start (bad settings, store locked, endpoint unreachable): exit 2.
    pub fn start(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
    /// Failed while running: exit 1.
    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Outcome = Result<(), Failure>;
