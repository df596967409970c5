//! HTTP side of the model client.

use std::time::Duration;

use serde_json::{Value, json};

use super::error::ModelError;
pub use super::response::{ChatReply, Usage, parse_chat};
use super::response::{classify, parse_embeddings};
pub use super::retry::{RetryPolicy, parse_retry_after};
use crate::text;

/// How long the start-up check of `/models` waits. A server that serves one request at a time
/// (llama-cpp-python) answers only after the generation in hand, which can take a while; a
/// server that is down is refused at once whatever this says.
const MODELS_TIMEOUT: Duration = Duration::from_secs(30);
/// The wait for a question about the server (its window, its tokenizer): short, since a server
/// that does not know the route may never answer it, and the first call waits for the answers.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Clone, PartialEq)]
pub struct ClientConfig {
    /// Base URL including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub embedding_model: Option<String>,
    pub embedding_base_url: Option<String>,
    /// Ask for server-sent events and show thoughts as they arrive.
    pub stream: bool,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &self.api_key.as_ref().map(|_| "[set, not shown]"),
            )
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("embedding_model", &self.embedding_model)
            .field("embedding_base_url", &self.embedding_base_url)
            .field("stream", &self.stream)
            .finish()
    }
}

#[derive(Clone)]
pub struct ModelClient {
    http: reqwest::Client,
    cfg: ClientConfig,
}

impl std::fmt::Debug for ModelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        write!(f, "ModelClient({}, {})", self.cfg.base_url, self.cfg.model)
    }
}

fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

impl ModelClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, ModelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(cfg.timeout))
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| ModelError::Connect(e.to_string()))?;
        Ok(ModelClient { http, cfg })
    }

    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    pub fn base_url(&self) -> &str {
        &self.cfg.base_url
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub fn has_embeddings(&self) -> bool {
        self.cfg.embedding_model.is_some()
    }

    pub fn embedding_model(&self) -> Option<&str> {
        self.cfg.embedding_model.as_deref()
    }

    fn post(&self, url: String, body: &[u8]) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if let Some(key) = self.cfg.api_key.as_deref().filter(|k| !k.is_empty()) {
            req = req.bearer_auth(key);
        }
        req
    }

    /// Lists the server's models (`GET /models`); used to check the endpoint at start.
    pub async fn list_models(&self) -> Result<Vec<String>, ModelError> {
        let mut req = self
            .http
            .get(join(&self.cfg.base_url, "models"))
            .timeout(MODELS_TIMEOUT);
        if let Some(key) = self.cfg.api_key.as_deref().filter(|k| !k.is_empty()) {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| match e.is_timeout() {
            // Say the wait this request had, not the one model calls get.
            true => ModelError::Timeout(MODELS_TIMEOUT),
            false => self.transport_error(e),
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(classify(status, None, String::new()));
        }
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        Ok(body["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The client for the model the server serves (the first of its `/models`), or None when it
    /// lists none. The one place both faces learn the model when none was configured.
    pub async fn for_served_model(&self) -> Result<Option<ModelClient>, ModelError> {
        let models = self.list_models().await?;
        let Some(first) = models.first() else {
            return Ok(None);
        };
        let mut cfg = self.cfg.clone();
        cfg.model = first.clone();
        ModelClient::new(cfg).map(Some)
    }

    /// Removes the API key from text a server sent (an error body or a reply could echo it).
    fn redact(&self, text: String) -> String {
        match self.cfg.api_key.as_deref().filter(|k| k.len() >= 4) {
            Some(key) if text.contains(key) => text.replace(key, super::stream::REDACTED),
            _ => text,
        }
    }

    /// The context window the server reports for its model, if it reports one (in this order of
    /// preference): vLLM's
    /// `max_model_len` and LM Studio's `max_context_length` in `/models`, llama.cpp's `n_ctx` in
    /// `/props`, Ollama's `context_length` from `/api/show`.
    /// The three places are asked at once, each with [`PROBE_TIMEOUT`], so a server that
    /// answers none of them costs one short wait, not three.
    pub async fn server_context_window(&self) -> Option<u32> {
        let get = |url: String| {
            let mut req = self.http.get(url).timeout(PROBE_TIMEOUT);
            if let Some(key) = self.cfg.api_key.as_deref().filter(|k| !k.is_empty()) {
                req = req.bearer_auth(key);
            }
            req
        };
        let as_u32 = |v: &Value| {
            v.as_u64()
                .filter(|n| *n >= 256 && *n <= 10_000_000)
                .map(|n| n as u32)
        };
        let root = self
            .cfg
            .base_url
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_string();
        let listed = async {
            let r = get(join(&self.cfg.base_url, "models")).send().await.ok()?;
            let v = r.json::<Value>().await.ok()?;
            let models = v["data"].as_array()?;
            let m = models
                .iter()
                .find(|m| m["id"] == self.cfg.model.as_str())
                .or(models.first())?;
            [
                "max_model_len",
                "max_context_length",
                "context_length",
                "context_window",
            ]
            .iter()
            .find_map(|key| as_u32(&m[*key]))
            .or_else(|| as_u32(&m["meta"]["n_ctx"]))
        };
        let props = async {
            let r = get(format!("{root}/props")).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            let v = r.json::<Value>().await.ok()?;
            as_u32(&v["default_generation_settings"]["n_ctx"]).or_else(|| as_u32(&v["n_ctx"]))
        };
        let show = async {
            let r = self
                .http
                .post(format!("{root}/api/show"))
                .timeout(PROBE_TIMEOUT)
                .json(&json!({"model": self.cfg.model}))
                .send()
                .await
                .ok()?;
            if !r.status().is_success() {
                return None;
            }
            let v = r.json::<Value>().await.ok()?;
            let info = v["model_info"].as_object()?;
            info.iter()
                .find(|(k, _)| k.ends_with(".context_length"))
                .and_then(|(_, n)| as_u32(n))
        };
        let (listed, props, show) = tokio::join!(listed, props, show);
        listed.or(props).or(show)
    }

    fn transport_error(&self, e: reqwest::Error) -> ModelError {
        if e.is_timeout() {
            ModelError::Timeout(self.cfg.timeout)
        } else if e.is_decode() || e.is_body() {
            ModelError::InvalidResponse(e.to_string())
        } else {
            ModelError::Connect(error_chain(&e))
        }
    }

    pub(super) async fn post_once(&self, url: &str, body: &[u8]) -> Result<Value, ModelError> {
        let resp = self
            .post(url.to_string(), body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let retry_after = parse_retry_after(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
        );
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        let text = self.redact(String::from_utf8_lossy(&bytes).into_owned());
        if !status.is_success() {
            return Err(classify(status, retry_after, text));
        }
        serde_json::from_str(&text).map_err(|e| {
            ModelError::InvalidResponse(format!(
                "the body is not JSON ({e}): {}",
                text::visible(&text::one_line(&text, 120))
            ))
        })
    }

    /// POSTs with retries. `on_retry` hears each failure that will be retried and the wait.
    async fn post_retrying<T>(
        &self,
        url: &str,
        body: &[u8],
        parse: impl Fn(Value) -> Result<T, ModelError>,
        on_retry: &mut (dyn FnMut(&ModelError, u32, Duration) + Send),
    ) -> Result<T, ModelError> {
        let mut attempt = 0;
        loop {
            let result = self.post_once(url, body).await.and_then(&parse);
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt < self.cfg.retry.max_retries => {
                    let wait = self.cfg.retry.delay(attempt, &e);
                    tracing::warn!(error = %e, attempt, ?wait, "model call failed; retrying");
                    on_retry(&e, attempt + 1, wait);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One chat completion; `body` is the JSON request body, which must say `"stream": true`
    /// when `stream` is set. `on_delta` hears the reply's text as it arrives when streaming.
    pub async fn chat(
        &self,
        body: &[u8],
        stream: bool,
        on_retry: &mut (dyn FnMut(&ModelError, u32, Duration) + Send),
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ChatReply, ModelError> {
        let url = join(&self.cfg.base_url, "chat/completions");
        if !stream {
            return self.post_retrying(&url, body, parse_chat, on_retry).await;
        }
        let mut attempt = 0;
        loop {
            let mut got_data = false;
            let mut heard = |p: &str| {
                got_data = true;
                on_delta(p)
            };
            let result = self.stream_once(&url, body, &mut heard).await;
            match result {
                Ok(r) => return Ok(r),
                // A stream that breaks before sending anything hides why (llama-cpp-python, for
                // one, fails a too-long prompt mid-response): ask once more without streaming,
                // so the server can say what is wrong.
                Err(ModelError::InvalidResponse(m)) if !got_data && m.contains("cut off") => {
                    tracing::warn!(
                        "the stream broke before any data; asking again without streaming"
                    );
                    let mut plain: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                    if let Some(o) = plain.as_object_mut() {
                        o.remove("stream");
                    }
                    let plain = serde_json::to_vec(&plain).unwrap_or_else(|_| body.to_vec());
                    return self.post_retrying(&url, &plain, parse_chat, on_retry).await;
                }
                Err(e) if e.retryable() && attempt < self.cfg.retry.max_retries => {
                    let wait = self.cfg.retry.delay(attempt, &e);
                    tracing::warn!(error = %e, attempt, ?wait, "streamed model call failed; retrying");
                    on_retry(&e, attempt + 1, wait);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One chat completion of a body as it is (a recorded request sent again), retrying
    /// transient faults; the response body whole.
    pub async fn chat_raw(&self, body: &[u8]) -> Result<Value, ModelError> {
        let url = join(&self.cfg.base_url, "chat/completions");
        self.post_retrying(&url, body, Ok, &mut |_, _, _| {}).await
    }

    pub fn streams(&self) -> bool {
        self.cfg.stream
    }

    async fn stream_once(
        &self,
        url: &str,
        body: &[u8],
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ChatReply, ModelError> {
        let mut resp = self
            .post(url.to_string(), body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if !status.is_success() {
            let retry_after = parse_retry_after(
                resp.headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
            );
            let text = resp.text().await.unwrap_or_default();
            return Err(classify(status, retry_after, self.redact(text)));
        }
        // A server that ignores "stream": true answers with one JSON body.
        let is_sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("event-stream"));
        if !is_sse {
            let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
            let text = self.redact(String::from_utf8_lossy(&bytes).into_owned());
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                ModelError::InvalidResponse(format!(
                    "the body is not JSON ({e}): {}",
                    text::visible(&text::one_line(&text, 120))
                ))
            })?;
            return parse_chat(v);
        }
        let mut state = super::stream::StreamState::with_secret(self.cfg.api_key.as_deref());
        loop {
            match resp.chunk().await {
                Ok(Some(bytes)) => {
                    for piece in state.feed(&bytes)? {
                        on_delta(&piece);
                    }
                }
                Ok(None) => break,
                // A connection that breaks mid-stream is a cut-off stream.
                Err(e) if !e.is_timeout() => break,
                Err(e) => return Err(self.transport_error(e)),
            }
        }
        for piece in state.end()? {
            on_delta(&piece);
        }
        state.finish()
    }

    /// Embeddings for `inputs`, in order.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let model = self
            .cfg
            .embedding_model
            .clone()
            .ok_or_else(|| ModelError::BadRequest {
                status: 0,
                body: "no embedding model configured".into(),
            })?;
        let base = self
            .cfg
            .embedding_base_url
            .as_deref()
            .unwrap_or(&self.cfg.base_url);
        let url = join(base, "embeddings");
        let body = serde_json::to_vec(&json!({ "model": model, "input": inputs })).expect("json");
        let n = inputs.len();
        self.post_retrying(
            &url,
            &body,
            move |v| parse_embeddings(v, n),
            &mut |_, _, _| {},
        )
        .await
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
