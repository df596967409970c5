//! Streaming over server-sent events: thoughts arrive as they are written, tool calls are
//! assembled from deltas (in OpenAI's and llama-cpp-python's dialects), a stream cut off in the
//! middle is retried without leaving half a message, and an interrupt stops a stream.

mod common;

use common::*;
use memscope::engine::{Command, EventKind, Status};
use memscope::memory::Role;
use memscope::model::{ClientConfig, ModelClient, RetryPolicy};
use memscope::store::Store;
use serde_json::{Value, json};

fn streaming_client(server: &Server) -> ModelClient {
    ModelClient::new(ClientConfig {
        retry: RetryPolicy {
            max_retries: 2,
            base: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
        },
        stream: true,
        ..client_config(&server.base_url)
    })
    .unwrap()
}

fn delta(d: Value) -> Value {
    json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn openai_stream(thought: &[&str], name: &str, args: &[&str]) -> Reply {
    let mut events: Vec<Value> = thought
        .iter()
        .map(|t| delta(json!({"content": t})))
        .collect();
    events.push(delta(json!({"tool_calls": [{"index": 0, "id": "call_s", "type": "function", "function": {"name": name, "arguments": ""}}]})));
    for a in args {
        events.push(delta(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}),
        ));
    }
    events.push(finish("tool_calls"));
    Reply::Sse {
        events,
        done: true,
        hang: false,
    }
}

async fn start_streaming(
    server: &Server,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    memscope::engine::EngineHandle,
) {
    let (d, path) = temp_store();
    let mut h = memscope::engine::spawn(open_agent(&path, 8192), Some(streaming_client(server)));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    (d, path, h)
}

fn deltas(ev: &[EventKind]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e {
            EventKind::ThoughtDelta { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn thoughts_stream_in_and_calls_are_assembled_from_deltas() {
    let server = Server::start(vec![openai_stream(
        &["The user ", "greets me; ", "reply warmly."],
        "send_message",
        &["{\"mess", "age\": \"Hel", "lo!\"}"],
    )])
    .await;
    let (_d, path, mut h) = start_streaming(&server).await;
    let ev = chat(&mut h, "hi").await;
    assert_eq!(
        deltas(&ev),
        vec!["The user ", "greets me; ", "reply warmly."]
    );
    // The pieces come before the whole thought, which comes before the call.
    let first_delta = ev
        .iter()
        .position(|e| matches!(e, EventKind::ThoughtDelta { .. }))
        .unwrap();
    let thought = ev.iter().position(|e| matches!(e, EventKind::Thought { text } if text == "The user greets me; reply warmly.")).unwrap();
    assert!(first_delta < thought);
    assert_eq!(said(&ev), vec!["Hello!"]);
    let req = &server.step_requests()[0];
    assert_eq!(req["stream"], true);
    shutdown(h).await;
    // The trace replays the streamed request exactly.
    let agent = open_agent(&path, 8192);
    let trace = &agent.store.traces("default").unwrap()[0];
    assert_eq!(&agent.replay_request(&trace.request).unwrap(), req);
    assert_eq!(trace.response["streamed"], true);
}

#[tokio::test]
async fn llama_cpp_python_deltas_with_repeated_names_and_nulls_assemble() {
    let d = |args: &str| {
        delta(json!({"role": null, "content": null,
            "tool_calls": [{"index": 0, "id": "call_r", "type": "function", "function": {"name": "core_memory_append", "arguments": args}}],
            "function_call": {"name": "core_memory_append", "arguments": args}}))
    };
    let server = Server::start(vec![Reply::Sse {
        events: vec![
            d("{\"name\": \"human\", "),
            d("\"content\": \"likes tea\", "),
            d("\"request_heartbeat\": false}"),
            finish("tool_calls"),
        ],
        done: true,
        hang: false,
    }])
    .await;
    let (_d, _path, mut h) = start_streaming(&server).await;
    let ev = chat(&mut h, "I like tea").await;
    let r = returns(&ev);
    assert_eq!(r.len(), 1, "one call, not one per dialect: {r:?}");
    assert_eq!(r[0].1, Status::Ok, "{}", r[0].2);
    assert!(deltas(&ev).is_empty());
    shutdown(h).await;
}

#[tokio::test]
async fn a_stream_cut_off_in_the_middle_is_retried_and_never_half_stored() {
    let server = Server::start(vec![
        Reply::Sse {
            events: vec![delta(json!({"content": "I was about to say"}))],
            done: false,
            hang: false,
        },
        openai_stream(
            &["Second try."],
            "send_message",
            &["{\"message\": \"done\"}"],
        ),
    ])
    .await;
    let (_d, path, mut h) = start_streaming(&server).await;
    let ev = chat(&mut h, "hi").await;
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, EventKind::Retry { .. }))
            .count(),
        1,
        "{ev:#?}"
    );
    assert_eq!(said(&ev), vec!["done"]);
    shutdown(h).await;
    let recall = Store::open_read_only(&path)
        .unwrap()
        .recall("default")
        .unwrap();
    let replies: Vec<&str> = recall
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(replies, vec!["Second try.\ndone"]);
}

#[tokio::test]
async fn an_interrupt_stops_a_stream_and_drops_the_step() {
    let server = Server::start(vec![
        Reply::Sse {
            events: vec![delta(json!({"content": "Thinking very slowly"}))],
            done: false,
            hang: true,
        },
        openai_stream(&[], "send_message", &["{\"message\": \"after\"}"]),
    ])
    .await;
    let (_d, path, mut h) = start_streaming(&server).await;
    h.commands
        .send(Command::UserMessage("hello".into()))
        .unwrap();
    until(&mut h.events, |k| {
        matches!(k, EventKind::ThoughtDelta { .. })
    })
    .await;
    h.commands.send(Command::Interrupt).unwrap();
    let ev = until(&mut h.events, chain_ended).await;
    assert_eq!(errors(&ev), vec!["interrupted"]);
    let ev = chat(&mut h, "again").await;
    assert_eq!(said(&ev), vec!["after"]);
    shutdown(h).await;
    let recall = Store::open_read_only(&path)
        .unwrap()
        .recall("default")
        .unwrap();
    assert!(
        !recall
            .iter()
            .any(|m| m.text.contains("Thinking very slowly"))
    );
}

#[tokio::test]
async fn a_stream_that_breaks_before_any_data_is_asked_again_without_streaming() {
    // llama-cpp-python fails a too-long prompt inside the stream; asked plainly it says why.
    let mut script: Vec<Reply> = (0..4).map(|i| say(&format!("ok {i}"))).collect();
    script.push(Reply::Sse {
        events: vec![],
        done: false,
        hang: false,
    });
    script.push(Reply::Http(
        500,
        r#"{"error":{"message":"Requested tokens (4500) exceed context window of 4096"}}"#.into(),
        vec![],
    ));
    script.push(say("after the flush"));
    let server = Server::start(script).await;
    let (_d, _path, mut h) = start_streaming(&server).await;
    for i in 0..4 {
        chat(&mut h, &format!("message {i}")).await;
    }
    let ev = chat(&mut h, "one more").await;
    // Recovered from: a warning, not an error.
    assert!(
        warnings(&ev).contains(&"context_overflow".to_string()),
        "{ev:#?}"
    );
    assert!(errors(&ev).is_empty(), "{ev:#?}");
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::Summary { .. })),
        "{ev:#?}"
    );
    assert_eq!(said(&ev), vec!["after the flush"]);
    let asked: Vec<bool> = server
        .step_requests()
        .iter()
        .map(|r| r["stream"] == true)
        .collect();
    assert_eq!(
        &asked[4..6],
        &[true, false],
        "the request after the broken stream drops \"stream\": {asked:?}"
    );
    shutdown(h).await;
}

/// The pressure notice a fresh agent gets when the server counts `factor` times the local
/// count: a memory warning, or (as almost all of a fresh context is its fixed part) the
/// warning that the fixed part passes the threshold.
async fn warned_when_server_counts(factor: u32) -> Option<String> {
    let (_d, path) = temp_store();
    let agent = open_agent(&path, 4096);
    let local = agent.budget().total;
    assert!(local * 2 > agent.settings.warn_at() && local < agent.settings.warn_at());
    let mut reply = completion(
        json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "send_message", "arguments": "{\"message\":\"hi\"}"}}]}),
    );
    reply["usage"]["prompt_tokens"] = json!(local * factor);
    let server = Server::start(vec![Reply::Ok(reply), say("noted")]).await;
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "hello").await;
    shutdown(h).await;
    ev.into_iter().find_map(|e| match e {
        EventKind::MemoryWarning { message, .. } => Some(message),
        EventKind::Warning {
            kind: memscope::engine::WarningKind::FixedPartTooLarge,
            message,
        } => Some(message),
        _ => None,
    })
}

#[tokio::test]
async fn the_server_count_scales_memory_pressure_when_the_local_count_falls_short() {
    // The local count is under the warning threshold; the server counts twice as much.
    let notice = warned_when_server_counts(2)
        .await
        .expect("a pressure notice");
    assert!(
        notice.contains("scaled ×1.9") && notice.contains("to the server's count"),
        "the notice says how its figure was reached: {notice}"
    );
    assert_eq!(warned_when_server_counts(1).await, None);
}

#[tokio::test]
async fn an_api_key_echoed_across_deltas_never_reaches_events_or_the_store() {
    let key = "sk-stream-secret-4242";
    let server = Server::start(vec![openai_stream(
        &[
            "The key is sk-str",
            "eam-secret-",
            "4242 — I should not say it.",
        ],
        "send_message",
        &["{\"message\": \"sk-stream-se", "cret-4242\"}"],
    )])
    .await;
    let (_d, path) = temp_store();
    let client = ModelClient::new(ClientConfig {
        api_key: Some(key.into()),
        stream: true,
        ..client_config(&server.base_url)
    })
    .unwrap();
    let mut h = memscope::engine::spawn(open_agent(&path, 8192), Some(client));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    let ev = chat(&mut h, "what is my key?").await;
    shutdown(h).await;
    let shown = deltas(&ev).concat();
    assert_eq!(
        shown,
        "The key is [redacted API key] — I should not say it."
    );
    for e in &ev {
        assert!(!format!("{e:?}").contains("4242"), "{e:?}");
    }
    assert_eq!(said(&ev), vec!["[redacted API key]"]);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "the key is in the store file"
    );
}

#[tokio::test]
async fn a_stream_asked_for_usage_reports_the_servers_prompt_count() {
    let Reply::Sse {
        mut events,
        done,
        hang,
    } = openai_stream(&["Short."], "send_message", &["{\"message\": \"Hi!\"}"])
    else {
        unreachable!()
    };
    // The closing chunk OpenAI, vLLM and llama.cpp send when asked: no choices, the usage.
    events.push(json!({"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 2345, "completion_tokens": 9}}));
    let server = Server::start(vec![Reply::Sse { events, done, hang }]).await;
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 8192);
    agent.settings.stream_usage = true;
    let mut h = memscope::engine::spawn(agent, Some(streaming_client(&server)));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    let ev = chat(&mut h, "hi").await;
    shutdown(h).await;
    let req = &server.step_requests()[0];
    assert_eq!(req["stream_options"], json!({"include_usage": true}));
    let last = last_budget(&ev);
    assert_eq!(last.server_prompt_tokens, Some(2345));
    // The trace still rebuilds the request byte for byte.
    let agent = open_agent(&path, 8192);
    let trace = &agent.store.traces("default").unwrap()[0];
    assert_eq!(&agent.replay_request(&trace.request).unwrap(), req);
}

#[tokio::test]
async fn streams_ask_for_usage_only_where_the_provider_takes_it() {
    let server = Server::start(vec![openai_stream(
        &["Short."],
        "send_message",
        &["{\"message\": \"Hi!\"}"],
    )])
    .await;
    let (_d, _path, mut h) = start_streaming(&server).await;
    chat(&mut h, "hi").await;
    shutdown(h).await;
    assert!(server.step_requests()[0].get("stream_options").is_none());
    let resolved = |provider: Option<&str>| {
        let args = memscope::config::ModelArgs {
            provider: provider.map(String::from),
            base_url: Some(server.base_url.clone()),
            ..Default::default()
        };
        let common = memscope::config::CommonArgs {
            config: Some("/dev/null".into()),
            ..Default::default()
        };
        memscope::config::resolve(&common, &args, &|_| None)
            .unwrap()
            .engine
            .stream_usage
    };
    assert!(resolved(Some("llamacpp")) && resolved(Some("vllm")));
    assert!(!resolved(Some("lmstudio")) && !resolved(None));
}
