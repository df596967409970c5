//! An agent whose own record cannot be read, rebuilt from what else the store holds of it.
//!
//! Contract: every step's trace keeps a snapshot of the state its commit left
//! (`memory::snapshot`). [`Store::rebuild_agent`] reads the agent's traces newest first and
//! takes the first snapshot that can be read whole, then brings it up to what the agent's rows
//! say since: messages committed after it join the queue, the next ids pass every id in use,
//! and the counts are the rows'. What it cannot bring back is what only the record held after
//! that step (core memory edited since, a newer summary); the caller says so. Reads only.

use chrono::{DateTime, Utc};

use super::backend::{Read, Span, Tbl};
use super::{Result, Store};
use crate::memory::{AgentState, StepTrace, snapshot};

/// Traces read before giving up on finding a readable snapshot.
const LOOK_BACK: usize = 10_000;

/// An agent's state rebuilt from a step snapshot.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub state: AgentState,
    /// The model call whose snapshot it is.
    pub step: u64,
    /// When that call was made.
    pub at: DateTime<Utc>,
    /// Messages committed after it, put back in the queue.
    pub messages_after: usize,
}

impl Rebuilt {
    /// What a rebuilt agent may have lost, in words.
    pub fn note(&self) -> String {
        format!(
            "rebuilt from the snapshot of step {} ({}); {} message(s) committed since are back in \
             its queue; changes only its own record held after that step (core memory edits, a \
             newer summary) are lost",
            self.step,
            self.at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.messages_after
        )
    }
}

impl Store {
    /// Whether the store has an agent named `name`, readable or not.
    pub fn has_agent(&self, name: &str) -> Result<bool> {
        self.located((|| Ok(self.begin_read()?.agent(name)?.is_some()))())
    }

    /// The agent `name` as its newest readable step snapshot left it, brought up to its rows;
    /// None when no trace holds a readable snapshot.
    pub fn rebuild_agent(&self, name: &str) -> Result<Option<Rebuilt>> {
        self.located((|| {
            let tx = self.begin_read()?;
            rebuild(&tx, name)
        })())
    }
}

fn rebuild(tx: &Read, agent: &str) -> Result<Option<Rebuilt>> {
    let mut found = None;
    for row in tx
        .rows(Tbl::Traces, agent, Span::ALL.newest())?
        .take(LOOK_BACK)
    {
        // A damaged trace is passed over: an older one may still hold a snapshot.
        let Ok((_, bytes)) = row else { continue };
        let Ok(trace) = serde_json::from_slice::<StepTrace>(&bytes) else {
            continue;
        };
        let Some(after) = &trace.after else { continue };
        let text = |id: u64| -> Result<Option<String>> {
            Ok(tx
                .get(Tbl::Texts, agent, id)?
                .and_then(|b| String::from_utf8(b).ok()))
        };
        if let Ok(state) = snapshot::expand(after, text) {
            found = Some((trace, state));
            break;
        }
    }
    let Some((trace, mut state)) = found else {
        return Ok(None);
    };
    state.name = agent.to_string();
    // Messages committed after the snapshot (the next input, a heartbeat) rejoin the queue.
    let mut messages_after = 0;
    for row in tx.rows(Tbl::Recall, agent, Span::from(state.next_message_id))? {
        let Ok((id, _)) = row else { continue };
        state.fifo.push(id);
        messages_after += 1;
    }
    let next = |t: Tbl, at_least: u64| -> Result<u64> {
        Ok(tx
            .last_id(t, agent)?
            .map_or(at_least, |l| at_least.max(l + 1)))
    };
    state.next_message_id = next(Tbl::Recall, state.next_message_id)?;
    state.next_passage_id = next(Tbl::Archival, state.next_passage_id)?;
    state.next_trace_id = next(Tbl::Traces, state.next_trace_id)?;
    state.recall_count = tx.count(Tbl::Recall, agent)?;
    state.archival_count = tx.count(Tbl::Archival, agent)?;
    state.last_prompt = None;
    Ok(Some(Rebuilt {
        state,
        step: trace.step,
        at: trace.started_at,
        messages_after,
    }))
}
