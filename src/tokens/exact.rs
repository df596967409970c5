//! Exact token counts from the server's tokenizer, cached.
//!
//! Contract: [`ExactCounts`] remembers what the server's tokenizer said: per message id for
//! messages (a message never changes once made) and per text for the other sections (system
//! instructions, metadata, core memory, function schemas, summary), so each is asked once.
//! It does no I/O: the engine asks the server for what [`ExactCounts::wanted`] lists and stores
//! the answers. While it has no source, every lookup misses and the local count stands.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// At most this many section texts are remembered; older ones are dropped all at once (they
/// are cheap to ask again, and the live ones are asked again at the next step).
const MAX_TEXTS: usize = 4096;

/// What a count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountKey {
    Message(u64),
    Text(u64),
}

#[derive(Debug, Clone, Default)]
pub struct ExactCounts {
    /// How the budget names the counter, e.g. "llama.cpp tokenizer".
    source: Option<String>,
    messages: HashMap<u64, u32>,
    texts: HashMap<u64, u32>,
    /// Sums over the messages counted both ways, for [`ExactCounts::scale`].
    exact_sum: u64,
    local_sum: u64,
}

pub fn text_key(text: &str) -> CountKey {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    CountKey::Text(h.finish())
}

impl ExactCounts {
    /// Starts using counts from `source`.
    pub fn enable(&mut self, source: &str) {
        if self.source.as_deref() != Some(source) {
            *self = ExactCounts {
                source: Some(source.to_string()),
                ..Default::default()
            };
        }
    }

    /// Stops using server counts (the tokenizer went away or the model changed).
    pub fn disable(&mut self) {
        *self = ExactCounts::default();
    }

    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub fn active(&self) -> bool {
        self.source.is_some()
    }

    pub fn message(&self, id: u64) -> Option<u32> {
        self.messages.get(&id).copied()
    }

    pub fn text(&self, text: &str) -> Option<u32> {
        if !self.active() {
            return None;
        }
        match text_key(text) {
            CountKey::Text(h) => self.texts.get(&h).copied(),
            CountKey::Message(_) => None,
        }
    }

    pub fn has(&self, key: CountKey) -> bool {
        match key {
            CountKey::Message(id) => self.messages.contains_key(&id),
            CountKey::Text(h) => self.texts.contains_key(&h),
        }
    }

    pub fn insert(&mut self, key: CountKey, tokens: u32) {
        if !self.active() {
            return;
        }
        match key {
            CountKey::Message(id) => {
                self.messages.insert(id, tokens);
            }
            CountKey::Text(h) => {
                if self.texts.len() >= MAX_TEXTS {
                    self.texts.clear();
                }
                self.texts.insert(h, tokens);
            }
        }
    }

    /// Records a message's exact count beside its local one.
    pub fn insert_message(&mut self, id: u64, exact: u32, local: u32) {
        if !self.active() {
            return;
        }
        self.messages.insert(id, exact);
        self.exact_sum += exact as u64;
        self.local_sum += local as u64;
    }

    /// How many server tokens one local token has come to on the messages counted so far
    /// (1 before any): a message not counted yet is estimated as its local count times this.
    pub fn scale(&self) -> f64 {
        if self.local_sum < 32 {
            return 1.0;
        }
        (self.exact_sum as f64 / self.local_sum as f64).clamp(0.25, 4.0)
    }

    /// Forgets messages that left the context (they are never counted again).
    pub fn retain_messages(&mut self, live: impl Fn(u64) -> bool) {
        self.messages.retain(|id, _| live(*id));
    }

    /// Of `candidates`, those not counted yet, each once.
    pub fn wanted<'a>(
        &self,
        candidates: impl IntoIterator<Item = (CountKey, &'a str)>,
    ) -> Vec<(CountKey, String)> {
        if !self.active() {
            return Vec::new();
        }
        let mut out: Vec<(CountKey, String)> = Vec::new();
        for (key, text) in candidates {
            if !self.has(key) && !out.iter().any(|(k, _)| *k == key) {
                out.push((key, text.to_string()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_wanted_or_kept_without_a_source() {
        let mut e = ExactCounts::default();
        e.insert(CountKey::Message(1), 5);
        assert_eq!(e.message(1), None);
        assert!(e.wanted([(CountKey::Message(1), "hi")]).is_empty());
    }

    #[test]
    fn each_text_and_message_is_wanted_once() {
        let mut e = ExactCounts::default();
        e.enable("server");
        let k = text_key("core memory");
        let wanted = e.wanted([
            (CountKey::Message(7), "hello"),
            (k, "core memory"),
            (k, "core memory"),
        ]);
        assert_eq!(wanted.len(), 2);
        e.insert(CountKey::Message(7), 2);
        e.insert(k, 3);
        assert_eq!((e.message(7), e.text("core memory")), (Some(2), Some(3)));
        assert!(
            e.wanted([(CountKey::Message(7), "hello"), (k, "core memory")])
                .is_empty()
        );
        e.retain_messages(|id| id != 7);
        assert_eq!(e.message(7), None);
    }

    #[test]
    fn the_scale_follows_what_the_server_counted() {
        let mut e = ExactCounts::default();
        e.enable("server");
        assert_eq!(e.scale(), 1.0);
        e.insert_message(1, 60, 30);
        e.insert_message(2, 40, 20);
        assert_eq!(e.scale(), 2.0);
    }

    #[test]
    fn a_new_source_starts_afresh() {
        let mut e = ExactCounts::default();
        e.enable("a");
        e.insert(CountKey::Message(1), 9);
        e.enable("a");
        assert_eq!(e.message(1), Some(9));
        e.enable("b");
        assert_eq!(e.message(1), None);
    }
}
