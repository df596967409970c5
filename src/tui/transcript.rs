//! The transcript: how events become conversation entries and function-log rows.
//!
//! Contract: [`apply`] is the one mapping, used for live events, for the journal replayed as
//! history after a restart, and for what `watch` reads from another process's store, so the
//! three can never disagree. Calls and their results are paired by call id. A streamed reply is
//! the entry marked `streaming` (never an index, which a late history load would shift).
//! [`entries_from_messages`] rebuilds what it can from recall for stores older than the
//! journal. Every text is made printable before it is stored.

use super::app::LogEntry;
use super::convo::{Conversation, Entry, EntryKind};
use crate::memory::{Message, MessageKind, Role};
use crate::protocol::{EditSource, ErrorKind, Event, EventKind, Status};
use crate::text;

/// Applies one event to the conversation and the function log. True when it changed them.
pub fn apply(convo: &mut Conversation, log: &mut Vec<LogEntry>, ev: &Event) -> bool {
    match &ev.kind {
        EventKind::UserMessage { text, .. } => convo.push(Entry::new(EntryKind::User, text)),
        EventKind::ThoughtDelta { text } => match convo.streaming() {
            Some(i) => convo.append(i, text),
            None => {
                let mut e = Entry::new(EntryKind::Thought, text);
                e.streaming = true;
                convo.push(e);
            }
        },
        EventKind::Thought { text } => match convo.streaming() {
            Some(i) => convo.set(i, EntryKind::Thought, text),
            None => convo.push(Entry::new(EntryKind::Thought, text)),
        },
        EventKind::FunctionCall {
            name,
            arguments,
            call_id,
            repairs,
        } => {
            let args = match arguments {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            convo.push(Entry::new(
                EntryKind::Call {
                    name: text::visible(name),
                    args: text::visible(&args),
                    call_id: text::visible(call_id),
                    result: None,
                },
                "",
            ));
            log.push(LogEntry {
                step: ev.step,
                name: text::visible(name),
                call_id: text::visible(call_id),
                args: text::visible(&args),
                status: None,
                message: String::new(),
                heartbeat: None,
                duration_ms: None,
                manual: false,
                repairs: repairs.iter().map(|r| text::visible(r)).collect(),
            });
        }
        EventKind::FunctionReturn {
            call_id,
            status,
            message,
            heartbeat,
            duration_ms,
            ..
        } => {
            let id = text::visible(call_id);
            convo.complete_call(&id, *status, message);
            if let Some(l) = log
                .iter_mut()
                .rev()
                .find(|l| l.status.is_none() && l.call_id == id)
            {
                l.status = Some(*status);
                l.message = text::visible(message);
                l.heartbeat = Some(*heartbeat);
                l.duration_ms = Some(*duration_ms);
            }
        }
        EventKind::AssistantMessage { text } => match convo.streaming() {
            // Under the "message" policy the streamed text was the message itself.
            Some(i) if convo.entries[i].kind == EntryKind::Thought => {
                convo.set(i, EntryKind::Agent, text)
            }
            _ => convo.push(Entry::new(EntryKind::Agent, text)),
        },
        EventKind::Heartbeat { reason } => {
            convo.push(Entry::new(EntryKind::System("heartbeat"), reason))
        }
        EventKind::MemoryWarning { message, .. } => {
            convo.push(Entry::new(EntryKind::System("memory warning"), message))
        }
        EventKind::Summary { evicted, summary } => convo.push(Entry::new(
            EntryKind::System("summary"),
            &format!("{evicted} messages evicted from the context into the summary: {summary}"),
        )),
        EventKind::CoreMemoryUpdated {
            label,
            chars,
            limit,
            source: EditSource::User,
            ..
        } => log.push(LogEntry {
            step: ev.step,
            name: format!("edit {}", text::visible(label)),
            call_id: String::new(),
            args: "(manual edit in memscope)".into(),
            status: Some(Status::Ok),
            message: format!(
                "block '{}' now holds {chars}/{limit} characters",
                text::visible(label)
            ),
            heartbeat: Some(false),
            duration_ms: None,
            manual: true,
            repairs: Vec::new(),
        }),
        EventKind::InstructionsEdited {
            instructions,
            custom,
            undo,
        } => {
            let what = format!(
                "{} {} characters{}",
                if *undo {
                    "the instructions are back as before the last change:"
                } else {
                    "the instructions were changed:"
                },
                instructions.chars().count(),
                if *custom { "" } else { " (memscope's own)" }
            );
            convo.push(Entry::new(EntryKind::System("instructions"), &what));
            log.push(LogEntry {
                step: ev.step,
                name: "edit instructions".into(),
                call_id: String::new(),
                args: "(manual edit in memscope)".into(),
                status: Some(Status::Ok),
                message: what,
                heartbeat: Some(false),
                duration_ms: None,
                manual: true,
                repairs: Vec::new(),
            });
        }
        EventKind::CacheBreak {
            section,
            cause,
            shared_tokens,
            prompt_tokens,
        } => log.push(LogEntry {
            step: ev.step,
            name: "cache break".into(),
            call_id: String::new(),
            args: text::visible(section),
            status: None,
            message: format!(
                "{} · {shared_tokens} of {prompt_tokens} tokens still shared",
                text::visible(cause)
            ),
            heartbeat: None,
            duration_ms: None,
            manual: false,
            repairs: Vec::new(),
        }),
        EventKind::Retry { .. } => {
            // The stream starts over.
            if !drop_streaming(convo) {
                return false;
            }
        }
        EventKind::Error { kind, message } => {
            drop_streaming(convo);
            // A refused manual edit is a notice in the status bar, not part of the story.
            if *kind == ErrorKind::EditRefused {
                return false;
            }
            // A message saved with no model to answer it waits; nothing failed.
            if *kind == ErrorKind::NoModel {
                convo.push(Entry::new(
                    EntryKind::System("waiting for a model"),
                    message,
                ));
                return true;
            }
            // What the user stopped is part of the story, not a failure.
            if *kind == ErrorKind::Interrupted {
                convo.push(Entry::new(EntryKind::System("interrupted"), message));
                return true;
            }
            convo.push(Entry::new(EntryKind::Error, &format!("{kind}: {message}")));
        }
        EventKind::MessageNotSaved { text } => {
            convo.push(Entry::new(EntryKind::System("not saved"), &short(text)))
        }
        EventKind::Rewound {
            to_step,
            backup,
            dropped_input,
            ..
        } => {
            let mut said =
                format!("went back to step {to_step}; the agent as it was is kept as '{backup}'");
            if let Some(t) = dropped_input {
                said.push_str(&format!("; your message left the history: {}", short(t)));
            }
            convo.push(Entry::new(EntryKind::System("rewound"), &said))
        }
        EventKind::Forked { from_step, name } => convo.push(Entry::new(
            EntryKind::System("forked"),
            &format!(
                "made the agent '{name}' from step {from_step} (switch to it with /agent {name})"
            ),
        )),
        EventKind::MessageEdited { part, after, .. } => convo.push(Entry::new(
            EntryKind::System(if part == "message" {
                "rewritten"
            } else {
                "rethought"
            }),
            &format!("the agent's last {part} now reads: {}", short(after)),
        )),
        EventKind::Warning { kind, message } => convo.push(Entry::new(
            EntryKind::System("warning"),
            &format!("{kind}: {message}"),
        )),
        EventKind::LoadSkipped { path, reason } => log.push(LogEntry {
            step: ev.step,
            name: "load".into(),
            call_id: String::new(),
            args: text::visible(path),
            status: Some(Status::Failed),
            message: format!("skipped: {}", text::visible(reason)),
            heartbeat: Some(false),
            duration_ms: None,
            manual: true,
            repairs: Vec::new(),
        }),
        EventKind::LoadFinished(s) => {
            convo.push(Entry::new(EntryKind::System("loaded"), &s.message));
            log.push(LogEntry {
                step: ev.step,
                name: "load".into(),
                call_id: String::new(),
                args: format!("{} files", s.files),
                status: Some(Status::Ok),
                message: text::visible(&s.message),
                heartbeat: Some(false),
                duration_ms: None,
                manual: true,
                repairs: Vec::new(),
            });
        }
        EventKind::Ready { .. }
        | EventKind::LoadProgress(_)
        | EventKind::ModelCall { .. }
        | EventKind::Paused { .. }
        | EventKind::CoreMemoryUpdated { .. }
        | EventKind::ArchivalEdited { .. }
        | EventKind::Budget(_)
        | EventKind::ChainEnded { .. } => return false,
    }
    true
}

/// A long text shortened to its first 200 characters, saying how long it was.
fn short(text: &str) -> String {
    let n = text.chars().count();
    if n > 200 {
        let start: String = text.chars().take(200).collect();
        format!("{start}… ({n} characters)")
    } else {
        text.to_string()
    }
}

/// Drops an unfinished streamed reply (its step was dropped or starts over).
pub fn drop_streaming(convo: &mut Conversation) -> bool {
    match convo.streaming() {
        Some(i) => {
            convo.remove(i);
            true
        }
        None => false,
    }
}

/// A whole transcript from events in order (history, a watcher's catch-up).
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> (Vec<Entry>, Vec<LogEntry>) {
    let mut convo = Conversation::default();
    let mut log = Vec::new();
    for ev in events {
        apply(&mut convo, &mut log, ev);
    }
    (convo.entries, log)
}

/// Entries for messages read back from recall, for stores (or the part of one) written before
/// the journal: what the messages tell, without durations, repairs or errors.
pub fn entries_from_messages(messages: &[Message]) -> (Vec<Entry>, Vec<LogEntry>) {
    let mut convo = Conversation::default();
    let mut log: Vec<LogEntry> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match (m.role, m.kind) {
            (Role::User, MessageKind::UserMessage) => {
                convo.push(Entry::new(EntryKind::User, &m.text))
            }
            (Role::User, MessageKind::Heartbeat) => {
                convo.push(Entry::new(EntryKind::System("heartbeat"), &m.text))
            }
            (_, MessageKind::SystemAlert) => {
                let label = if m.text.starts_with("Memory pressure") {
                    "memory warning"
                } else {
                    "system alert"
                };
                convo.push(Entry::new(EntryKind::System(label), &m.text))
            }
            (_, MessageKind::Summary) => {
                convo.push(Entry::new(EntryKind::System("summary"), &m.text))
            }
            (Role::Assistant, _) => {
                if !m.content.trim().is_empty() {
                    convo.push(Entry::new(EntryKind::Thought, m.content.trim()));
                }
                let results = || {
                    messages[i + 1..]
                        .iter()
                        .take_while(|r| r.role == Role::Tool)
                };
                for c in &m.tool_calls {
                    let result = results()
                        .find(|r| r.tool_call_id.as_deref() == Some(c.id.as_str()))
                        .map(read_result);
                    convo.push(Entry::new(
                        EntryKind::Call {
                            name: text::visible(&c.name),
                            args: text::visible(&c.arguments),
                            call_id: text::visible(&c.id),
                            result: result.clone(),
                        },
                        "",
                    ));
                    // Only a delivered message was said.
                    if c.name == "send_message"
                        && matches!(result, Some((Status::Ok, _)))
                        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&c.arguments)
                        && let Some(said) = v["message"].as_str()
                    {
                        convo.push(Entry::new(EntryKind::Agent, said));
                    }
                    let heartbeat =
                        messages[i + 1..]
                            .iter()
                            .find(|r| r.role != Role::Tool)
                            .map(|r| {
                                matches!(r.kind, MessageKind::Heartbeat | MessageKind::SystemAlert)
                            });
                    log.push(LogEntry {
                        step: m.step,
                        name: text::visible(&c.name),
                        call_id: text::visible(&c.id),
                        args: text::visible(&c.arguments),
                        status: result.as_ref().map(|r| r.0),
                        message: result.map(|r| r.1).unwrap_or_default(),
                        heartbeat,
                        duration_ms: None,
                        manual: false,
                        repairs: Vec::new(),
                    });
                }
            }
            _ => {}
        }
    }
    (convo.entries, log)
}

/// A stored function result: its status and message.
fn read_result(m: &Message) -> (Status, String) {
    let v: serde_json::Value = serde_json::from_str(&m.content).unwrap_or_default();
    let status = if v["status"] == "OK" {
        Status::Ok
    } else {
        Status::Failed
    };
    (
        status,
        text::visible(v["message"].as_str().unwrap_or_default()),
    )
}
