//! The typed channels between the engine and its faces (TUI, headless).
//!
//! Contract: faces send [`Command`]s and receive [`Event`]s; nothing else crosses. Every event
//! carries the agent's step number (the model call it belongs to) and a UTC timestamp, and
//! serializes to one JSON object with a `type` field (the headless output is exactly this).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::tokens::Budget;

/// What a face asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A message typed by the user; runs a chain to its end.
    UserMessage(String),
    /// Pause before every model call (true) or run freely (false).
    SetStepMode(bool),
    /// While paused: run exactly one model call.
    Step,
    /// While paused: run to the end of the current chain without pausing.
    Continue,
    /// Stop the model call in flight (or the paused chain); the unfinished step is dropped.
    Interrupt,
    /// Replace a core memory block's whole value (a manual edit).
    EditCore { label: String, value: String },
    /// Save text to archival memory by hand.
    InsertPassage(String),
    /// Delete an archival passage by hand.
    DeletePassage(u64),
    /// Use this model endpoint from now on (one found after start-up), with what its provider
    /// preset says about the server.
    Connect {
        client: crate::model::ClientConfig,
        provider: Option<&'static crate::providers::Provider>,
    },
    /// Finish what is queued, then stop (end of input).
    Shutdown,
    /// Stop now (a signal): the step in flight is dropped as for `Interrupt`, and nothing queued
    /// starts.
    ShutdownNow,
}

/// Why the next model call happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    UserMessage,
    /// The function asked for a heartbeat (`request_heartbeat: true`).
    Heartbeat {
        function: String,
    },
    FunctionFailed {
        function: String,
    },
    MemoryWarning,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::UserMessage => write!(f, "the user's message"),
            Trigger::Heartbeat { function } => {
                write!(f, "a heartbeat because {function} requested one")
            }
            Trigger::FunctionFailed { function } => {
                write!(f, "a heartbeat after {function} failed")
            }
            Trigger::MemoryWarning => write!(f, "a memory-pressure warning"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    #[serde(rename = "OK")]
    Ok,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Failed => "Failed",
        }
    }
}

/// Who changed core memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EditSource {
    Agent,
    User,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The engine is up; first event of a session.
    Ready {
        agent: String,
        model: Option<String>,
        base_url: Option<String>,
        recall: u64,
        archival: u64,
        queue: usize,
        /// How the agent talks to its model (tool mode, no-tool replies, tool choice).
        policy: String,
    },
    UserMessage {
        id: u64,
        text: String,
    },
    /// A model call is under way (the UI shows "waiting for the model").
    ModelCall {
        trigger: Trigger,
    },
    /// A failed model call will be retried after `wait_ms`.
    Retry {
        kind: String,
        message: String,
        attempt: u32,
        wait_ms: u64,
    },
    /// Step mode: the engine waits for `Step` or `Continue` before the next call.
    Paused {
        trigger: Trigger,
        budget: Budget,
    },
    Thought {
        text: String,
    },
    /// A piece of the reply's text as it streams in (the whole text follows as `thought`, or as
    /// `assistant_message` under the "message" policy).
    ThoughtDelta {
        text: String,
    },
    FunctionCall {
        name: String,
        arguments: Value,
        call_id: String,
        /// Repairs made to the arguments before they could be used.
        repairs: Vec<String>,
    },
    FunctionReturn {
        name: String,
        status: Status,
        message: String,
        /// Whether a heartbeat (another step) followed.
        heartbeat: bool,
        duration_ms: f64,
    },
    AssistantMessage {
        text: String,
    },
    Heartbeat {
        reason: String,
    },
    MemoryWarning {
        message: String,
        used: u32,
        context_window: u32,
    },
    Summary {
        evicted: usize,
        summary: String,
    },
    CoreMemoryUpdated {
        label: String,
        value: String,
        chars: usize,
        limit: usize,
        source: EditSource,
    },
    /// Archival memory was changed by hand.
    ArchivalEdited {
        added: Vec<u64>,
        deleted: Vec<u64>,
        message: String,
    },
    Budget(Budget),
    Error {
        kind: String,
        message: String,
    },
    /// The chain for one user input is over; the engine waits for the user.
    ChainEnded {
        steps: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub step: u64,
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// One line of JSON that is safe to print to a terminal: serde escapes C0 controls, and
    /// C1 controls and bidirectional overrides are escaped here too.
    pub fn to_json_line(&self) -> String {
        crate::text::json_terminal_safe(
            serde_json::to_string(self).expect("events always serialize"),
        )
    }
}
