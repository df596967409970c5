//! Reads for the UI, run on blocking threads so the draw path never waits on the disk.
//!
//! Contract: [`load`] and [`history`] only read the store (MVCC snapshots, so they never block
//! the engine's writes) and return ready-to-show rows; searches use the same ranking as the
//! agent's functions (BM25 over the same text).

use crate::memory::{Message, MessageKind};
use crate::store::Store;
use crate::text;

use super::app::{Load, Loaded, Row, StoreTab};
use super::transcript;

const TIME: &str = "%Y-%m-%d %H:%M";

/// Rows of the archival and recall lists, and of a search, read at most.
pub const LIST_ROWS: usize = 1000;

/// The conversation read back at start: at most this many journal events, and (before the
/// journal or without one) this many messages from recall.
pub const HISTORY_EVENTS: usize = 20_000;
pub const HISTORY_MESSAGES: usize = 5_000;

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

/// The newest [`LIST_ROWS`] readable records of `agent` in `table`, newest first, counting
/// the ones that cannot be read.
fn newest<T: serde::de::DeserializeOwned>(
    store: &Store,
    table: crate::store::Table,
    agent: &str,
    unreadable: &mut usize,
) -> Result<Vec<T>, crate::store::StoreError> {
    let mut out = Vec::new();
    let bad = store.scan_newest(table, agent, LIST_ROWS, |_, r: T| {
        out.push(r);
        Ok::<(), crate::store::StoreError>(())
    })?;
    *unreadable += bad.len();
    Ok(out)
}

fn passage_row(p: &crate::memory::Passage) -> Row {
    Row {
        id: p.id,
        time: p.created_at.format(TIME).to_string(),
        tag: p.source.clone(),
        text: text::visible(&p.text),
        origin: p.origin.as_ref().map(|o| text::visible(&o.describe())),
    }
}

fn load_inner(
    store: &Store,
    agent: &str,
    what: &Load,
    unreadable: &mut usize,
) -> Result<Loaded, crate::store::StoreError> {
    use crate::store::{SearchKind, Table};
    // What the agent's state counts, for "newest N of M".
    let counts = || -> Result<(usize, usize), crate::store::StoreError> {
        Ok(store.load_agent(agent)?.map_or((0, 0), |a| {
            (a.recall_count as usize, a.archival_count as usize)
        }))
    };
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
        Load::Archival => {
            let rows: Vec<Row> = newest(store, Table::Archival, agent, unreadable)?
                .iter()
                .map(passage_row)
                .collect();
            let total = counts()?.1.max(rows.len());
            Loaded::Archival(rows, total)
        }
        Load::Recall => {
            let rows: Vec<Row> = newest::<Message>(store, Table::Recall, agent, unreadable)?
                .iter()
                .map(recall_row)
                .collect();
            let total = counts()?.0.max(rows.len());
            Loaded::Recall(rows, total)
        }
        Load::Search { tab, query } => {
            // The same ranking as the agent's functions, best LIST_ROWS read whole.
            let kind = match tab {
                StoreTab::Archival => SearchKind::Archival,
                StoreTab::Recall => SearchKind::Recall,
            };
            let hits = store.search(agent, kind, query, 0, LIST_ROWS)?;
            let rows = match tab {
                StoreTab::Archival => store
                    .archival_get(agent, &hits.ids)?
                    .iter()
                    .map(passage_row)
                    .collect(),
                StoreTab::Recall => store
                    .recall_get(agent, &hits.ids)?
                    .iter()
                    .map(recall_row)
                    .collect(),
            };
            Loaded::Search {
                tab: *tab,
                query: query.clone(),
                rows,
                total: hits.total,
                note: hits.note,
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
    // Only the newest part is read: the rest stays in recall, where a search finds it.
    let journal = store.journal_tail(agent, before, HISTORY_EVENTS)?;
    let whole = journal.first().is_none_or(|(seq, _)| *seq <= 1);
    let journal_starts = journal.iter().find_map(|(_, e)| match &e.kind {
        crate::engine::EventKind::UserMessage { id, .. } => Some(*id),
        _ => None,
    });
    let older: Vec<Message> = match (journal.is_empty(), journal_starts) {
        (true, _) => store.recall_newest(agent, u64::MAX, HISTORY_MESSAGES)?,
        (false, Some(first)) if whole => store.recall_newest(agent, first, HISTORY_MESSAGES)?,
        _ => Vec::new(),
    };
    let (mut entries, mut log) = transcript::entries_from_messages(&older);
    let (more, more_log) = transcript::replay(journal.iter().map(|(_, e)| e));
    entries.extend(more);
    log.extend(more_log);
    Ok(Loaded::History { entries, log })
}
