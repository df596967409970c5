//! The MemGPT agent engine: the loop, the memory functions, memory pressure. No terminal code.
//!
//! Contract: faces (TUI, headless) start the engine with [`spawn`] and talk to it only through
//! [`Command`]s and [`Event`]s. Pure decisions live in [`policy`]; [`agent`] owns the memory and
//! its persistence; [`step`] applies one model reply synchronously; [`run`] is the async task
//! that calls the model and drives chains, the step gate, interrupts and flushes.

pub mod agent;
pub mod events;
pub mod exec;
pub mod manual;
pub mod policy;
pub mod run;
pub mod settings;
pub mod step;

pub use agent::Agent;
pub use events::{Command, EditSource, Event, EventKind, Status, Trigger};
pub use run::{EngineHandle, spawn, spawn_with};
pub use settings::{EngineSettings, WindowSource};
