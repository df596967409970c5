//! Test support: a scripted OpenAI-compatible server on 127.0.0.1 and engine helpers.
//!
//! The server speaks just enough HTTP/1.1 for reqwest: `GET /v1/models`, `POST
//! /v1/chat/completions` (answered from a script, in order), `POST /v1/embeddings` (a
//! deterministic bag-of-words embedding). Every request is recorded so tests can assert on what
//! memscope sent. Chat requests without `tools` are summary calls and get their own script
//! (a default summary when it runs dry).
#![allow(dead_code)]

pub mod fixture;
pub mod pg;
pub mod place;
pub mod tmux;
pub mod tui;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

use memscope::engine::{self, Agent, Command, EngineHandle, EngineSettings, Event, EventKind};
use memscope::model::{ClientConfig, ModelClient, RetryPolicy};
use memscope::store::Store;

#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this chat-completion body.
    Ok(Value),
    /// Any status, body and extra headers.
    Http(u16, String, Vec<(String, String)>),
    /// Accept the request and never answer.
    Hang,
    /// Promise a body, send only this part of it, and close the connection.
    Cut(String),
    /// Server-sent events: these `data:` payloads, then `[DONE]` if `done`; then close, or
    /// hold the connection open forever if `hang`.
    Sse {
        events: Vec<Value>,
        done: bool,
        hang: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// The body's bytes as they came.
    pub raw: Vec<u8>,
}

/// A reply made from the request's body, for a script that answers what it is asked.
pub type ReplyFn = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

#[derive(Default)]
struct Inner {
    chat: VecDeque<Reply>,
    summaries: VecDeque<Reply>,
    /// Answers steps once `chat` runs dry.
    chat_fn: Option<ReplyFn>,
    /// Answers summary calls once `summaries` runs dry.
    summary_fn: Option<ReplyFn>,
    /// Keeps one prompt cached, as llama.cpp's server with one slot does: each chat reply
    /// reports as cached the bytes its messages share with the previous chat request's.
    one_slot: Option<Vec<String>>,
    requests: Vec<Recorded>,
    models: Option<Value>,
    tokenizer: Option<Tokenize>,
    /// Tokenize requests still to answer with 503.
    tokenize_failures: u32,
}

/// The tokenize endpoints the scripted server can offer. Its tokenizer makes one token of
/// each byte (see [`scripted_tokens`]), far from any tiktoken count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenize {
    /// `POST /tokenize {"content"}` → `{"tokens"}`.
    LlamaCpp,
    /// `POST /tokenize {"prompt"}` → `{"count"}`.
    Vllm,
    /// `POST /extras/tokenize/count {"input"}` → `{"count"}`, with a BOS counted.
    LlamaCppPython,
}

/// What the scripted tokenizer counts for a text.
pub fn scripted_tokens(text: &str) -> u32 {
    text.len() as u32
}

#[derive(Clone)]
pub struct Server {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    /// Woken on every chat request, so tests can wait for "the call is in flight".
    pub chat_seen: Arc<tokio::sync::Notify>,
}

impl Server {
    pub async fn start(chat: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            chat: chat.into(),
            ..Default::default()
        }));
        let server = Server {
            base_url: format!("http://{addr}/v1"),
            inner,
            chat_seen: Arc::new(tokio::sync::Notify::new()),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { s.serve(sock).await });
            }
        });
        server
    }

    pub fn push(&self, r: Reply) {
        self.inner.lock().unwrap().chat.push_back(r);
    }

    /// What `GET /models` answers from now on.
    pub fn set_models(&self, v: Value) {
        self.inner.lock().unwrap().models = Some(v);
    }

    /// Offer (or, with `None`, stop offering) a tokenize endpoint.
    pub fn set_tokenizer(&self, t: Option<Tokenize>) {
        self.inner.lock().unwrap().tokenizer = t;
    }

    /// Answer the next `n` tokenize requests with 503 (a busy server).
    pub fn fail_tokenize(&self, n: u32) {
        self.inner.lock().unwrap().tokenize_failures = n;
    }

    /// The texts sent to the tokenize endpoint, in order.
    pub fn tokenized(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.contains("tokenize"))
            .filter_map(|r| {
                ["content", "prompt", "input"]
                    .iter()
                    .find_map(|k| r.body[*k].as_str().map(String::from))
            })
            .collect()
    }

    /// Steps are answered by `f` once the script runs dry.
    pub fn set_chat_fn(&self, f: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.inner.lock().unwrap().chat_fn = Some(Arc::new(f));
    }

    /// Summary calls are answered by `f` once their script runs dry.
    pub fn set_summary_fn(&self, f: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.inner.lock().unwrap().summary_fn = Some(Arc::new(f));
    }

    /// Report a one-slot prompt cache in every chat reply (see `Inner::one_slot`).
    pub fn keep_one_slot(&self) {
        self.inner.lock().unwrap().one_slot = Some(Vec::new());
    }

    pub fn push_summary(&self, r: Reply) {
        self.inner.lock().unwrap().summaries.push_back(r);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Chat requests with tools (agent steps), in order.
    pub fn step_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/chat/completions") && r.body.get("tools").is_some())
            .map(|r| r.body)
            .collect()
    }

    /// Agent steps in any tool mode (summary calls excluded: they carry no response_format
    /// and no tools, and start with the summariser's instructions).
    pub fn step_requests_any(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .filter(|r| r.body.get("tools").is_some() || r.body.get("response_format").is_some())
            .map(|r| r.body)
            .collect()
    }

    pub fn summary_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.path.ends_with("/chat/completions")
                    && r.body.get("tools").is_none()
                    && r.body.get("response_format").is_none()
            })
            .map(|r| r.body)
            .collect()
    }

    pub fn remaining(&self) -> usize {
        self.inner.lock().unwrap().chat.len()
    }

    async fn serve(&self, mut sock: TcpStream) {
        let mut buf = Vec::new();
        loop {
            // Read one request.
            let header_end = loop {
                if let Some(i) = find(&buf, b"\r\n\r\n") {
                    break i + 4;
                }
                let mut chunk = [0u8; 8192];
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
            let mut lines = head.split("\r\n");
            let mut first = lines.next().unwrap_or_default().split(' ');
            let method = first.next().unwrap_or_default().to_string();
            let path = first.next().unwrap_or_default().to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < header_end + len {
                let mut chunk = [0u8; 65536];
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let raw = buf[header_end..header_end + len].to_vec();
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            buf.drain(..header_end + len);
            let rec = Recorded {
                method: method.clone(),
                path: path.clone(),
                headers,
                body: body.clone(),
                raw,
            };
            let reply = self.answer(rec);
            match reply {
                Reply::Hang => {
                    std::future::pending::<()>().await;
                }
                Reply::Cut(part) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        part.len() * 3 + 100
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(part.as_bytes()).await;
                    let _ = sock.shutdown().await;
                    return;
                }
                Reply::Sse { events, done, hang } => {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
                    let _ = sock.write_all(head.as_bytes()).await;
                    for e in events {
                        let _ = sock.write_all(format!("data: {e}\n\n").as_bytes()).await;
                        let _ = sock.flush().await;
                    }
                    if done {
                        let _ = sock.write_all(b"data: [DONE]\n\n").await;
                    }
                    let _ = sock.flush().await;
                    if hang {
                        std::future::pending::<()>().await;
                    }
                    let _ = sock.shutdown().await;
                    return;
                }
                Reply::Ok(v) => write(&mut sock, 200, &v.to_string(), &[]).await,
                Reply::Http(status, body, extra) => write(&mut sock, status, &body, &extra).await,
            }
        }
    }

    fn answer(&self, rec: Recorded) -> Reply {
        let mut inner = self.inner.lock().unwrap();
        let path = rec.path.clone();
        let body = rec.body.clone();
        inner.requests.push(rec);
        if path.ends_with("/models") {
            if let Some(m) = &inner.models {
                return Reply::Ok(m.clone());
            }
            return Reply::Ok(
                json!({"object": "list", "data": [{"id": "scripted-model", "object": "model"}]}),
            );
        }
        if path.ends_with("/embeddings") {
            let inputs: Vec<String> = match &body["input"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect(),
                _ => vec![],
            };
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": bag_of_words(t)}))
                .collect();
            return Reply::Ok(json!({"object": "list", "data": data}));
        }
        let tokenize = inner.tokenizer;
        if tokenize.is_some() && path.contains("tokenize") && inner.tokenize_failures > 0 {
            inner.tokenize_failures -= 1;
            return Reply::Http(503, "{\"error\":\"busy\"}".into(), vec![]);
        }
        let text = |k: &str| body[k].as_str().map(scripted_tokens);
        let bad = || Reply::Http(400, "{\"error\":\"bad tokenize request\"}".into(), vec![]);
        match (path.as_str(), tokenize) {
            ("/tokenize", Some(Tokenize::LlamaCpp)) => {
                return match text("content") {
                    Some(n) => Reply::Ok(json!({"tokens": (0..n).collect::<Vec<u32>>()})),
                    None => bad(),
                };
            }
            ("/tokenize", Some(Tokenize::Vllm)) => {
                return match text("prompt") {
                    Some(n) => Reply::Ok(json!({"count": n, "max_model_len": 4096})),
                    None => bad(),
                };
            }
            ("/extras/tokenize/count", Some(Tokenize::LlamaCppPython)) => {
                return match text("input") {
                    Some(n) => Reply::Ok(json!({"count": n + 1})),
                    None => bad(),
                };
            }
            _ => {}
        }
        if path.ends_with("/chat/completions") {
            let is_summary = body.get("tools").is_none() && body.get("response_format").is_none();
            self.chat_seen.notify_one();
            let cached = inner.one_slot.as_mut().map(|slot| one_slot(slot, &body));
            let reply = if is_summary {
                inner
                    .summaries
                    .pop_front()
                    .or_else(|| inner.summary_fn.as_ref().map(|f| f(&body)))
                    .unwrap_or_else(|| {
                        let n = body["messages"][1]["content"]
                            .as_str()
                            .map(|s| s.lines().count())
                            .unwrap_or(0);
                        Reply::Ok(text_reply(&format!(
                            "Summary of {n} lines: the user and the agent talked."
                        )))
                    })
            } else {
                inner
                    .chat
                    .pop_front()
                    .or_else(|| inner.chat_fn.as_ref().map(|f| f(&body)))
                    .unwrap_or_else(|| Reply::Ok(text_reply("(the script ran out of replies)")))
            };
            return match (reply, cached) {
                (Reply::Ok(mut v), Some((cached, prompt))) => {
                    v["usage"]["prompt_tokens"] = json!(prompt);
                    v["usage"]["prompt_tokens_details"] = json!({"cached_tokens": cached});
                    Reply::Ok(v)
                }
                (r, _) => r,
            };
        }
        Reply::Http(404, "{\"error\":\"not found\"}".into(), vec![])
    }
}

/// A one-slot cache: the tokens (four bytes each) of the leading messages `body` shares with
/// the request in `slot` (which `body` then replaces), and the tokens of all its messages. A
/// changed message counts its common start, as a token prefix cache would.
fn one_slot(slot: &mut Vec<String>, body: &Value) -> (u32, u32) {
    let mut msgs: Vec<String> = body["messages"]
        .as_array()
        .map(|a| a.iter().map(|m| m.to_string()).collect())
        .unwrap_or_default();
    if let Some(t) = body.get("tools") {
        msgs.insert(0, t.to_string());
    }
    let mut cached = 0;
    for (a, b) in slot.iter().zip(&msgs) {
        let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        cached += common;
        if common < a.len().max(b.len()) {
            break;
        }
    }
    let prompt = msgs.iter().map(String::len).sum::<usize>();
    *slot = msgs;
    (cached as u32 / 4, prompt as u32 / 4)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn write(sock: &mut TcpStream, status: u16, body: &str, extra: &[(String, String)]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body.as_bytes()).await;
    let _ = sock.flush().await;
}

/// A 64-d hashed bag of words: texts sharing words have high cosine similarity.
pub fn bag_of_words(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; 64];
    for w in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut h: u64 = 1469598103934665603;
        for b in w.bytes() {
            h = (h ^ b as u64).wrapping_mul(1099511628211);
        }
        v[(h % 64) as usize] += 1.0;
    }
    v
}

pub fn completion(message: Value) -> Value {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "scripted-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333},
    })
}

pub fn text_reply(content: &str) -> Value {
    completion(json!({"role": "assistant", "content": content}))
}

/// A reply calling one function with raw argument text.
pub fn call_raw(name: &str, args: &str) -> Reply {
    calls_raw(None, &[(name, args)])
}

/// A reply calling one function.
pub fn call(name: &str, args: Value) -> Reply {
    call_raw(name, &args.to_string())
}

/// A reply with inner thoughts and a call.
pub fn think_call(thought: &str, name: &str, args: Value) -> Reply {
    calls_raw(Some(thought), &[(name, &args.to_string())])
}

pub fn calls_raw(thought: Option<&str>, calls: &[(&str, &str)]) -> Reply {
    let tool_calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (n, a))| json!({"id": format!("call_{i}_{n}"), "type": "function", "function": {"name": n, "arguments": a}}))
        .collect();
    Reply::Ok(completion(
        json!({"role": "assistant", "content": thought, "tool_calls": tool_calls}),
    ))
}

pub fn say(message: &str) -> Reply {
    call("send_message", json!({"message": message}))
}

pub fn settings(window: u32) -> EngineSettings {
    EngineSettings {
        model: "scripted-model".into(),
        context_window: window,
        max_tokens: 256,
        ..Default::default()
    }
}

pub fn client(server: &Server) -> ModelClient {
    ModelClient::new(client_config(&server.base_url)).unwrap()
}

/// Client settings for a test endpoint: no key, no streaming, quick retries.
pub fn client_config(base_url: &str) -> ClientConfig {
    ClientConfig {
        base_url: base_url.to_string(),
        api_key: None,
        model: "scripted-model".into(),
        timeout: std::time::Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries: 3,
            base: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(20),
        },
        embedding_model: None,
        embedding_base_url: None,
        stream: false,
    }
}

pub fn client_with(
    server: &Server,
    retry: RetryPolicy,
    embedding_model: Option<&str>,
) -> ModelClient {
    ModelClient::new(ClientConfig {
        retry,
        embedding_model: embedding_model.map(String::from),
        ..client_config(&server.base_url)
    })
    .unwrap()
}

/// The built binary with a hermetic environment: config, data and state dirs under `home`,
/// nothing from the caller's environment (no key, endpoint or memscope setting), and local
/// server detection pointed at a port nobody listens on.
pub fn memscope_cmd(home: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_memscope"));
    for k in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "MEMSCOPE_MODEL",
        "MEMSCOPE_STORE",
        "MEMSCOPE_AGENT",
        "MEMSCOPE_CONFIG",
        "MEMSCOPE_CONTEXT_WINDOW",
        "MEMSCOPE_CRASH_AT",
        "MEMSCOPE_CRASH_TRACE",
    ] {
        c.env_remove(k);
    }
    c.env("MEMSCOPE_PROBE", "llamacpp=127.0.0.1:9")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("HOME", home);
    c
}

/// `memscope ARGS --store STORE` to its end: (exit code, stdout, stderr).
pub fn memscope_on(
    home: &std::path::Path,
    store: &std::path::Path,
    args: &[&str],
) -> (i32, Vec<u8>, String) {
    let out = memscope_cmd(home)
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command to its end on a blocking thread with `input` on stdin (ignoring a stdin that
/// closes early, as a killed process's does).
pub async fn output_with_input(
    mut cmd: std::process::Command,
    input: impl AsRef<[u8]>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let input = input.as_ref().to_vec();
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(&input);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// A fresh store in a temp dir.
pub fn temp_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memscope.redb");
    (dir, path)
}

pub fn open_agent(path: &std::path::Path, window: u32) -> Agent {
    Agent::open(Store::open(path).unwrap(), "default", settings(window)).unwrap()
}

/// Receives events until (and including) the next one `stop` accepts.
pub async fn until(
    events: &mut UnboundedReceiver<Event>,
    stop: impl Fn(&EventKind) -> bool,
) -> Vec<EventKind> {
    let mut out = Vec::new();
    while let Some(ev) = events.recv().await {
        let done = stop(&ev.kind);
        out.push(ev.kind);
        if done {
            return out;
        }
    }
    panic!("the engine stopped before the awaited event; got {out:#?}");
}

pub fn chain_ended(k: &EventKind) -> bool {
    matches!(k, EventKind::ChainEnded { .. })
}

/// Sends a user message and returns the chain's events.
pub async fn chat(h: &mut EngineHandle, text: &str) -> Vec<EventKind> {
    h.commands.send(Command::UserMessage(text.into())).unwrap();
    until(&mut h.events, chain_ended).await
}

/// Starts an engine on a fresh agent and swallows the start-up events.
pub async fn start(agent: Agent, server: &Server) -> EngineHandle {
    let mut h = engine::spawn(agent, Some(client(server)));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    h
}

/// Shuts the engine down and waits for it to release the store.
pub async fn shutdown(h: EngineHandle) {
    h.commands.send(Command::Shutdown).unwrap();
    drop(h.commands);
    h.task.await.unwrap().unwrap();
}

pub fn returns(events: &[EventKind]) -> Vec<(String, memscope::engine::Status, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::FunctionReturn {
                name,
                status,
                message,
                ..
            } => Some((name.clone(), *status, message.clone())),
            _ => None,
        })
        .collect()
}

/// The last budget among `events`.
pub fn last_budget(events: &[EventKind]) -> memscope::tokens::Budget {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            EventKind::Budget(b) => Some(b.clone()),
            _ => None,
        })
        .expect("a budget event")
}

pub fn errors(events: &[EventKind]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Error { kind, .. } => Some(kind.to_string()),
            _ => None,
        })
        .collect()
}

/// The kinds of the warnings among `events`.
pub fn warnings(events: &[EventKind]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Warning { kind, .. } => Some(kind.to_string()),
            _ => None,
        })
        .collect()
}

pub fn said(events: &[EventKind]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::AssistantMessage { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}
