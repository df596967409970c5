//! The engine's own cost per step, and the time from start to the first event.
//!
//! `step_8k`: everything a step does except waiting for the network, with an 8k-token context:
//! build and serialize the request, parse the response body, validate and run the function,
//! decide what follows, and commit the step durably to redb. Target: under 0.5 ms.
//! `start_to_first_event`: the release binary `memscope run` on a store holding such an agent,
//! from spawn to its first JSON line on stdout (the endpoint is a stub on 127.0.0.1 answering
//! `/v1/models`). Target: under 100 ms.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

use memscope::engine::Agent;
use memscope::model::parse_chat;

mod common;

/// An agent whose main context holds about 7k of its 8k tokens.
fn filled_agent(path: &std::path::Path) -> Agent {
    common::filled_agent(path, 8192, 6800)
}

fn reply_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant",
            "content": "They asked about the weekend; answer briefly.",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "send_message",
                "arguments": "{\"message\": \"Sounds like a lovely weekend plan!\"}"
            }}]
        }}],
        "usage": {"prompt_tokens": 7000, "completion_tokens": 30}
    }))
    .unwrap()
}

fn step_8k(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = filled_agent(&dir.path().join("bench.redb"));
    let body = reply_body();
    let base_len = agent.fifo().len();
    c.bench_function("step_8k", |b| {
        b.iter(|| {
            agent.state.step += 1;
            let request = agent.request_record();
            let wire = agent.encode_request(&request);
            std::hint::black_box(&wire);
            let reply = parse_chat(serde_json::from_slice(&body).unwrap()).unwrap();
            let report = common::apply(&mut agent, request, &reply);
            std::hint::black_box(report);
            // Keep the context at 8k: forget the step's messages from the queue (they stay in recall).
            agent.forget_newest(base_len);
        })
    });
}

fn start_to_first_event(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("start.redb");
    drop(filled_agent(&path));
    let url = common::stub_endpoint();
    let mut group = c.benchmark_group("startup");
    group.sample_size(20);
    group.bench_function("start_to_first_event", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += common::time_to_ready(&path, &url, dir.path());
            }
            total
        })
    });
    group.finish();
}

fn phases(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = filled_agent(&dir.path().join("p.redb"));
    c.bench_function("phase_request_body", |b| {
        b.iter(|| agent.encode_request(&agent.request_record()))
    });
    c.bench_function("phase_budget", |b| b.iter(|| agent.budget()));
    c.bench_function("phase_commit_empty", |b| {
        b.iter(|| agent.commit(&[], &[], &[], None).unwrap())
    });
}

criterion_group!(benches, step_8k, phases, start_to_first_event);
criterion_main!(benches);
