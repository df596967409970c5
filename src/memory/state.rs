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
    /// The summary as the model reads it, written once at the flush so that it stays the same
    /// from request to request (empty in stores from before it was kept).
    #[serde(default)]
    pub rendered: String,
}

/// The last step request's sections, as saved: those before the queue (without their texts),
/// and the ids of the queue's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPrompt {
    pub head: Vec<crate::tokens::Segment>,
    #[serde(with = "super::ids")]
    pub messages: Vec<u64>,
}

/// The parts of the system message that change, as last compiled: the system message is built
/// again only when memory changes (MemGPT's way), so that consecutive requests share it and a
/// server's prefix cache can reuse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompiledSystem {
    /// Core memory as the system message shows it.
    pub core: CoreMemory,
    /// The memory-metadata block, as of `compiled_at`.
    pub metadata: String,
    pub compiled_at: DateTime<Utc>,
    /// Why it was compiled: `flush`, `core block 'human' edited by the agent`...
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub core: CoreMemory,
    pub core_updated_at: DateTime<Utc>,
    pub summary: Option<Summary>,
    /// Ids (in recall) of the messages in the FIFO queue, oldest first.
    #[serde(with = "super::ids")]
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
    /// How this agent talks to its model.
    #[serde(default)]
    pub policy: AgentPolicy,
    /// The context window the writer last used, and where it came from, so that readers
    /// (`dump`, `watch`) show the same budget.
    #[serde(default)]
    pub window: Option<SavedWindow>,
    /// The system message's changing parts as last compiled (none in stores from before it was
    /// kept: compiled on open).
    #[serde(default)]
    pub system: Option<CompiledSystem>,
    /// The window and the fixed part of the context without the summary (window << 32 | tokens)
    /// last reported as passing the warning threshold, so that it is reported once until one of
    /// them changes.
    #[serde(default)]
    pub fixed_warned: Option<u64>,
    /// The sections of the last step request sent (without their texts), so that the first
    /// request of the next session can say what broke the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_prompt: Option<SavedPrompt>,
    /// Commits made so far: orders the agent's changes finely enough for a fork to tell what
    /// came before a point in its history (a passage deleted by hand between two steps).
    #[serde(default)]
    pub commits: u64,
    /// The next session's first message goes without a login event: set on an agent forked
    /// or rewound to a point its original went on from in the same session, so that the same
    /// input makes the same request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_login: bool,
    /// The agent's own instructions at the head of the system message, in place of memscope's
    /// (kept from an imported agent; none for memscope's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// What each change of the instructions replaced, oldest first (for undo; at most
    /// [`INSTRUCTIONS_UNDO`] kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instructions_undo: Vec<Option<String>>,
}

/// How many changes of the instructions can be undone.
pub const INSTRUCTIONS_UNDO: usize = 32;

/// A context window as saved with the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedWindow {
    pub tokens: u32,
    /// `config`, `server`, `model table` or `default`.
    pub source: String,
}

/// How function calls travel between memscope and the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolMode {
    /// The server's own `tools` / `tool_calls`.
    #[default]
    Native,
    /// MemGPT's approach for servers or models without usable tool calling: the functions are
    /// described in the prompt and the reply is one JSON object, constrained by
    /// `response_format` where the server supports it.
    Json,
}

/// What a reply without a function call means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoToolReply {
    /// Inner thought; wait for the user (MemGPT's rule).
    #[default]
    Thought,
    /// Deliver the text to the user as if sent with send_message (for chat models that
    /// ignore tools).
    Message,
}

/// The `tool_choice` sent in native mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    #[default]
    Auto,
    /// Ask the server to force a function call (where it supports it).
    Required,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPolicy {
    #[serde(default)]
    pub tool_mode: ToolMode,
    #[serde(default)]
    pub no_tool_reply: NoToolReply,
    #[serde(default)]
    pub tool_choice: ToolChoice,
    #[serde(default)]
    pub core_edits: CoreEdits,
}

/// How a core-memory edit reaches the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoreEdits {
    /// The system message is compiled again at once (MemGPT's way): the model always sees
    /// core memory in one place, and the prompt cache breaks at the edited block.
    #[default]
    Recompile,
    /// The edit travels as a memory-update event in the queue and is folded into the system
    /// message at the next flush: the prompt prefix stays cached.
    Append,
}

macro_rules! names {
    ($t:ty, $($v:ident => $s:literal),+) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
            pub const NAMES: &'static [&'static str] = &[$($s),+];
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok(Self::$v),)+
                    other => Err(format!("'{other}' is not one of: {}", Self::NAMES.join(", "))),
                }
            }
        }
    };
}
names!(ToolMode, Native => "native", Json => "json");
names!(NoToolReply, Thought => "thought", Message => "message");
names!(ToolChoice, Auto => "auto", Required => "required");
names!(CoreEdits, Recompile => "recompile", Append => "append");

impl AgentPolicy {
    /// A short description for status lines, e.g. "native tools · text is thought".
    pub fn describe(&self) -> String {
        let mode = match self.tool_mode {
            ToolMode::Native => "native tools",
            ToolMode::Json => "JSON mode",
        };
        let text = match self.no_tool_reply {
            NoToolReply::Thought => "text is thought",
            NoToolReply::Message => "text is sent",
        };
        let choice =
            if self.tool_choice == ToolChoice::Required && self.tool_mode == ToolMode::Native {
                " · calls required"
            } else {
                ""
            };
        let edits = match self.core_edits {
            CoreEdits::Recompile => "",
            CoreEdits::Append => " · core edits appended",
        };
        format!("{mode} · {text}{choice}{edits}")
    }
}

/// Agent settings given on the command line or in the config file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyOverride {
    pub tool_mode: Option<ToolMode>,
    pub no_tool_reply: Option<NoToolReply>,
    pub tool_choice: Option<ToolChoice>,
    pub core_edits: Option<CoreEdits>,
}

impl PolicyOverride {
    pub fn apply(&self, p: &mut AgentPolicy) -> bool {
        let before = *p;
        if let Some(m) = self.tool_mode {
            p.tool_mode = m;
        }
        if let Some(n) = self.no_tool_reply {
            p.no_tool_reply = n;
        }
        if let Some(c) = self.tool_choice {
            p.tool_choice = c;
        }
        if let Some(c) = self.core_edits {
            p.core_edits = c;
        }
        *p != before
    }
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
            policy: AgentPolicy::default(),
            window: None,
            system: None,
            fixed_warned: None,
            last_prompt: None,
            commits: 0,
            no_login: false,
            instructions: None,
            instructions_undo: Vec::new(),
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
        /// The system message; empty in a stored trace that names it by `system_id` instead.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        system: String,
        /// The fingerprint the system message is stored under (see `store::texts`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        system_id: Option<u64>,
        summary: Option<String>,
        /// The fingerprint the summary alert is stored under, when `summary` is left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary_id: Option<u64>,
        #[serde(with = "super::ids")]
        message_ids: Vec<u64>,
        /// How calls and results were rendered (JSON mode has no `tools`).
        #[serde(default)]
        tool_mode: ToolMode,
        #[serde(default)]
        tool_choice: ToolChoice,
        /// Whether the reply was streamed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stream: bool,
        /// Whether the stream asked for a closing usage chunk (`stream_options`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stream_usage: bool,
        /// The `response_format` sent in JSON mode.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_format: Option<serde_json::Value>,
    },
    /// Any other request (summary calls), stored whole.
    Raw { body: serde_json::Value },
}

/// The fingerprint a shared text is stored under (FNV-1a, stable across builds).
pub fn text_id(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl RequestRecord {
    /// The record as a trace stores it: the system message and summary named by fingerprint
    /// (they change only at a compile or a flush, so many traces share them), with the texts
    /// to store once.
    pub fn stored(&self) -> (RequestRecord, Vec<(u64, String)>) {
        let mut r = self.clone();
        let mut texts = Vec::new();
        if let RequestRecord::Step {
            system,
            system_id,
            summary,
            summary_id,
            ..
        } = &mut r
        {
            if !system.is_empty() {
                let text = std::mem::take(system);
                *system_id = Some(text_id(&text));
                texts.push((text_id(&text), text));
            }
            if let Some(text) = summary.take() {
                *summary_id = Some(text_id(&text));
                texts.push((text_id(&text), text));
            }
        }
        (r, texts)
    }

    /// The record with the texts it names filled in again, read with `fetch`.
    pub fn resolved<E>(
        &self,
        fetch: impl Fn(u64) -> Result<Option<String>, E>,
    ) -> Result<RequestRecord, E> {
        let mut r = self.clone();
        if let RequestRecord::Step {
            system,
            system_id,
            summary,
            summary_id,
            ..
        } = &mut r
        {
            if let Some(id) = system_id.take() {
                *system = fetch(id)?.unwrap_or_default();
            }
            if let Some(id) = summary_id.take() {
                *summary = fetch(id)?;
            }
        }
        Ok(r)
    }
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
    /// The prompt cache for this call: prefix shared with the previous request, the server's
    /// cached figure, where the prefix broke (step calls only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::tokens::CacheStat>,
    /// The agent's state as this call's commit left it, compacted (see `memory::snapshot`):
    /// what a fork or rewind to this step restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// The journal's next sequence number after this commit (entries below it are history as
    /// of this step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_next: Option<u64>,
}
