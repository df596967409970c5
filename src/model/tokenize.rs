//! The server's own tokenizer, where it offers one.
//!
//! Contract: [`ModelClient::detect_tokenizer`] asks the server's root (the base URL without
//! `/v1`) for a tokenize endpoint in each dialect it knows, with a short timeout, and returns a
//! [`ServerTokenizer`] for the first that answers with a count; `None` when none does (OpenAI,
//! Ollama, LM Studio). [`ServerTokenizer::count`] gives the number of tokens the model's own
//! tokenizer makes of a text, without the special tokens the server would add around a
//! whole prompt (a BOS the endpoint adds is measured once and taken off).

use std::time::Duration;

use serde_json::{Value, json};

use super::{ModelClient, ModelError};

/// How long one tokenize request may take; the endpoint is cheap, so a slow answer means the
/// server is busy and the local count is better than waiting.
const TIMEOUT: Duration = Duration::from_secs(10);
use super::client::PROBE_TIMEOUT;

/// The tokenize endpoints memscope knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// llama.cpp's `llama-server`: `POST /tokenize {"content"}` → `{"tokens": [...]}`.
    LlamaCpp,
    /// vLLM: `POST /tokenize {"model", "prompt", "add_special_tokens"}` → `{"count"}`.
    Vllm,
    /// llama-cpp-python's server: `POST /extras/tokenize/count {"input"}` → `{"count"}`
    /// (counts a BOS too).
    LlamaCppPython,
}

impl Dialect {
    const ALL: [Dialect; 3] = [Dialect::LlamaCpp, Dialect::Vllm, Dialect::LlamaCppPython];

    fn path(self) -> &'static str {
        match self {
            Dialect::LlamaCpp | Dialect::Vllm => "tokenize",
            Dialect::LlamaCppPython => "extras/tokenize/count",
        }
    }

    fn body(self, model: &str, text: &str) -> Value {
        match self {
            Dialect::LlamaCpp => json!({"content": text, "add_special": false}),
            Dialect::Vllm => json!({"model": model, "prompt": text, "add_special_tokens": false}),
            Dialect::LlamaCppPython => json!({"input": text, "model": model}),
        }
    }

    /// The count in an answer, if the answer is this dialect's.
    fn read(self, v: &Value) -> Option<u32> {
        let n = match self {
            Dialect::LlamaCpp => v["tokens"].as_array().map(|a| a.len() as u64),
            Dialect::Vllm | Dialect::LlamaCppPython => v["count"].as_u64(),
        }?;
        u32::try_from(n).ok()
    }

    /// How the budget names the counter (short: it shares a line in a narrow pane).
    pub fn label(self) -> &'static str {
        match self {
            Dialect::LlamaCpp => "llama.cpp tokenizer",
            Dialect::Vllm => "vLLM tokenizer",
            Dialect::LlamaCppPython => "llama-cpp-py tokenizer",
        }
    }
}

/// Counts tokens with the server's tokenizer.
#[derive(Debug, Clone)]
pub struct ServerTokenizer {
    client: ModelClient,
    url: String,
    pub dialect: Dialect,
    /// Tokens the endpoint adds to any text (a BOS), taken off every count.
    baseline: u32,
}

impl ServerTokenizer {
    pub fn label(&self) -> &'static str {
        self.dialect.label()
    }

    /// Tokens of `text` by the model's own tokenizer.
    pub async fn count(&self, text: &str) -> Result<u32, ModelError> {
        Ok(self.ask(text, TIMEOUT).await?.saturating_sub(self.baseline))
    }

    async fn ask(&self, text: &str, timeout: Duration) -> Result<u32, ModelError> {
        let body = serde_json::to_vec(&self.dialect.body(self.client.model(), text))
            .expect("json bodies serialize");
        let v = tokio::time::timeout(timeout, self.client.post_once(&self.url, &body))
            .await
            .map_err(|_| ModelError::Timeout(timeout))??;
        self.dialect.read(&v).ok_or_else(|| {
            ModelError::InvalidResponse("the tokenize answer holds no token count".into())
        })
    }
}

impl ModelClient {
    /// Finds the server's tokenize endpoint, if it has one (see the module doc).
    pub async fn detect_tokenizer(&self) -> Option<ServerTokenizer> {
        let root = self
            .base_url()
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_string();
        // Every dialect's route is asked at once; the first in preference order that counts
        // wins. A server that has none costs one short wait.
        let probes = Dialect::ALL.into_iter().map(|dialect| {
            let mut tok = ServerTokenizer {
                client: self.clone(),
                url: format!("{root}/{}", dialect.path()),
                dialect,
                baseline: 0,
            };
            async move {
                // A probe text whose count must be positive; the empty text shows what the
                // endpoint adds by itself.
                let n = tok.ask("memory", PROBE_TIMEOUT).await.ok()?;
                if n == 0 {
                    return None;
                }
                match tok.ask("", PROBE_TIMEOUT).await {
                    Ok(base) if base < n => tok.baseline = base,
                    Ok(_) => return None,
                    // Some servers refuse an empty text; they add nothing then.
                    Err(_) => tok.baseline = 0,
                }
                Some(tok)
            }
        });
        let found = futures_util::future::join_all(probes).await;
        if let Some(tok) = found.into_iter().flatten().next() {
            tracing::info!(dialect = ?tok.dialect, url = %tok.url, baseline = tok.baseline, "server tokenizer found");
            return Some(tok);
        }
        None
    }
}
