//! An agent as a readable Markdown transcript: who said what, with inner thoughts and function
//! calls folded away (`<details>`), system events in italics, then core memory and counts.
//!
//! Contract: [`export`] streams recall a message at a time. Every text from the store is made
//! visible (control characters escaped) and kept from breaking the document's structure
//! (`<` of a closing tag escaped inside folds).

use std::io::Write;

use serde_json::Value;

use crate::memory::{Message, MessageKind, Role};
use crate::store::{Store, Table, Unreadable};
use crate::text;

use super::native::ExportError;

fn clean(s: &str) -> String {
    text::visible(s).replace("</details", "&lt;/details")
}

/// Each line of `s` quoted.
fn quoted(s: &str) -> String {
    clean(s)
        .lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fold(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{summary}</summary>\n\n{}\n\n</details>\n",
        clean(body)
    )
}

fn when(m: &Message) -> String {
    m.created_at.format("%Y-%m-%d %H:%M").to_string()
}

fn message_of(arguments: &str) -> Option<String> {
    let v: Value = serde_json::from_str(arguments).ok()?;
    v.get("message")?.as_str().map(str::to_string)
}

/// One message as Markdown (empty for what the transcript leaves to its call's line).
pub fn entry(m: &Message) -> String {
    match (m.role, m.kind) {
        (_, MessageKind::UserMessage) => format!("**User** · {}\n\n{}\n", when(m), quoted(&m.text)),
        (_, MessageKind::Heartbeat) => format!("_heartbeat: {}_\n", clean(&m.text)),
        (_, MessageKind::Login) => format!("_login (last: {})_\n", clean(&m.text)),
        (_, MessageKind::SystemAlert) => {
            format!("_system: {}_\n", clean(&text::one_line(&m.text, 300)))
        }
        (_, MessageKind::Summary) => fold("summary of earlier messages", &m.text),
        (Role::Tool, _) | (_, MessageKind::ToolResult) => {
            if m.name.as_deref() == Some("send_message") {
                String::new()
            } else {
                fold(
                    &format!(
                        "result of <code>{}</code>",
                        clean(m.name.as_deref().unwrap_or("a call"))
                    ),
                    &m.text,
                )
            }
        }
        _ => {
            let mut out = String::new();
            if !m.thought().trim().is_empty() {
                out.push_str(&fold("inner thought", m.thought()));
            }
            for c in &m.tool_calls {
                match (c.name.as_str(), message_of(&c.arguments)) {
                    ("send_message", Some(said)) => {
                        out.push_str(&format!("\n**Agent** · {}\n\n{}\n", when(m), quoted(&said)));
                    }
                    _ => out.push_str(&fold(
                        &format!("function call <code>{}</code>", clean(&c.name)),
                        &format!("```json\n{}\n```", c.arguments),
                    )),
                }
            }
            out
        }
    }
}

/// Writes `agent`'s transcript.
pub fn export(
    store: &Store,
    agent: &str,
    out: &mut dyn Write,
) -> Result<Vec<Unreadable>, ExportError> {
    let state = store
        .load_agent(agent)?
        .ok_or_else(|| ExportError::NoAgent(agent.to_string()))?;
    writeln!(out, "# Agent {}\n", clean(agent))?;
    writeln!(
        out,
        "Exported by memscope {} on {} · {} model calls · {} messages in recall · {} archival passages\n",
        env!("CARGO_PKG_VERSION"),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        state.step,
        state.recall_count,
        state.archival_count
    )?;
    writeln!(out, "## Conversation\n")?;
    let bad = store.scan(Table::Recall, agent, |_, m: Message| {
        let e = entry(&m);
        if !e.is_empty() {
            writeln!(out, "{e}")?;
        }
        Ok::<(), ExportError>(())
    })?;
    writeln!(out, "## Core memory\n")?;
    for b in &state.core.blocks {
        writeln!(
            out,
            "### {}{} ({}/{} characters)\n\n```text\n{}\n```\n",
            clean(&b.label),
            if b.read_only { " (read-only)" } else { "" },
            b.chars(),
            b.limit,
            text::visible(&b.value).replace("```", "ʼʼʼ")
        )?;
    }
    writeln!(out, "## Counts\n")?;
    writeln!(
        out,
        "- In the main context: {} messages{}\n- Recall: {} messages\n- Archival: {} passages",
        state.fifo.len(),
        state
            .summary
            .as_ref()
            .map(|s| format!(", after a summary of {} evicted", s.evicted_total))
            .unwrap_or_default(),
        state.recall_count,
        state.archival_count
    )?;
    Ok(bad)
}
