//! memscope: a terminal memory inspector for MemGPT-style agents.
//!
//! The crate is one engine and two faces. [`engine`] (with [`memory`], [`store`], [`model`],
//! [`functions`] and [`tokens`]) is the agent and knows nothing of terminals; [`cli`] is
//! the command-line face (JSON lines for scripts and tests, dump, archival, agents); both are
//! built through [`session`]; [`tui`] the terminal face; [`config`] resolves flags, environment and the
//! config file for both. See docs/ARCHITECTURE.md for the map.

pub mod cli;
pub mod config;
pub mod crash;
pub mod engine;
pub mod functions;
pub mod memory;
pub mod model;
pub mod nice;
pub mod protocol;
pub mod providers;
pub mod session;
pub mod store;
pub mod text;
pub mod tokens;
pub mod transfer;
pub mod tui;
