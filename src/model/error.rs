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
    pub fn kind(&self) -> &'static str {
        match self {
            ModelError::Connect(_) => "connection",
            ModelError::Timeout(_) => "timeout",
            ModelError::RateLimited { .. } => "rate_limited",
            ModelError::Server { .. } => "server_error",
            ModelError::Auth { .. } => "auth",
            ModelError::BadRequest { .. } => "bad_request",
            ModelError::ContextOverflow(_) => "context_overflow",
            ModelError::InvalidResponse(_) => "invalid_response",
            ModelError::Interrupted => "interrupted",
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

/// Whether an error body says the prompt did not fit.
pub(crate) fn is_context_overflow(body: &str) -> bool {
    let lower = body.to_lowercase();
    OVERFLOW_MARKERS.iter().any(|m| lower.contains(m))
}
