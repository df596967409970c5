//! Reads for the UI, run on blocking threads so the draw path never waits on the disk.
//!
//! Contract: [`load`] and [`history`] only read the store (MVCC snapshots, so they never block
//! the engine's writes) and return ready-to-show rows; searches use the same ranking as the
//! agent's functions (BM25 over the same text).

use crate::memory::search::Bm25Index;
use crate::memory::{Message, MessageKind, Role};
use crate::store::Store;
use crate::text;

use super::app::{Load, Loaded, LogEntry, Row, StoreTab};
use super::convo::entries_from_messages;
use crate::engine::Status;

const TIME: &str = "%Y-%m-%d %H:%M";

fn recall_tag(m: &Message) -> String {
    match m.kind {
        MessageKind::UserMessage => "user".into(),
        MessageKind::Assistant => "agent".into(),
        MessageKind::ToolResult => "result".into(),
        MessageKind::Heartbeat => "heartbeat".into(),
        MessageKind::SystemAlert => "alert".into(),
        MessageKind::Summary => "summary".into(),
        MessageKind::Login => "login".into(),
    }
}

fn recall_row(m: &Message) -> Row {
    let mut body = m.text.clone();
    for c in &m.tool_calls {
        body.push_str(&format!(" ƒ {}({})", c.name, c.arguments));
    }
    Row {
        id: m.id,
        time: m.created_at.format(TIME).to_string(),
        tag: recall_tag(m),
        text: text::visible(body.trim()),
    }
}

pub fn load(store: &Store, agent: &str, what: &Load) -> Loaded {
    match load_inner(store, agent, what) {
        Ok(l) => l,
        Err(e) => Loaded::Failed(format!("cannot read the store: {e}")),
    }
}

fn load_inner(store: &Store, agent: &str, what: &Load) -> Result<Loaded, crate::store::StoreError> {
    Ok(match what {
        Load::Archival => Loaded::Archival(
            store
                .archival(agent)?
                .iter()
                .rev()
                .map(|p| Row {
                    id: p.id,
                    time: p.created_at.format(TIME).to_string(),
                    tag: p.source.clone(),
                    text: text::visible(&p.text),
                })
                .collect(),
        ),
        Load::Recall => Loaded::Recall(store.recall(agent)?.iter().rev().map(recall_row).collect()),
        Load::Search {
            tab: StoreTab::Archival,
            query,
        } => {
            let passages = store.archival(agent)?;
            let mut idx = Bm25Index::new();
            for p in &passages {
                idx.insert(p.id, &p.text);
            }
            let by_id: std::collections::HashMap<u64, &crate::memory::Passage> =
                passages.iter().map(|p| (p.id, p)).collect();
            let rows = idx
                .search(query)
                .into_iter()
                .map(|(id, _)| {
                    let p = by_id[&id];
                    Row {
                        id,
                        time: p.created_at.format(TIME).to_string(),
                        tag: p.source.clone(),
                        text: text::visible(&p.text),
                    }
                })
                .collect();
            Loaded::Search {
                tab: StoreTab::Archival,
                query: query.clone(),
                rows,
            }
        }
        Load::Search {
            tab: StoreTab::Recall,
            query,
        } => {
            let messages: Vec<Message> = store
                .recall(agent)?
                .into_iter()
                .filter(|m| m.searchable)
                .collect();
            let mut idx = Bm25Index::new();
            for m in &messages {
                idx.insert(m.id, &m.text);
            }
            let by_id: std::collections::HashMap<u64, &Message> =
                messages.iter().map(|m| (m.id, m)).collect();
            let rows = idx
                .search(query)
                .into_iter()
                .map(|(id, _)| recall_row(by_id[&id]))
                .collect();
            Loaded::Search {
                tab: StoreTab::Recall,
                query: query.clone(),
                rows,
            }
        }
    })
}

/// Function-log entries for messages read back from recall.
pub fn log_from_messages(messages: &[Message]) -> Vec<LogEntry> {
    let mut out: Vec<LogEntry> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m.role != Role::Assistant {
            continue;
        }
        for c in &m.tool_calls {
            let result = messages[i + 1..]
                .iter()
                .take_while(|r| r.role == Role::Tool)
                .find(|r| r.tool_call_id.as_deref() == Some(c.id.as_str()));
            let (status, message) = match result {
                Some(r) => {
                    let v: serde_json::Value = serde_json::from_str(&r.content).unwrap_or_default();
                    (
                        Some(if v["status"] == "OK" {
                            Status::Ok
                        } else {
                            Status::Failed
                        }),
                        text::visible(v["message"].as_str().unwrap_or_default()),
                    )
                }
                None => (None, String::new()),
            };
            let heartbeat = messages[i + 1..]
                .iter()
                .find(|r| r.role != Role::Tool)
                .map(|r| matches!(r.kind, MessageKind::Heartbeat | MessageKind::SystemAlert));
            out.push(LogEntry {
                step: m.step,
                name: text::visible(&c.name),
                args: text::visible(&c.arguments),
                status,
                message,
                heartbeat,
                duration_ms: None,
                manual: false,
                repairs: Vec::new(),
            });
        }
    }
    out
}

/// The conversation and function log as recall holds them.
pub fn history(store: &Store, agent: &str) -> Loaded {
    match store.recall(agent) {
        Ok(messages) => Loaded::History {
            entries: entries_from_messages(&messages),
            log: log_from_messages(&messages),
        },
        Err(e) => Loaded::Failed(format!("cannot read the conversation: {e}")),
    }
}
