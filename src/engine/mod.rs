//! The MemGPT agent engine: the loop, the memory functions, memory pressure. No terminal code.
//!
//! Contract: faces (TUI, command line) start the engine with [`spawn`] and talk to it only
//! through [`Command`]s and [`Event`]s. Pure decisions live in [`chain`] (what the engine does
//! next: the chain state machine) and [`policy`] (what follows a step, what a flush evicts);
//! [`agent`] owns the memory and its persistence; [`prompt`] holds every text the model reads;
//! [`step`] applies one model reply synchronously; [`manual`] the user's own changes; [`load`] documents into archival memory; [`run`]
//! is the async driver that runs the machine's actions (calls in `call.rs`, flushes in
//! `flush.rs`, token counting in `counting.rs`); [`cache`] compares each request with the one
//! before it (the prompt-cache meter and break locator).

pub mod agent;
mod budget;
pub mod cache;
mod call;
pub mod chain;
mod counting;
pub mod exec;
mod flush;
pub mod history;
pub mod input;
mod journal;
pub mod load;
pub mod manual;
pub mod policy;
pub mod prompt;
mod recovery;
pub mod request;
pub mod run;
pub mod settings;
pub mod step;

pub use crate::protocol::{
    Command, EditSource, ErrorKind, Event, EventKind, Status, Trigger, WarningKind,
};
pub use agent::{Agent, BASE_INSTRUCTIONS};
pub use flush::KEEP_LAST;
pub use run::{EngineHandle, spawn, spawn_with};
pub use settings::{EngineSettings, WindowSource};
