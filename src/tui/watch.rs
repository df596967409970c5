//! `memscope watch`: follow a store another memscope process is writing.
//!
//! Contract: opens the store read-only (never blocking or disturbing the writer), checks it a
//! few times a second, and sends what changed as [`Loaded::Watched`]: new recall messages as
//! conversation and function-log entries, core memory and the budget.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::app::{AppEvent, Loaded};
use super::convo::entries_from_messages;
use super::data::log_from_messages;
use crate::engine::{Agent, EngineSettings};
use crate::store::Store;

pub const POLL: Duration = Duration::from_millis(300);

/// What identifies a version of the agent: it changes with every commit that matters.
#[derive(Debug, Clone, PartialEq)]
struct Mark {
    step: u64,
    recall: u64,
    archival: u64,
    core_updated: String,
}

/// What changed since `after`, or None when the agent is as it was at `seen`.
fn poll_once(
    store: Arc<Store>,
    agent: &str,
    settings: EngineSettings,
    after: u64,
    seen: Option<&Mark>,
) -> Result<Option<(Loaded, u64, Mark)>, String> {
    let state = store
        .load_agent(agent)
        .map_err(|e| e.to_string())?
        .ok_or("the agent was deleted")?;
    let mark = Mark {
        step: state.step,
        recall: state.recall_count,
        archival: state.archival_count,
        core_updated: state.core_updated_at.to_rfc3339(),
    };
    if seen == Some(&mark) {
        return Ok(None);
    }
    let new = store
        .recall_since(agent, after)
        .map_err(|e| e.to_string())?;
    let newest = new.last().map(|m| m.id).unwrap_or(after);
    let a = Agent::open(store, agent, settings).map_err(|e| e.to_string())?;
    let loaded = Loaded::Watched {
        entries: entries_from_messages(&new),
        log: log_from_messages(&new),
        core: a.state.core.blocks.clone(),
        budget: a.budget(),
        step: a.state.step,
    };
    Ok(Some((loaded, newest, mark)))
}

/// Runs until the receiver is gone. `last_id` is the newest message already shown.
pub async fn follow(
    store: Arc<Store>,
    agent: String,
    settings: EngineSettings,
    mut last_id: u64,
    tx: UnboundedSender<AppEvent>,
) {
    let mut seen: Option<Mark> = None;
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let (store2, agent2, settings2, seen2) =
            (store.clone(), agent.clone(), settings.clone(), seen.clone());
        let after = last_id;
        let result = tokio::task::spawn_blocking(move || {
            poll_once(store2, &agent2, settings2, after, seen2.as_ref())
        })
        .await;
        let event = match result {
            Ok(Ok(Some((loaded, newest, mark)))) => {
                seen = Some(mark);
                last_id = newest;
                AppEvent::Loaded(loaded)
            }
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => AppEvent::Loaded(Loaded::Failed(e)),
            Err(e) => AppEvent::Loaded(Loaded::Failed(e.to_string())),
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}
