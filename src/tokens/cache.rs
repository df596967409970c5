//! What the prompt cache did for a model call: the prefix a request shares with the one before
//! it, what the server says it took from its cache, where the shared prefix broke and why, and
//! the session's running figures.
//!
//! Contract: plain data, shown in the budget pane, the headless `budget` event and each step's
//! trace. The figures are computed by `engine::cache`.

use serde::{Deserialize, Serialize};

/// A section of the prompt, in the order sections are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "of")]
pub enum Section {
    /// The model the request names (a different model reuses nothing).
    Model(String),
    /// The function schemas (native mode).
    Tools,
    /// The fixed instructions at the head of the system message.
    Instructions,
    /// One core-memory block, by label.
    Core(String),
    /// The memory-metadata block.
    Metadata,
    /// The recursive summary.
    Summary,
    /// A message of the queue, by id.
    Message(u64),
}

impl Section {
    pub fn name(&self) -> String {
        match self {
            Section::Model(_) => "model".into(),
            Section::Tools => "tools".into(),
            Section::Instructions => "instructions".into(),
            Section::Core(label) => format!("core memory <{label}>"),
            Section::Metadata => "memory metadata".into(),
            Section::Summary => "summary".into(),
            Section::Message(id) => format!("message {id}"),
        }
    }
}

/// One section of a request: what it is, a fingerprint of its text, and its tokens. The text
/// itself is kept for the sections of the system message, so that the start a changed section
/// still shares can be counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub section: Section,
    pub hash: u64,
    pub tokens: u32,
    #[serde(skip)]
    pub text: Option<String>,
}

/// Where a request first differs from the one before it, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheBreak {
    /// The first section that differs: `model`, `tools`, `instructions`, `core memory <label>`,
    /// `memory metadata`, `summary`, `message <id>`, or `end` (the previous request held more).
    pub section: String,
    /// What changed it, in words (`core block 'human' edited by the agent`, `flush`...).
    pub cause: String,
}

/// The cache figures of one model call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStat {
    /// The prompt's tokens by the active counter.
    pub prompt_tokens: u32,
    /// Of them, the prefix shared with the previous request of this session.
    pub shared_tokens: u32,
    /// The server's own count of the prompt, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_prompt: Option<u32>,
    /// What the server said it took from its cache, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cached: Option<u32>,
    /// Where and why the shared prefix broke (none for the first request of a session, or
    /// when this request only appends to the previous one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broke: Option<CacheBreak>,
}

impl CacheStat {
    /// The share of the prompt that a prefix cache can reuse, 0 to 1.
    pub fn share(&self) -> f64 {
        if self.prompt_tokens == 0 {
            return 0.0;
        }
        self.shared_tokens as f64 / self.prompt_tokens as f64
    }
}

/// The running figures of a session, with its last call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMeter {
    pub last: CacheStat,
    /// Main-context calls this session.
    pub calls: u32,
    pub prompt_tokens: u64,
    pub shared_tokens: u64,
    /// Sums over the calls whose server reported a cached figure.
    pub server_cached: u64,
    pub server_reported_prompt: u64,
    /// Calls where the shared prefix broke.
    pub breaks: u32,
}

impl CacheMeter {
    pub fn record(&mut self, stat: CacheStat) {
        self.calls += 1;
        self.prompt_tokens += stat.prompt_tokens as u64;
        self.shared_tokens += stat.shared_tokens as u64;
        if let Some(c) = stat.server_cached {
            self.server_cached += c as u64;
            self.server_reported_prompt +=
                stat.server_prompt.unwrap_or(stat.prompt_tokens).max(c) as u64;
        }
        self.breaks += stat.broke.is_some() as u32;
        self.last = stat;
    }

    /// The session's share of prompt tokens a prefix cache could reuse, 0 to 1.
    pub fn hit_rate(&self) -> f64 {
        if self.prompt_tokens == 0 {
            return 0.0;
        }
        self.shared_tokens as f64 / self.prompt_tokens as f64
    }

    /// The session's share the server said it reused, where it says.
    pub fn server_hit_rate(&self) -> Option<f64> {
        (self.server_reported_prompt > 0)
            .then(|| self.server_cached as f64 / self.server_reported_prompt as f64)
    }
}
