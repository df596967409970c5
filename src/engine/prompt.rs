//! Every text the model reads that memscope writes: the system message and its parts, the
//! JSON events in the queue, the summary alert, the summariser's prompt, warnings and heartbeat
//! reasons.
//!
//! Contract: pure functions of the agent's state and the given values (the only clock read is
//! the event timestamp). Changing any text here changes what the model sees, and so the prompt
//! prefix a server can reuse; keep them stable.

use chrono::Utc;
use serde_json::json;

use crate::memory::{AgentState, Message, MessageKind, ToolMode};
use crate::text;

pub const BASE_INSTRUCTIONS: &str = include_str!("../../assets/system.md");
pub const DEFAULT_PERSONA: &str = include_str!("../../assets/persona.txt");
pub const DEFAULT_HUMAN: &str = include_str!("../../assets/human.txt");
/// The summariser's instructions (a flush's call, without tools).
pub const SUMMARIZER: &str = include_str!("../../assets/summarizer.md");

fn now() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The memory-metadata section of the system message.
pub fn metadata(state: &AgentState) -> String {
    format!(
        "### Memory metadata\n\
         - Core memory last changed: {}\n\
         - Recall memory holds {} messages in all (conversation_search, conversation_search_date)\n\
         - Archival memory holds {} passages (archival_memory_search)\n",
        state.core_updated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        state.recall_count,
        state.archival_count,
    )
}

/// The one system message: base instructions, memory metadata, core memory blocks.
pub fn system_prompt(state: &AgentState) -> String {
    let json_mode = match state.policy.tool_mode {
        ToolMode::Json => crate::functions::json_mode::instructions(),
        ToolMode::Native => "",
    };
    format!(
        "{}\n{json_mode}\n{}\n### Core memory\n{}",
        BASE_INSTRUCTIONS.trim_end(),
        metadata(state),
        state.core.render()
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

/// The summary as the system alert that follows the system message.
pub fn summary_event_text(summary: &str, evicted: u64, recall: u64) -> String {
    json!({
        "type": "system_alert",
        "message": format!(
            "{evicted} earlier messages (of {recall} in recall) have left your context to save \
             space; they are still found by conversation_search. Summary of them:\n{summary}"
        ),
        "time": now(),
    })
    .to_string()
}

/// A function's result as the model reads it.
pub fn result_json(status: &str, message: &str) -> String {
    json!({"status": status, "message": message, "time": now()}).to_string()
}

/// The memory-pressure warning.
pub fn memory_warning(warn_ratio: f32, used: u32, window: u32) -> String {
    format!(
        "Memory pressure: your context is over {:.0}% full ({used} of {window} tokens). Save anything \
         important from the conversation to core or archival memory now; the oldest \
         messages will soon be replaced by a summary.",
        warn_ratio * 100.0,
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
