//! The protocol between the engine and its faces (TUI, command line, watch).
//!
//! Contract: faces send [`Command`]s and receive [`Event`]s; nothing else crosses. Every event
//! carries the agent's step number (the model call it belongs to) and a UTC timestamp, and
//! serializes to one JSON object with a `type` field (the `run` output is exactly this). Function
//! calls and their returns carry the call's id. An `error` means something failed (its kind is
//! an [`ErrorKind`]); a `warning` is advice, nothing failed ([`WarningKind`]). The events a
//! transcript is made of are also journaled in the store ([`EventKind::journaled`]), so history
//! and `watch` replay exactly what a live face saw.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
        /// The model was chosen (`/model NAME`): keep it rather than taking the first one the
        /// server lists.
        keep_model: bool,
    },
    /// Replace the agent's system instructions (None: memscope's own again). Recorded, and
    /// undoable with [`Command::UndoInstructions`].
    SetInstructions(Option<String>),
    /// Put back the instructions the last change replaced.
    UndoInstructions,
    /// Finish what is queued, then stop (end of input).
    Shutdown,
    /// Stop now (a signal): the step in flight is dropped as for `Interrupt`, and nothing queued
    /// starts.
    ShutdownNow,
    /// Take the agent back to right after this step (what it drops is kept as a backup agent).
    Rewind(u64),
    /// Make a new agent from this one as it was right after `step`.
    Fork { step: u64, name: String },
    /// Send the last user message again from the state before it (no duplicate).
    Retry,
    /// Drop the last user message and everything after it (kept as a backup agent).
    Pop,
    /// Replace the last inner thought.
    Rethink(String),
    /// Replace what the agent last said with send_message.
    Rewrite(String),
    /// Load documents (files, directories) into archival memory; `Interrupt` stops it.
    Load {
        paths: Vec<std::path::PathBuf>,
        chunk_tokens: u32,
    },
}

/// What failed, for an `error` event (and the `kind` of a `retry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The endpoint could not be reached.
    Connection,
    Timeout,
    RateLimited,
    ServerError,
    /// The key was refused.
    Auth,
    BadRequest,
    /// The server refused the prompt as too long.
    ContextOverflow,
    /// The server's answer was not a completion.
    InvalidResponse,
    /// The user stopped a call or a chain.
    Interrupted,
    /// The store could not be read or written.
    Store,
    /// A manual change was refused (nothing was written).
    EditRefused,
    /// The chain cap stopped a chain.
    ChainCap,
    /// No endpoint is configured.
    NoModel,
    /// The context is full and nothing more can be evicted.
    MemoryFull,
    /// The summariser failed; a plain extract was kept.
    SummaryFailed,
    /// The model answered with neither text nor a call.
    EmptyReply,
    /// An input line could not be taken as it is (invalid UTF-8, too long to read).
    BadInput,
}

/// What a `warning` advises about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The server's chat template seems to leave the function schemas out.
    ToolsNotInPrompt,
    /// Archival passages were embedded with another model than the one configured.
    EmbeddingModelChanged,
    /// The server's tokenizer failed; local counting took over.
    Tokenizer,
    /// A reply held more function calls than are kept.
    TooManyCalls,
    /// The part of the context no flush can shrink passes the warning threshold.
    FixedPartTooLarge,
    /// An input line was changed before it was sent (control characters removed).
    InputChanged,
    /// A message too long for the context was kept whole in memory; the model got what fits.
    MessageTooLong,
    /// The server refused a prompt as too long; memscope learnt its window, flushes and sends
    /// the step again (an `error` follows only when that cannot be done).
    ContextOverflow,
}

macro_rules! kind_names {
    ($t:ty { $($v:ident => $name:literal),* $(,)? }) => {
        impl $t {
            /// The name in events and on screen (snake_case, as serialized).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(<$t>::$v => $name,)*
                }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
kind_names!(ErrorKind {
    Connection => "connection",
    Timeout => "timeout",
    RateLimited => "rate_limited",
    ServerError => "server_error",
    Auth => "auth",
    BadRequest => "bad_request",
    ContextOverflow => "context_overflow",
    InvalidResponse => "invalid_response",
    Interrupted => "interrupted",
    Store => "store",
    EditRefused => "edit_refused",
    ChainCap => "chain_cap",
    NoModel => "no_model",
    MemoryFull => "memory_full",
    SummaryFailed => "summary_failed",
    EmptyReply => "empty_reply",
    BadInput => "bad_input",
});
kind_names!(WarningKind {
    ToolsNotInPrompt => "tools_not_in_prompt",
    EmbeddingModelChanged => "embedding_model_changed",
    Tokenizer => "tokenizer",
    TooManyCalls => "too_many_calls",
    FixedPartTooLarge => "fixed_part_too_large",
    InputChanged => "input_changed",
    MessageTooLong => "message_too_long",
    ContextOverflow => "context_overflow",
});

/// Why the next model call happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditSource {
    Agent,
    User,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// A user message that could not be saved (the `error` event of kind `store` before it
    /// says why): it was not sent to the model, and a face may offer it again.
    MessageNotSaved {
        text: String,
    },
    /// A model call is under way (the UI shows "waiting for the model").
    ModelCall {
        trigger: Trigger,
    },
    /// A failed model call will be retried after `wait_ms`.
    Retry {
        kind: ErrorKind,
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
        /// The id of the call this answers.
        call_id: String,
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
    /// The system instructions were changed by hand (or an earlier change undone).
    InstructionsEdited {
        /// The instructions now at the head of the system message.
        instructions: String,
        /// The agent's own (false: memscope's default).
        custom: bool,
        /// This undid the change before it.
        undo: bool,
    },
    /// Archival memory was changed by hand.
    ArchivalEdited {
        added: Vec<u64>,
        deleted: Vec<u64>,
        message: String,
    },
    Budget(Budget),
    /// The request just sent shares less with the previous one than it could: where the
    /// shared prefix broke and why (see `tokens::CacheBreak`).
    CacheBreak {
        /// The first section that differs (`core memory <human>`, `memory metadata`...).
        section: String,
        cause: String,
        /// The prefix still shared, and the whole prompt, in tokens.
        shared_tokens: u32,
        prompt_tokens: u32,
    },
    /// Something failed.
    Error {
        kind: ErrorKind,
        message: String,
    },
    /// Advice: nothing failed, but the user should know.
    Warning {
        kind: WarningKind,
        message: String,
    },
    /// The chain for one user input is over; the engine waits for the user.
    ChainEnded {
        steps: u32,
    },
    /// The agent was taken back to right after `to_step` (a rewind, a pop, or the first half
    /// of a retry); what it was is kept whole as the agent `backup`. Faces read the agent
    /// again.
    Rewound {
        to_step: u64,
        backup: String,
        /// The user message that was dropped (pop, retry).
        dropped_input: Option<String>,
        /// Core memory as it now is.
        core: Vec<crate::memory::Block>,
        /// The journal entries below this are the agent's history now (this event is the
        /// first after them).
        history_before: u64,
    },
    /// A new agent was made from this one as it was right after `from_step`.
    Forked {
        from_step: u64,
        name: String,
    },
    /// A reply in the queue was replaced by a changed copy (rethink, rewrite): the copy `id`
    /// took the place of `replaced`, which recall keeps as it was; `before` is the text that
    /// changed.
    MessageEdited {
        id: u64,
        replaced: u64,
        /// `thought` or `message`.
        part: String,
        before: String,
        after: String,
    },
    /// A document load goes on (sent as it goes; not journaled).
    LoadProgress(crate::transfer::load::Progress),
    /// A file a load could not read, and why; the load goes on without it.
    LoadSkipped {
        path: String,
        reason: String,
    },
    /// A document load is over.
    LoadFinished(crate::transfer::load::Summary),
}

impl EventKind {
    /// Whether the event belongs in the store's journal: what a transcript, a function log or a
    /// watcher is made of. Budgets, streamed pieces, retries and `ready` are for the moment only.
    pub fn journaled(&self) -> bool {
        !matches!(
            self,
            EventKind::Budget(_)
                | EventKind::ThoughtDelta { .. }
                | EventKind::Retry { .. }
                | EventKind::Ready { .. }
                | EventKind::LoadProgress(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journaled_event_reads_back_exactly() {
        // Durations are floats: history must show what the live face showed, to the last bit.
        for ms in [
            0.021169999999999998,
            0.0055899999999999995,
            1e-7,
            12345.678901234567,
        ] {
            let ev = Event {
                step: 3,
                time: Utc::now(),
                kind: EventKind::FunctionReturn {
                    name: "f".into(),
                    call_id: "c".into(),
                    status: Status::Ok,
                    message: "m".into(),
                    heartbeat: false,
                    duration_ms: ms,
                },
            };
            let back: Event = serde_json::from_slice(&serde_json::to_vec(&ev).unwrap()).unwrap();
            assert_eq!(back, ev);
        }
    }

    #[test]
    fn kind_names_are_what_serde_writes() {
        for k in [
            ErrorKind::Connection,
            ErrorKind::EditRefused,
            ErrorKind::EmptyReply,
            ErrorKind::BadInput,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for k in [
            WarningKind::ToolsNotInPrompt,
            WarningKind::TooManyCalls,
            WarningKind::FixedPartTooLarge,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
