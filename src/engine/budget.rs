//! Token accounting of one agent's main context: the budget by section, the counts the
//! server's tokenizer still has to give, and what memory-pressure decisions compare.
//!
//! Contract: pure reads of the agent (counts are cached on it); nothing here talks to the
//! network. With the server's tokenizer each section takes its exact count when there is one,
//! else its local count scaled by what the server's counts have shown so far.

use std::borrow::Cow;

use super::agent::{Agent, BASE_INSTRUCTIONS};
use crate::memory::Message;
use crate::tokens::{Budget, CountKey, MESSAGE_OVERHEAD, REPLY_PRIMING, text_key};

impl Agent {
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
            Cow::Borrowed(BASE_INSTRUCTIONS),
            Cow::Owned(self.metadata()),
            Cow::Owned(self.state.core.render()),
            Cow::Borrowed(self.functions_text()),
            Cow::Owned(self.summary_event().unwrap_or_default()),
        ];
        let messages: Vec<(u64, String)> = self
            .fifo()
            .iter()
            .filter(|m| self.exact.message(m.id).is_none())
            .map(|m| (m.id, m.token_text()))
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
            .then(|| exact_of(BASE_INSTRUCTIONS))
            .flatten()
            .unwrap_or_else(|| *self.base_tokens.get_or_init(|| c.count(BASE_INSTRUCTIONS)));
        let core_tokens = active
            .then(|| exact_of(&self.state.core.render()))
            .flatten()
            .unwrap_or_else(|| {
                *self
                    .core_tokens
                    .get_or_init(|| c.count(&self.state.core.render()))
            });
        let metadata = self.metadata();
        let metadata_tokens = active
            .then(|| exact_of(&metadata))
            .flatten()
            .unwrap_or_else(|| c.count(&metadata));
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
        }
    }

    /// Whether the next prompt would leave too little room for the reply.
    pub fn needs_flush(&self) -> bool {
        self.effective(self.budget().total) > self.settings.flush_at()
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
