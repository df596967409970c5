//! Token accounting of one agent's main context: the budget by section, the counts the
//! server's tokenizer still has to give, and what memory-pressure decisions compare.
//!
//! Contract: pure reads of the agent (counts are cached on it); nothing here talks to the
//! network. With the server's tokenizer each section takes its exact count when there is one,
//! else its local count scaled by what the server's counts have shown so far.

use std::borrow::Cow;

use super::agent::Agent;
use crate::memory::{Message, Role, ToolMode};
use crate::tokens::{Budget, CountKey, MESSAGE_OVERHEAD, REPLY_PRIMING, text_key};

/// What memory-pressure decisions see (see [`Agent::pressure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pressure {
    /// The prompt leaves too little room for the reply.
    pub needs_flush: bool,
    /// The fixed part alone passes the warning threshold: warnings cannot help, and a flush
    /// cannot bring the context back under it.
    pub stuck: bool,
    /// The prompt would not fit the window at all.
    pub overfull: bool,
}

impl Agent {
    /// The text a message is sent as, for counting: with native tool calls every field the
    /// request carries for it; in JSON mode a reply is the JSON the model wrote and a result
    /// is the user-role event it travels as.
    pub fn wire_text(&self, m: &Message) -> String {
        match (self.state.policy.tool_mode, m.role) {
            (ToolMode::Native, _) => m.token_text(),
            (ToolMode::Json, Role::Tool) => crate::functions::json_mode::result_event(m),
            (ToolMode::Json, _) => m.content.clone(),
        }
    }

    /// Counts a message as it is sent (see [`Agent::wire_text`]) and caches the count on it.
    pub fn count_message(&self, m: &mut Message) {
        m.tokens = self.counter.count(&self.wire_text(m));
    }

    /// A message's tokens: the server's count when known, else the local count (scaled by
    /// what the server's counts have shown so far).
    pub fn message_tokens(&self, m: &Message) -> u32 {
        if !self.exact.active() {
            return m.tokens;
        }
        self.exact
            .message(m.id)
            .unwrap_or_else(|| (m.tokens as f64 * self.exact.scale()).ceil() as u32)
    }

    /// The texts the server's tokenizer has not counted yet (nothing without one).
    pub fn uncounted(&self) -> Vec<(CountKey, String)> {
        if !self.exact.active() {
            return Vec::new();
        }
        let sections = [
            Cow::Borrowed(self.base_instructions()),
            Cow::Borrowed(self.metadata()),
            Cow::Owned(self.compiled().core.render()),
            Cow::Borrowed(self.functions_text()),
            Cow::Owned(self.summary_event().unwrap_or_default()),
        ];
        let messages: Vec<(u64, String)> = self
            .fifo()
            .iter()
            .filter(|m| self.exact.message(m.id).is_none())
            .map(|m| (m.id, self.wire_text(m)))
            .collect();
        self.exact.wanted(
            sections
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| (text_key(t), t.as_ref()))
                .chain(
                    messages
                        .iter()
                        .map(|(id, t)| (CountKey::Message(*id), t.as_str())),
                ),
        )
    }

    /// Stores a count the server's tokenizer gave for one of [`Agent::uncounted`].
    pub fn record_count(&mut self, key: CountKey, tokens: u32) {
        match key {
            CountKey::Message(id) => {
                if let Some(m) = self.fifo().iter().find(|m| m.id == id) {
                    let local = m.tokens;
                    self.exact.insert_message(id, tokens, local);
                }
            }
            CountKey::Text(_) => self.exact.insert(key, tokens),
        }
        self.prompt_head = std::sync::OnceLock::new();
    }

    pub fn budget(&self) -> Budget {
        let s = &self.settings;
        let c = &self.counter;
        let exact = &self.exact;
        // With the server's tokenizer, each section takes its exact count when there is one.
        let active = exact.active();
        let mut missing = 0usize;
        let mut exact_of = |text: &str| -> Option<u32> {
            let n = exact.text(text);
            missing += n.is_none() as usize;
            n
        };
        let tools_tokens = active
            .then(|| exact_of(self.functions_text()))
            .flatten()
            .unwrap_or_else(|| {
                *self
                    .tools_tokens
                    .get_or_init(|| c.count(self.functions_text()))
            });
        let base_tokens = active
            .then(|| exact_of(self.base_instructions()))
            .flatten()
            .unwrap_or_else(|| {
                *self
                    .base_tokens
                    .get_or_init(|| c.count(self.base_instructions()))
            });
        let core = || self.compiled().core.render();
        let core_tokens = active
            .then(|| exact_of(&core()))
            .flatten()
            .unwrap_or_else(|| *self.core_tokens.get_or_init(|| c.count(&core())));
        let metadata = self.metadata();
        let metadata_tokens = active
            .then(|| exact_of(metadata))
            .flatten()
            .unwrap_or_else(|| *self.metadata_tokens.get_or_init(|| c.count(metadata)));
        let system = base_tokens + metadata_tokens + MESSAGE_OVERHEAD;
        let summary = match &self.state.summary {
            None => 0,
            Some(s) => {
                active
                    .then(|| exact_of(&self.summary_event().unwrap_or_default()))
                    .flatten()
                    .unwrap_or(s.tokens)
                    + MESSAGE_OVERHEAD
            }
        };
        let messages: u32 = self
            .fifo()
            .iter()
            .map(|m| {
                if active && exact.message(m.id).is_none() {
                    missing += 1;
                }
                self.message_tokens(m) + MESSAGE_OVERHEAD
            })
            .sum();
        let total = system + tools_tokens + core_tokens + summary + messages + REPLY_PRIMING;
        let (encoding, approximate) = match exact.source() {
            Some(source) => (source.to_string(), missing > 0),
            None => (self.counter.encoding.to_string(), self.counter.approximate),
        };
        Budget {
            context_window: s.context_window,
            system,
            functions: tools_tokens,
            core_memory: core_tokens,
            summary,
            messages,
            total,
            server_prompt_tokens: self.server_prompt_tokens,
            warn_at: s.warn_at(),
            flush_at: s.flush_at(),
            encoding,
            approximate,
            window_source: self.settings.window_source.as_str().to_string(),
            queue_len: self.fifo().len() as u32,
            deciding: self.effective(total),
            basis: self.basis(),
            core_edits_pending: self.core_edits_pending(),
            cache: (self.cache.calls > 0).then(|| self.cache.clone()),
        }
    }

    /// How the figure memory-pressure decisions use is counted, in words.
    pub fn basis(&self) -> String {
        let ratio = self.server_ratio.max(1.0);
        let local = if self.exact.active() {
            "by the server's tokenizer".to_string()
        } else {
            format!("by the local {} count", self.counter.encoding)
        };
        if ratio > 1.0 {
            format!("{local}, scaled ×{ratio:.2} to the server's count of the last prompt")
        } else {
            local
        }
    }

    /// Whether the next prompt would leave too little room for the reply.
    pub fn needs_flush(&self) -> bool {
        self.pressure(&self.budget()).needs_flush
    }

    /// What memory-pressure decisions see in `b`, this agent's budget.
    pub fn pressure(&self, b: &Budget) -> Pressure {
        let s = &self.settings;
        Pressure {
            needs_flush: self.effective(b.total) > s.flush_at(),
            stuck: self.effective(self.fixed_part(b)) > s.warn_at(),
            overfull: self.effective(b.total) > s.context_window,
        }
    }

    /// The part of the context no flush can shrink (system, functions, core memory, summary,
    /// reply priming), in local tokens.
    pub fn fixed_part(&self, b: &Budget) -> u32 {
        b.total - b.messages
    }

    /// The notice for the user when the fixed part passes the warning threshold: once, until
    /// that part changes other than by a flush, or the window does (or it falls back under the
    /// threshold).
    pub fn fixed_part_notice(&mut self, b: &Budget) -> Option<String> {
        let fixed = self.fixed_part(b);
        if self.effective(fixed) <= self.settings.warn_at() {
            self.state.fixed_warned = None;
            return None;
        }
        // A flush's new summary is not news: what the user can change (the window, the
        // functions, the system message, core memory) is.
        let key = ((b.context_window as u64) << 32) | (fixed - b.summary) as u64;
        if self.state.fixed_warned == Some(key) {
            return None;
        }
        self.state.fixed_warned = Some(key);
        Some(super::prompt::fixed_part_warning(
            b,
            self.effective(fixed),
            self.settings.warn_at(),
            &self.basis(),
        ))
    }

    /// A local count scaled to what the server would count (see `server_ratio`).
    pub fn effective(&self, local: u32) -> u32 {
        (local as f64 * self.server_ratio.max(1.0)) as u32
    }

    /// Learns from the server's own count of a prompt the local count put at `local`.
    pub fn calibrate(&mut self, local: u32, server: Option<u32>) {
        if let Some(s) = server.filter(|_| local > 0) {
            self.server_prompt_tokens = Some(s);
            self.server_ratio = (s as f64 / local as f64).clamp(1.0, 4.0);
        }
    }
}

impl Agent {
    /// The window the agent last ran with (a server may have said it) beats a guess from the
    /// model name, unless the configuration names one: a reader shows it, and a writer that
    /// asks no server (`archival insert`, `load`) keeps it instead of saving the guess over it.
    /// A writer's engine asks its server again anyway.
    pub(super) fn take_saved_window(&mut self) {
        use super::WindowSource as W;
        let Some(w) = &self.state.window else { return };
        let Some(source) = W::parse(&w.source) else {
            return;
        };
        let configured = self.settings.window_source;
        let take = if self.store.is_writer() {
            matches!(configured, W::ModelTable | W::Default)
                && matches!(source, W::Server | W::Config)
        } else {
            configured != W::Config
        };
        if take {
            self.settings.context_window = w.tokens;
            self.settings.window_source = source;
        }
    }
}
