//! The memory tiers of a MemGPT-style agent, as plain data with pure operations.
//!
//! Contract: nothing here does I/O. [`message`] defines what recall stores, [`core`] the editable
//! core memory blocks with their limit checks, [`archival`] the passages, [`search`] the ranking
//! used by every search (the agent's functions, the CLI and the UI share it), [`ann`] embedding
//! ranking (exact, or an HNSW graph for many vectors), and [`chunk`]
//! how long archival text is split; [`snapshot`] the compact state a step's trace keeps.

pub mod ann;
pub mod archival;
pub mod chunk;
pub mod core;
pub mod ids;
pub mod message;
pub mod search;
pub mod snapshot;
pub mod state;

pub use archival::{Origin, Passage};
pub use core::{Block, CoreMemory, EditError};
pub use message::{Message, MessageKind, Role, ToolCall};
pub use state::{
    AgentPolicy, AgentState, CompiledSystem, CoreEdits, INSTRUCTIONS_UNDO, NoToolReply,
    RequestRecord, SavedPrompt, SavedWindow, StepTrace, Summary, ToolChoice, ToolMode, TraceResult,
};
