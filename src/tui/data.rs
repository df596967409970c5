//! Reads for the UI, run on blocking threads so the draw path never waits on the disk.
//!
//! Contract: [`load`] and [`history`] only read the store (MVCC snapshots, so they never block
//! the engine's writes) and return ready-to-show rows; searches use the same ranking as the
//! agent's functions (BM25 over the same text).

use crate::memory::search::Bm25Index;
use crate::memory::{Message, MessageKind};
use crate::store::Store;
use crate::text;

use super::app::{Load, Loaded, Row, StoreTab};
use super::transcript;

const TIME: &str = "%Y-%m-%d %H:%M";

/// Rows of the steps list read at a time.
pub const STEPS_PAGE: usize = 200;

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
        origin: None,
    }
}

pub fn load(store: &Store, agent: &str, what: &Load) -> Loaded {
    let mut unreadable = 0;
    match load_inner(store, agent, what, &mut unreadable) {
        Ok(l) if unreadable > 0 => Loaded::Partial(
            Box::new(l),
            format!(
                "{unreadable} record(s) could not be read and are not shown; \
                 `memscope check` names them"
            ),
        ),
        Ok(l) => l,
        Err(e) => Loaded::Failed(format!("cannot read the store: {e}")),
    }
}

/// Every readable record of `agent` in `table`, counting the ones that cannot be read.
fn readable<T: serde::de::DeserializeOwned>(
    store: &Store,
    table: crate::store::Table,
    agent: &str,
    unreadable: &mut usize,
) -> Result<Vec<T>, crate::store::StoreError> {
    let mut out = Vec::new();
    let bad = store.scan(table, agent, |_, r: T| {
        out.push(r);
        Ok::<(), crate::store::StoreError>(())
    })?;
    *unreadable += bad.len();
    Ok(out)
}

fn load_inner(
    store: &Store,
    agent: &str,
    what: &Load,
    unreadable: &mut usize,
) -> Result<Loaded, crate::store::StoreError> {
    use crate::store::Table;
    let recall = |n: &mut usize| readable::<Message>(store, Table::Recall, agent, n);
    let archival =
        |n: &mut usize| readable::<crate::memory::Passage>(store, Table::Archival, agent, n);
    use crate::engine::history::{diff, view};
    let missing = |key: u64| crate::store::StoreError::Decode(format!("there is no trace {key}"));
    Ok(match what {
        Load::Agents => Loaded::Agents(
            store
                .agents()?
                .into_iter()
                .map(|a| super::app::AgentRow {
                    name: text::visible(&a.name),
                    steps: a.step,
                    messages: a.recall_count,
                    passages: a.archival_count,
                    created: a.created_at.format(TIME).to_string(),
                })
                .collect(),
        ),
        Load::Steps { before } => Loaded::Steps {
            before: *before,
            rows: view::rows(store, agent, *before, STEPS_PAGE)?,
        },
        Load::StepDetail { key } => Loaded::StepDetail(Box::new(
            view::detail(store, agent, *key)?.ok_or_else(|| missing(*key))?,
        )),
        Load::StepDiff { from, to } => {
            let a = view::detail(store, agent, *from)?.ok_or_else(|| missing(*from))?;
            let b = view::detail(store, agent, *to)?.ok_or_else(|| missing(*to))?;
            Loaded::StepDiff(Box::new(diff::diff(&a, &b)))
        }
        Load::Archival => Loaded::Archival(
            archival(unreadable)?
                .iter()
                .rev()
                .map(|p| Row {
                    id: p.id,
                    time: p.created_at.format(TIME).to_string(),
                    tag: p.source.clone(),
                    text: text::visible(&p.text),
                    origin: p.origin.as_ref().map(|o| text::visible(&o.describe())),
                })
                .collect(),
        ),
        Load::Recall => Loaded::Recall(recall(unreadable)?.iter().rev().map(recall_row).collect()),
        Load::Search {
            tab: StoreTab::Archival,
            query,
        } => {
            let passages = archival(unreadable)?;
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
                        origin: p.origin.as_ref().map(|o| text::visible(&o.describe())),
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
            let messages: Vec<Message> = recall(unreadable)?
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

/// The conversation and function log as the store tells them: the journal's events before
/// `before` (the first one this session writes), replayed through the same transcript as live
/// events, preceded by what recall tells of messages older than the journal.
pub fn history(store: &Store, agent: &str, before: u64) -> Loaded {
    match history_inner(store, agent, before) {
        Ok(l) => l,
        Err(e) => Loaded::Failed(format!("cannot read the conversation: {e}")),
    }
}

fn history_inner(
    store: &Store,
    agent: &str,
    before: u64,
) -> Result<Loaded, crate::store::StoreError> {
    let journal = store.journal(agent, 0, before)?;
    let journal_starts = journal.iter().find_map(|(_, e)| match &e.kind {
        crate::engine::EventKind::UserMessage { id, .. } => Some(*id),
        _ => None,
    });
    let older: Vec<Message> = match (journal.is_empty(), journal_starts) {
        (true, _) => store.recall(agent)?,
        (false, Some(first)) => store
            .recall(agent)?
            .into_iter()
            .take_while(|m| m.id < first)
            .collect(),
        (false, None) => Vec::new(),
    };
    let (mut entries, mut log) = transcript::entries_from_messages(&older);
    let (more, more_log) = transcript::replay(journal.iter().map(|(_, e)| e));
    entries.extend(more);
    log.extend(more_log);
    Ok(Loaded::History { entries, log })
}
