//! `memscope watch`: follow a store another memscope process is writing.
//!
//! Contract: opens the store read-only (never blocking or disturbing the writer), checks it a
//! few times a second (a PostgreSQL store says when a commit lands, and is checked then), and
//! sends what changed as [`Loaded::Watched`]: the writer's journal since
//! the last look (the same events its own face showed: the conversation, function calls and
//! their results, errors, warnings, model calls and chain ends, so the run state follows too),
//! core memory and the budget (with the window the writer saved for the agent).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::app::{AppEvent, Loaded};
use crate::engine::{Agent, EngineSettings};
use crate::store::Store;

pub const POLL: Duration = Duration::from_millis(300);
/// How often a store that announces its commits is checked anyway (a notification lost with
/// a dropped connection is made up for).
pub const SAFETY: Duration = Duration::from_secs(5);

/// What changed since journal entry `after`: the new entries, or None when there are none and
/// the agent is as it was at `seen` (its step, counts and core memory).
fn poll_once(
    store: Arc<Store>,
    agent: &str,
    settings: EngineSettings,
    after: u64,
    seen: Option<&String>,
) -> Result<Option<(Loaded, u64, String)>, String> {
    let state = store
        .load_agent(agent)
        .map_err(|e| e.to_string())?
        .ok_or("the agent was deleted")?;
    let mark = format!(
        "{} {} {} {}",
        state.step,
        state.recall_count,
        state.archival_count,
        state.core_updated_at.to_rfc3339()
    );
    let new = store
        .journal(agent, after, u64::MAX)
        .map_err(|e| e.to_string())?;
    if new.is_empty() && seen == Some(&mark) {
        return Ok(None);
    }
    let newest = new.last().map(|(seq, _)| *seq).unwrap_or(after);
    let a = Agent::open(store, agent, settings).map_err(|e| e.to_string())?;
    let loaded = Loaded::Watched {
        events: new.into_iter().map(|(_, e)| e).collect(),
        core: a.state.core.blocks.clone(),
        budget: a.budget(),
        step: a.state.step,
    };
    Ok(Some((loaded, newest, mark)))
}

/// Runs until the receiver is gone. Journal entries below `from` were shown as history.
pub async fn follow(
    store: Arc<Store>,
    agent: String,
    settings: EngineSettings,
    from: u64,
    tx: UnboundedSender<AppEvent>,
) {
    let mut seen: Option<String> = None;
    let mut after = from.saturating_sub(1);
    let mut tick = tokio::time::interval(POLL);
    let mut changes = store.changes();
    let mut first = true;
    loop {
        match changes.as_mut() {
            Some(rx) if !first => {
                tokio::select! {
                    moved = rx.changed() => if moved.is_err() { changes = None },
                    _ = tokio::time::sleep(SAFETY) => {}
                }
            }
            _ => {
                tick.tick().await;
            }
        }
        first = false;
        let (store2, agent2, settings2, seen2) =
            (store.clone(), agent.clone(), settings.clone(), seen.clone());
        let since = after;
        let result = tokio::task::spawn_blocking(move || {
            poll_once(store2, &agent2, settings2, since, seen2.as_ref())
        })
        .await;
        let event = match result {
            Ok(Ok(Some((loaded, newest, mark)))) => {
                seen = Some(mark);
                after = newest;
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
