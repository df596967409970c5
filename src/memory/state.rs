//! The persisted state of one agent, and the trace of one model call.
//!
//! Contract: [`AgentState`] is everything needed to rebuild the main context on restart: core
//! memory, the summary, the ids of the messages in the FIFO queue and the counters. Messages
//! themselves live in recall; the queue refers to them by id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CoreMemory;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Messages folded into this summary, over all flushes.
    pub evicted_total: u64,
    /// Cached token count of the rendered summary message.
    pub tokens: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub core: CoreMemory,
    pub core_updated_at: DateTime<Utc>,
    pub summary: Option<Summary>,
    /// Ids (in recall) of the messages in the FIFO queue, oldest first.
    pub fifo: Vec<u64>,
    pub next_message_id: u64,
    pub next_passage_id: u64,
    /// Key of the next step trace (summary calls have traces too).
    #[serde(default)]
    pub next_trace_id: u64,
    /// Model calls made so far.
    pub step: u64,
    pub recall_count: u64,
    pub archival_count: u64,
    /// A memory-pressure warning was sent since the last flush.
    pub warned: bool,
    /// Until when `request_heartbeat` is ignored (set by pause_heartbeats).
    pub heartbeats_paused_until: Option<DateTime<Utc>>,
}

impl AgentState {
    pub fn new(name: &str, core: CoreMemory) -> Self {
        let now = Utc::now();
        AgentState {
            name: name.to_string(),
            created_at: now,
            core,
            core_updated_at: now,
            summary: None,
            fifo: Vec::new(),
            next_message_id: 1,
            next_passage_id: 1,
            next_trace_id: 1,
            step: 0,
            recall_count: 0,
            archival_count: 0,
            warned: false,
            heartbeats_paused_until: None,
        }
    }
}

/// Function result recorded in a trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceResult {
    pub name: String,
    pub status: String,
    pub message: String,
    pub duration_ms: f64,
}

/// The request of one model call, stored compactly but exactly: a step's request is rebuilt
/// byte for byte from these fields and the queued messages it names (which recall keeps), so
/// traces grow with each step's own size, not with the whole context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestRecord {
    Step {
        model: String,
        max_tokens: u32,
        system: String,
        summary: Option<String>,
        message_ids: Vec<u64>,
    },
    /// Any other request (summary calls), stored whole.
    Raw { body: serde_json::Value },
}

/// One model call, exactly as it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepTrace {
    pub step: u64,
    /// What triggered the call (user message, heartbeat, warning...).
    pub trigger: String,
    /// The request as sent (see [`RequestRecord`]). Never holds the API key.
    pub request: RequestRecord,
    /// The response body as received, or null when the call failed.
    pub response: serde_json::Value,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub started_at: DateTime<Utc>,
    pub model_ms: f64,
    pub results: Vec<TraceResult>,
}
