//! The command-line face: `run` (JSON lines), `dump`, `archival`, `agents`, `load`, `export`,
//! `import` and `migrate` commands, and an
//! agent's past (`steps`, `step`, `diff`, `fork`, `rewind`, `retry`, `pop`, `rethink`,
//! `rewrite`, `replay`).
//!
//! Contract: these functions write only to the writers they are given (stdout for data; errors
//! are returned for the caller to print on stderr) and return an exit status. They build what
//! they need through [`crate::session`] and change memory only through the engine's own
//! operations (`Agent`'s methods), the same ones the TUI's commands reach. `run` reads one user
//! message per line and prints every engine event as one JSON object per line; it uses the same
//! engine and channels as the TUI.

pub mod args;
mod commands;
mod history;
mod input;
mod load;
mod migrate;
mod replay;
mod run;
mod transfer;

pub use commands::{
    agents_create, agents_delete, agents_list, archival_insert, archival_reembed, archival_search,
    check, dump,
};
pub use history::{diff, edit_reply, fork, pop, rewind, step, steps};
pub use load::load;
pub use migrate::migrate;
pub use replay::replay;
pub use run::{run, run_commands};
pub use transfer::{export, import, import_text};
