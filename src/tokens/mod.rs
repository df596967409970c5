//! Token counting and the main-context budget.
//!
//! Contract: [`TokenCounter`] picks the tiktoken encoding for the model name and falls back to
//! cl100k, marking the count approximate. Counts are cached per message by the engine (see
//! `Message::tokens`), so a step only counts what is new. [`Budget`] is the main context by
//! section, as shown in the UI and the headless `budget` event. Where the server has a
//! tokenizer, [`ExactCounts`] holds its counts, which take the place of the local ones.

mod cache;
mod exact;

pub use cache::{CacheBreak, CacheMeter, CacheStat, Section, Segment};
pub use exact::{CountKey, ExactCounts, text_key};

use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

/// Tokens each chat message costs beyond its text (role and separators), as OpenAI documents.
pub const MESSAGE_OVERHEAD: u32 = 4;
/// Tokens that prime the reply.
pub const REPLY_PRIMING: u32 = 3;

#[derive(Clone)]
pub struct TokenCounter {
    /// Loads (once, process-wide) and returns the encoding; blocks while another thread loads it.
    bpe: fn() -> &'static CoreBPE,
    pub encoding: &'static str,
    /// True when the model's own tokenizer is unknown and cl100k stands in for it.
    pub approximate: bool,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenCounter({}, approximate={})",
            self.encoding, self.approximate
        )
    }
}

impl TokenCounter {
    /// Picks the encoding and starts loading it on a background thread, so that start-up does
    /// not wait for it (loading o200k takes about 0.1 s); the first count waits if needed.
    pub fn for_model(model: &str) -> Self {
        use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};
        let found = get_tokenizer(model);
        let tokenizer = match found {
            Some(Tokenizer::O200kBase) | Some(Tokenizer::O200kHarmony) => Tokenizer::O200kBase,
            _ => Tokenizer::Cl100kBase,
        };
        let (bpe, encoding): (fn() -> &'static CoreBPE, _) = match tokenizer {
            Tokenizer::O200kBase => (tiktoken_rs::o200k_base_singleton, "o200k_base"),
            _ => (tiktoken_rs::cl100k_base_singleton, "cl100k_base"),
        };
        std::thread::spawn(move || {
            bpe();
        });
        let approximate = !matches!(
            found,
            Some(Tokenizer::O200kBase | Tokenizer::O200kHarmony | Tokenizer::Cl100kBase)
        );
        TokenCounter {
            bpe,
            encoding,
            approximate,
        }
    }

    pub fn count(&self, text: &str) -> u32 {
        (self.bpe)().count_ordinary(text) as u32
    }
}

/// The main context by section, in tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub context_window: u32,
    /// Base instructions and the memory-metadata block.
    pub system: u32,
    /// The memory function schemas.
    pub functions: u32,
    pub core_memory: u32,
    pub summary: u32,
    /// The FIFO queue of recent messages.
    pub messages: u32,
    pub total: u32,
    /// `usage.prompt_tokens` of the last model call, when the server reported it.
    pub server_prompt_tokens: Option<u32>,
    /// A memory-pressure warning fires above this many tokens.
    pub warn_at: u32,
    /// Messages are evicted into the summary above this many tokens.
    pub flush_at: u32,
    /// The counter in use: a tiktoken encoding or the server's tokenizer.
    pub encoding: String,
    /// True when some section was counted with a stand-in encoding.
    pub approximate: bool,
    /// Where the context window figure came from: config, server, model table or default.
    pub window_source: String,
    /// Messages in the FIFO queue.
    pub queue_len: u32,
    /// The figure memory-pressure decisions use (`total` as the server would count it).
    #[serde(default)]
    pub deciding: u32,
    /// How `deciding` was reached, in words.
    #[serde(default)]
    pub basis: String,
    /// Core edits that wait for the next flush to reach the system message (the `append`
    /// core-edit mode); until then they travel as memory-update events in the queue.
    #[serde(default)]
    pub core_edits_pending: u32,
    /// The prompt cache: the last call's shared prefix and the session's running figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheMeter>,
}

impl Budget {
    pub fn free(&self) -> u32 {
        self.context_window.saturating_sub(self.total)
    }

    pub fn percent(&self) -> f32 {
        if self.context_window == 0 {
            0.0
        } else {
            100.0 * self.total as f32 / self.context_window as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_are_exact_and_others_approximate() {
        let gpt = TokenCounter::for_model("gpt-4o-mini");
        assert_eq!((gpt.encoding, gpt.approximate), ("o200k_base", false));
        let llama = TokenCounter::for_model("qwen2.5-7b-instruct");
        assert_eq!((llama.encoding, llama.approximate), ("cl100k_base", true));
        assert!(llama.count("hello world, how are you?") >= 5);
    }
}
