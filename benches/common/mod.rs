//! What the benchmarks share: the settings of an 8k-token agent and an agent whose main context
//! is filled to a given size.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use memscope::engine::step::{StepInput, StepReport, parse_first};
use memscope::engine::{Agent, EngineSettings, Trigger};
use memscope::memory::{MessageKind, RequestRecord};
use memscope::model::ChatReply;
use memscope::store::Store;

pub fn settings(window: u32) -> EngineSettings {
    EngineSettings {
        model: "gpt-4o-mini".into(),
        context_window: window,
        max_tokens: 512,
        ..Default::default()
    }
}

/// An agent at `path` whose main context holds `tokens` tokens of ordinary conversation (the
/// one-off memory warning already sent, so steps are plain).
pub fn filled_agent(path: &std::path::Path, window: u32, tokens: u32) -> Agent {
    let mut agent = Agent::open(Store::open(path).unwrap(), "default", settings(window)).unwrap();
    let mut i = 0;
    while agent.budget().total < tokens {
        let m = agent.event_message(
            MessageKind::UserMessage,
            &format!("Message {i}: a line of ordinary conversation about plans for the weekend, books and tea."),
        );
        agent.commit(&[m], &[], &[], None).unwrap();
        i += 1;
    }
    agent.state.warned = true;
    agent
}

/// One step as the engine runs it once the model has answered: the cache figures of the
/// request, then the reply applied and committed.
pub fn apply(agent: &mut Agent, request: RequestRecord, reply: &ChatReply) -> StepReport {
    let budget = agent.budget();
    let segments = agent.prompt_segments(&budget);
    let cache = agent.cache_stat(&segments);
    agent.prompt_sent(segments);
    agent
        .apply_step(StepInput {
            trigger: &Trigger::UserMessage,
            request,
            reply,
            parsed: parse_first(reply),
            embeds: None,
            started_at: chrono::Utc::now(),
            model_ms: 0.0,
            local_prompt_tokens: budget.total,
            cache,
        })
        .unwrap()
}

/// The reply of a steady session's every step: a short thought and a `send_message`.
pub fn weekend_reply() -> ChatReply {
    memscope::model::parse_chat(serde_json::json!({
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "They asked about the weekend; answer briefly.",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "send_message",
                "arguments": "{\"message\": \"Sounds like a lovely weekend plan!\"}"}}]}}],
        "usage": {"prompt_tokens": 7000, "completion_tokens": 30}
    }))
    .unwrap()
}

/// `steps` steps of a steady session, each committed as the engine does (the user's input
/// with its mark, then the step), the main context held at its size.
pub fn steady_steps(agent: &mut Agent, steps: u64) {
    let base_len = agent.fifo().len();
    let reply = weekend_reply();
    for _ in 0..steps {
        let user = agent.event_message(MessageKind::UserMessage, "And what about Sunday?");
        agent.commit_input(&[user], &[]).unwrap();
        agent.state.step += 1;
        let request = agent.request_record();
        apply(agent, request, &reply);
        agent.forget_newest(base_len);
    }
}

/// A stub endpoint that answers every request with an empty model list.
pub fn stub_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = r#"{"object":"list","data":[]}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/v1")
}

/// The release binary `memscope run` on `store`, from spawn to its first JSON line (which must
/// be the `ready` event), against the endpoint `url`; settings are kept under `home`.
pub fn time_to_ready(store: &std::path::Path, url: &str, home: &std::path::Path) -> Duration {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args([
            "run",
            "--model",
            "gpt-4o-mini",
            "--base-url",
            url,
            "--store",
        ])
        .arg(store)
        .env("XDG_STATE_HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let took = t0.elapsed();
    assert!(line.contains("\"ready\""), "{line}");
    drop(child.stdin.take());
    child.wait().unwrap();
    took
}

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() % 2_000_000) as f32 / 1_000_000.0 - 1.0
    }
}

/// The median and the 99th percentile, in milliseconds.
pub fn quantiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[(v.len() * 99).div_ceil(100) - 1]))
}
