//! Every text the model reads that memscope writes: the system message and its parts, the
//! JSON events in the queue, the summary alert, the summariser's prompt, warnings and heartbeat
//! reasons.
//!
//! Contract: pure functions of the agent's state and the given values (the only clock reads
//! stamp new events and a newly compiled metadata block; nothing already sent is stamped
//! again). Changing any text here changes what the model sees, and so the prompt
//! prefix a server can reuse; keep them stable.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::memory::{AgentState, CompiledSystem, Message, MessageKind, ToolMode};
use crate::text;

pub const BASE_INSTRUCTIONS: &str = include_str!("../../assets/system.md");
pub const DEFAULT_PERSONA: &str = include_str!("../../assets/persona.txt");
pub const DEFAULT_HUMAN: &str = include_str!("../../assets/human.txt");
/// The summariser's instructions (a flush's call, without tools).
pub const SUMMARIZER: &str = include_str!("../../assets/summarizer.md");

fn now() -> String {
    stamp(Utc::now())
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The memory-metadata section of the system message, as of now.
pub fn metadata(state: &AgentState) -> String {
    format!(
        "### Memory metadata (as of {})\n\
         - Core memory last changed: {}\n\
         - Recall memory holds {} messages in all (conversation_search, conversation_search_date)\n\
         - Archival memory holds {} passages (archival_memory_search)\n",
        now(),
        stamp(state.core_updated_at),
        state.recall_count,
        state.archival_count,
    )
}

/// The system message's changing parts as of now (see [`CompiledSystem`]).
pub fn compile(state: &AgentState, reason: &str) -> CompiledSystem {
    CompiledSystem {
        core: state.core.clone(),
        metadata: metadata(state),
        compiled_at: Utc::now(),
        reason: reason.to_string(),
    }
}

/// The fixed instructions at the head of the system message: memscope's, or the agent's own
/// (`base`, kept from an imported agent), with the JSON-mode protocol in JSON mode.
pub fn instructions(mode: ToolMode, base: Option<&str>) -> String {
    let json_mode = match mode {
        ToolMode::Json => crate::functions::json_mode::instructions(),
        ToolMode::Native => "",
    };
    format!(
        "{}\n{json_mode}\n",
        base.unwrap_or(BASE_INSTRUCTIONS).trim_end()
    )
}

/// The heading of the core-memory section.
pub const CORE_HEADING: &str = "### Core memory\n";

/// The one system message: fixed instructions first, then core memory, then the metadata, so
/// that what changes least comes first.
pub fn system_prompt(mode: ToolMode, base: Option<&str>, compiled: &CompiledSystem) -> String {
    format!(
        "{}{CORE_HEADING}{}\n{}",
        instructions(mode, base),
        compiled.core.render(),
        compiled.metadata
    )
}

/// A core edit as the model reads it when edits are appended to the queue (see
/// [`crate::memory::CoreEdits::Append`]).
pub fn memory_update(label: &str, value: &str, by: &str) -> String {
    format!(
        "Memory update: core memory block <{label}> was edited by {by}. It now reads:\n{value}\n\
         (The system message shows the block as it was; this text replaces it until the next \
         summary.)"
    )
}

/// A user-role JSON event as the model reads it (`user_message`, `heartbeat`, `login`, or a
/// `system_alert` for anything else).
pub fn event_json(kind: MessageKind, text: &str) -> String {
    let now = now();
    match kind {
        MessageKind::UserMessage => json!({"type": "user_message", "message": text, "time": now}),
        MessageKind::Heartbeat => json!({"type": "heartbeat", "reason": text, "time": now}),
        MessageKind::Login => json!({"type": "login", "last_login": text, "time": now}),
        _ => json!({"type": "system_alert", "message": text, "time": now}),
    }
    .to_string()
}

/// The summary as the system alert that follows the system message, as of the flush that made
/// it (it is written once and sent unchanged until the next flush).
pub fn summary_event_text(
    summary: &str,
    evicted: u64,
    recall: Option<u64>,
    at: DateTime<Utc>,
) -> String {
    let of = recall
        .map(|r| format!(" (of {r} in recall)"))
        .unwrap_or_default();
    json!({
        "type": "system_alert",
        "message": format!(
            "{evicted} earlier messages{of} have left your context to save space; they are \
             still found by conversation_search. Summary of them:\n{summary}"
        ),
        "time": stamp(at),
    })
    .to_string()
}

/// A function's result as the model reads it.
pub fn result_json(status: &str, message: &str) -> String {
    json!({"status": status, "message": message, "time": now()}).to_string()
}

/// The memory-pressure warning, with the figure that triggered it and how it was counted.
pub fn memory_warning(warn_ratio: f32, used: u32, window: u32, basis: &str) -> String {
    format!(
        "Memory pressure: your context is over {:.0}% full ({used} of {window} tokens, {basis}). Save anything \
         important from the conversation to core or archival memory now; the oldest \
         messages will soon be replaced by a summary.",
        warn_ratio * 100.0,
    )
}

/// For the user (not the model): the part of the context no flush can shrink already passes
/// the warning threshold, by section, with what would help.
pub fn fixed_part_warning(
    b: &crate::tokens::Budget,
    fixed: u32,
    warn_at: u32,
    basis: &str,
) -> String {
    let functions = if b.functions > 0 {
        format!(
            ", JSON mode (--tool-mode json) if the server renders the {} tokens of function \
             schemas at length",
            b.functions
        )
    } else {
        String::new()
    };
    format!(
        "the part of the context no flush can shrink takes {fixed} tokens ({basis}), past the \
         memory-warning threshold of {warn_at} of {window}: system {}, functions {}, core memory \
         {}, summary {}. Memory warnings are off and a chain flushes at most once until this \
         changes. What would help: a bigger context window (--context-window){functions}, \
         shorter core blocks, or a shorter summary.",
        b.system,
        b.functions,
        b.core_memory,
        b.summary,
        window = b.context_window,
    )
}

/// Why a heartbeat follows a step.
pub fn heartbeat_reason(trigger: &super::Trigger) -> String {
    match trigger {
        super::Trigger::FunctionFailed { function } => {
            format!("function {function} failed; fix the problem and try again")
        }
        super::Trigger::Heartbeat { function } => format!("{function} requested a heartbeat"),
        other => other.to_string(),
    }
}

/// How a message is labelled in the summariser's transcript.
fn label(m: &Message) -> &'static str {
    match m.kind {
        MessageKind::UserMessage => "user",
        MessageKind::Assistant => "agent",
        MessageKind::ToolResult => "function result",
        MessageKind::Heartbeat => "heartbeat",
        MessageKind::SystemAlert | MessageKind::Summary => "system",
        MessageKind::Login => "login",
    }
}

/// The summariser's user message: the previous summary and the messages leaving the context.
pub fn summary_prompt(previous: Option<&str>, evicted: &[Message]) -> String {
    let transcript = evicted
        .iter()
        .map(|m| format!("[{}] {}", label(m), text::truncate(&m.text, 2000)))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "Previous summary:\n{}\n\nMessages leaving the context ({} of them):\n{}",
        previous.unwrap_or("(none yet)"),
        evicted.len(),
        transcript
    )
}

/// A summary made without the model: the previous summary and the start of each message.
pub fn fallback_summary(previous: Option<&str>, evicted: &[Message]) -> String {
    let mut s = previous.map(|p| format!("{p}\n")).unwrap_or_default();
    s.push_str("Later (extract, the summariser was unavailable):");
    for m in evicted.iter().filter(|m| !m.text.trim().is_empty()) {
        s.push_str(&format!(" [{}] {}", label(m), text::one_line(&m.text, 80)));
    }
    s
}
