//! Classified model-call failures.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("cannot reach the model server: {0}")]
    Connect(String),
    #[error("the model server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("rate limited by the model server (HTTP 429){}", retry_after.map(|d| format!(", asked to wait {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        body: String,
    },
    #[error("the model server failed (HTTP {status}): {body}")]
    Server { status: u16, body: String },
    #[error("the model server refused the credentials (HTTP {status}): check the API key")]
    Auth { status: u16, body: String },
    #[error("the model server rejected the request (HTTP {status}): {body}")]
    BadRequest { status: u16, body: String },
    #[error("the prompt is longer than the model's context window: {0}")]
    ContextOverflow(String),
    #[error("the model server sent a reply memscope cannot use: {0}")]
    InvalidResponse(String),
    #[error("the model call was interrupted")]
    Interrupted,
}

impl ModelError {
    /// A stable name for the headless `error` event and the UI.
    pub fn kind(&self) -> crate::protocol::ErrorKind {
        use crate::protocol::ErrorKind as K;
        match self {
            ModelError::Connect(_) => K::Connection,
            ModelError::Timeout(_) => K::Timeout,
            ModelError::RateLimited { .. } => K::RateLimited,
            ModelError::Server { .. } => K::ServerError,
            ModelError::Auth { .. } => K::Auth,
            ModelError::BadRequest { .. } => K::BadRequest,
            ModelError::ContextOverflow(_) => K::ContextOverflow,
            ModelError::InvalidResponse(_) => K::InvalidResponse,
            ModelError::Interrupted => K::Interrupted,
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ModelError::Connect(_)
                | ModelError::Timeout(_)
                | ModelError::RateLimited { .. }
                | ModelError::Server { .. }
                | ModelError::InvalidResponse(_)
        )
    }
}

const OVERFLOW_MARKERS: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "exceed_context_size",
    "exceeds the context",
    "context window",
    "too many tokens",
    "prompt is too long",
];

/// The context window an overflow error states, if it states one: OpenAI, vLLM and
/// llama-cpp-python say "maximum context length is 4096 tokens", llama.cpp sends `"n_ctx": 4096`,
/// others "context window of 4096".
pub fn window_in_overflow(message: &str) -> Option<u32> {
    let lower = message.to_lowercase();
    for marker in [
        "maximum context length is",
        "context window of",
        "\"n_ctx\":",
        "n_ctx",
    ] {
        let Some(at) = lower.find(marker) else {
            continue;
        };
        let rest = &lower[at + marker.len()..];
        let digits: String = rest
            .trim_start_matches([' ', ':', '=', '"'])
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if let Ok(n) = digits.parse::<u32>()
            && (256..=10_000_000).contains(&n)
        {
            return Some(n);
        }
    }
    None
}

/// The prompt's size in the server's own tokens, where an overflow error states it (OpenAI,
/// vLLM and llama-cpp-python: `(N in the messages, …)`; llama.cpp's server: `n_prompt_tokens`).
pub fn prompt_in_overflow(message: &str) -> Option<u32> {
    let lower = message.to_lowercase();
    let number = |rest: &str| -> Option<u32> {
        let digits: String = rest
            .trim_start_matches([' ', ':', '=', '"', '('])
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse::<u32>().ok().filter(|n| *n > 0)
    };
    if let Some(at) = lower.find(" in the messages") {
        let before = &lower[..at];
        let start = before
            .rfind(|c: char| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        return number(&before[start..]);
    }
    let at = lower.find("n_prompt_tokens")?;
    number(&lower[at + "n_prompt_tokens".len()..])
}

/// Whether an error body says the prompt did not fit.
pub(crate) fn is_context_overflow(body: &str) -> bool {
    let lower = body.to_lowercase();
    OVERFLOW_MARKERS.iter().any(|m| lower.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_errors_give_the_window_they_state() {
        let llama_cpp_python = "This model's maximum context length is 4096 tokens. However, you requested 5041 tokens";
        assert_eq!(window_in_overflow(llama_cpp_python), Some(4096));
        let llama_server = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5120,"n_ctx":8192}}"#;
        assert_eq!(window_in_overflow(llama_server), Some(8192));
        assert_eq!(
            window_in_overflow("prompt exceeds the context window of 32768 tokens"),
            Some(32768)
        );
        assert_eq!(window_in_overflow("prompt is too long"), None);
        // The prompt's own size, where the error says it.
        let openai = "This model's maximum context length is 4096 tokens. However, you requested 5170 tokens (4146 in the messages, 1024 in the completion).";
        assert_eq!(prompt_in_overflow(openai), Some(4146));
        assert_eq!(prompt_in_overflow(llama_server), Some(5120));
        assert_eq!(prompt_in_overflow(llama_cpp_python), None);
        assert_eq!(
            window_in_overflow("maximum context length is 12 tokens"),
            None
        );
    }
}
