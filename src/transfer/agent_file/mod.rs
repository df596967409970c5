//! Letta's Agent File (`.af`), the format Letta's server, its ADE and other tools share.
//!
//! Contract: [`export`] writes the current schema (top level `agents`, `groups`, `blocks`,
//! `files`, `sources`, `tools`, `mcp_servers`, `metadata`, `created_at`; each agent with its
//! `system`, `block_ids`, `tool_ids`, every message in Letta's shape and
//! `in_context_message_ids`). What Letta has no slot for (archival passages, the summary,
//! memscope's own message kinds and ids) goes into a top-level `memscope` object that Letta
//! ignores, so a memscope-to-memscope round trip loses nothing. [`parse`] reads the current
//! schema and the legacy one (a single agent with `core_memory`, `messages` and
//! `in_context_message_indices`), and a file whose whole content is a JSON string holding
//! either; it names the first thing wrong by its path in the document.

mod export;
mod import;
mod messages;

pub use export::{ModelInfo, document, export};
pub use import::parse;

/// The key of memscope's extension object at the top of an Agent File.
pub const EXTENSION: &str = "memscope";

/// Letta's kind of tool for one of memscope's functions.
fn tool_type(name: &str) -> &'static str {
    if name.starts_with("core_memory") {
        "letta_memory_core"
    } else {
        "letta_core"
    }
}
