//! How much of each prompt a server's prefix cache can reuse, and what measuring it costs.
//!
//! First it prints the figures of a 30-turn conversation without flushes (the requests
//! exactly as memscope encodes them, tools and messages rendered in order, as the scripted
//! test in `tests/cache.rs` measures what the server received): the smallest share a request
//! has in common with the one before it, and the share of everything sent that had to be
//! evaluated again. It does so without core edits, and with one core edit at turn 15 in each
//! core-edit mode. MemGPT 0.3.25 re-evaluates 4.5% on the same conversation.
//!
//! Then `cache_stat_8k` times what the meter adds to a step with an 8k-token context: cutting
//! the prompt into sections and comparing them with the previous request's.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use memscope::engine::Agent;
use memscope::memory::state::PolicyOverride;
use memscope::memory::{CoreEdits, MessageKind};
use memscope::model::{ChatReply, parse_chat};
use memscope::store::Store;

mod common;
use common::settings;

fn reply(name: &str, args: Value) -> ChatReply {
    parse_chat(json!({
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "",
            "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": name, "arguments": args.to_string()}}]
        }}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 20}
    }))
    .unwrap()
}

/// One model call: encode the request as sent, then apply the reply.
fn step(agent: &mut Agent, reply: &ChatReply, sent: &mut Vec<String>) {
    agent.state.step += 1;
    let request = agent.request_record();
    let body: Value = serde_json::from_slice(&agent.encode_request(&request)).unwrap();
    sent.push(rendered(&body));
    common::apply(agent, request, reply);
}

/// A request as a prefix cache sees it: the tools, then every message, in order.
fn rendered(body: &Value) -> String {
    let mut s = body.get("tools").map(Value::to_string).unwrap_or_default();
    for m in body["messages"].as_array().unwrap() {
        s.push_str(&m.to_string());
    }
    s
}

/// The figures of consecutive requests, in bytes of the rendered prompt: (smallest share of
/// the previous request a request starts with, smallest share of a request its predecessor
/// starts with, share of what was sent after the first request that a prefix cache could not
/// reuse, the same counting the first request whole, and the tokens (o200k) of what could not
/// be reused, per request after the first).
fn figures(sent: &[String]) -> (f64, f64, f64, f64, u32) {
    let counter = memscope::tokens::TokenCounter::for_model("gpt-4o-mini");
    let (mut kept, mut reused) = (1.0f64, 1.0f64);
    let (mut total, mut fresh, mut tokens) = (0usize, 0usize, 0u32);
    for pair in sent.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let shared = prev
            .bytes()
            .zip(cur.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        kept = kept.min(shared as f64 / prev.len() as f64);
        reused = reused.min(shared as f64 / cur.len() as f64);
        total += cur.len();
        fresh += cur.len() - shared;
        let mut at = shared;
        while !cur.is_char_boundary(at) {
            at -= 1;
        }
        tokens += counter.count(&cur[at..]);
    }
    let first = sent[0].len();
    (
        kept,
        reused,
        fresh as f64 / total as f64,
        (fresh + first) as f64 / (total + first) as f64,
        tokens / (sent.len() as u32 - 1),
    )
}

/// A 30-turn conversation; with `edit`, the agent edits core memory at turn 15.
fn conversation(edit: Option<CoreEdits>) -> ((f64, f64, f64, f64, u32), u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("figures.redb")).unwrap();
    let mut agent = Agent::open(store, "default", settings(128_000)).unwrap();
    if let Some(mode) = edit {
        let o = PolicyOverride {
            core_edits: Some(mode),
            ..Default::default()
        };
        agent.apply_policy(&o).unwrap();
    }
    let mut sent = Vec::new();
    let mut evaluated = 0u64;
    for i in 0..30 {
        let m = agent.event_message(
            MessageKind::UserMessage,
            &format!("Turn {i}: a ship called Wren {i} passed the lighthouse at dawn."),
        );
        agent.commit(&[m], &[], &[], None).unwrap();
        if edit.is_some() && i == 15 {
            let r = reply(
                "core_memory_append",
                json!({"name": "human", "content": "Keeps a ship log.", "request_heartbeat": true}),
            );
            step(&mut agent, &r, &mut sent);
        }
        let r = reply(
            "send_message",
            json!({"message": format!("Noted, turn {i}: the lighthouse log has another ship.")}),
        );
        step(&mut agent, &r, &mut sent);
        let last = &agent.cache.last;
        evaluated += (last.prompt_tokens - last.shared_tokens) as u64;
    }
    (figures(&sent), evaluated / 30)
}

fn print_figures() {
    println!("prompt prefix over a 30-turn conversation (no flush), bytes of each request:");
    println!(
        "  case                   previous kept  request reused  re-evaluated (with 1st)  tokens to evaluate per request (meter)"
    );
    for (name, edit) in [
        ("no core edit", None),
        ("core edit, recompile", Some(CoreEdits::Recompile)),
        ("core edit, append", Some(CoreEdits::Append)),
    ] {
        let ((kept, reused, fresh, fresh_all, tokens), meter) = conversation(edit);
        println!(
            "  {name:<21}  {:>12.2}%  {:>13.2}%  {:>6.2}% ({:>5.2}%)  {tokens:>20} ({meter})",
            kept * 100.0,
            reused * 100.0,
            fresh * 100.0,
            fresh_all * 100.0
        );
    }
    println!("  (MemGPT 0.3.25 on the same conversation: 4.5% re-evaluated)");
}

fn cache_stat_8k(c: &mut Criterion) {
    print_figures();
    let dir = tempfile::tempdir().unwrap();
    let mut agent = common::filled_agent(&dir.path().join("bench.redb"), 8192, 6800);
    let first = agent.prompt_segments(&agent.budget());
    agent.prompt_sent(first);
    c.bench_function("cache_stat_8k", |b| {
        b.iter(|| {
            let segments = agent.prompt_segments(&agent.budget());
            std::hint::black_box(agent.cache_stat(&segments));
        })
    });
}

criterion_group!(benches, cache_stat_8k);
criterion_main!(benches);
