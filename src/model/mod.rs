//! The OpenAI-compatible model client: chat completions with tools, embeddings, retries.
//!
//! Contract: [`ModelClient`] speaks `/v1/chat/completions` and `/v1/embeddings` of any
//! OpenAI-compatible server. Transient faults (429, 5xx, connection errors, timeouts, bodies
//! that are not a completion) are retried with bounded exponential backoff, honouring
//! `Retry-After`; every failure ends as a classified [`ModelError`] the UI can explain. The API
//! key only ever goes into the `Authorization` header. Where the server has a tokenize
//! endpoint, [`ServerTokenizer`] counts tokens with the model's own tokenizer.

mod client;
mod error;
pub mod request;
mod response;
mod retry;
pub mod stream;
mod tokenize;

pub use client::{
    ChatReply, ClientConfig, ModelClient, RetryPolicy, Usage, parse_chat, parse_retry_after,
};
pub use error::{ModelError, prompt_in_overflow, window_in_overflow};
pub use tokenize::{Dialect, ServerTokenizer};
