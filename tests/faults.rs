//! Network faults and bad model output: retried where that makes sense, reported clearly, and
//! never losing the user's message or stopping the engine.

mod common;

use std::time::Duration;

use common::*;
use memscope::engine::{EventKind, Status};
use memscope::memory::{MessageKind, Role};
use memscope::model::{ClientConfig, ModelClient, RetryPolicy};
use memscope::store::Store;
use serde_json::json;

fn retries(events: &[EventKind]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Retry { kind, wait_ms, .. } => Some((kind.to_string(), *wait_ms)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_then_succeed() {
    let server = Server::start(vec![
        Reply::Http(
            429,
            r#"{"error":"slow down"}"#.into(),
            vec![("retry-after".into(), "0".into())],
        ),
        Reply::Http(429, r#"{"error":"slow down"}"#.into(), vec![]),
        Reply::Http(500, "oops".into(), vec![]),
        Reply::Http(503, "busy".into(), vec![]),
        say("made it"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 8192);
    agent.settings.chain_cap = 3;
    let c = client_with(
        &server,
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(2),
            max_delay: Duration::from_millis(50),
        },
        None,
    );
    let mut h = memscope::engine::spawn(agent, Some(c));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    let ev = chat(&mut h, "hi").await;
    assert_eq!(said(&ev), vec!["made it"]);
    let r = retries(&ev);
    assert_eq!(
        r.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        vec![
            "rate_limited",
            "rate_limited",
            "server_error",
            "server_error"
        ]
    );
    // Retry-After: 0 is honoured; without it the backoff doubles.
    assert_eq!(r.iter().map(|x| x.1).collect::<Vec<_>>(), vec![0, 4, 8, 16]);
    shutdown(h).await;
}

#[tokio::test]
async fn after_the_last_retry_the_agent_is_idle_keeps_the_message_and_works_again() {
    let server = Server::start(vec![
        Reply::Http(500, "down".into(), vec![]),
        Reply::Http(502, "down".into(), vec![]),
        Reply::Http(500, "not json at all".into(), vec![]),
        Reply::Http(500, "down".into(), vec![]),
        say("I'm back"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "first message").await;
    assert_eq!(errors(&ev), vec!["server_error"]);
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 1 })
    ));
    let ev = chat(&mut h, "second message").await;
    assert_eq!(said(&ev), vec!["I'm back"]);
    shutdown(h).await;
    let recall = Store::open_read_only(&path)
        .unwrap()
        .recall("default")
        .unwrap();
    let users: Vec<&str> = recall
        .iter()
        .filter(|m| m.kind == MessageKind::UserMessage)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(users, vec!["first message", "second message"]);
    // The failed step left no half-written reply.
    assert_eq!(
        recall.iter().filter(|m| m.role == Role::Assistant).count(),
        1
    );
}

#[tokio::test]
async fn bodies_that_are_not_completions_are_retried_and_reported() {
    let server = Server::start(vec![
        Reply::Http(200, "<html>proxy error</html>".into(), vec![]),
        Reply::Ok(json!({"choices": []})),
        say("fine"),
        Reply::Http(200, "still not json".into(), vec![]),
        Reply::Http(200, "still not json".into(), vec![]),
        Reply::Http(200, "still not json".into(), vec![]),
        Reply::Http(200, "still not json".into(), vec![]),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "hi").await;
    assert_eq!(said(&ev), vec!["fine"]);
    assert_eq!(retries(&ev).len(), 2);
    let ev = chat(&mut h, "again").await;
    assert_eq!(errors(&ev), vec!["invalid_response"]);
    shutdown(h).await;
}

#[tokio::test]
async fn bad_credentials_and_bad_requests_are_not_retried() {
    let server = Server::start(vec![
        Reply::Http(401, r#"{"error":"invalid api key"}"#.into(), vec![]),
        Reply::Http(400, r#"{"error":"unknown field foo"}"#.into(), vec![]),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "a").await;
    assert_eq!(errors(&ev), vec!["auth"]);
    let ev = chat(&mut h, "b").await;
    assert_eq!(errors(&ev), vec!["bad_request"]);
    assert!(retries(&ev).is_empty());
    shutdown(h).await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_the_connection_refused_is_reported() {
    let server = Server::start(vec![Reply::Hang, Reply::Hang]).await;
    let (_d, path) = temp_store();
    let c = ModelClient::new(ClientConfig {
        timeout: Duration::from_millis(200),
        retry: RetryPolicy {
            max_retries: 1,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
        ..client_config(&server.base_url)
    })
    .unwrap();
    let mut h = memscope::engine::spawn(open_agent(&path, 8192), Some(c));
    let ev = chat(&mut h, "hello?").await;
    assert_eq!(errors(&ev), vec!["timeout"]);
    shutdown(h).await;

    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = ModelClient::new(ClientConfig {
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
        ..client_config(&format!("http://127.0.0.1:{port}/v1"))
    })
    .unwrap();
    let mut h = memscope::engine::spawn(open_agent(&path, 8192), Some(c));
    let ev = chat(&mut h, "anyone?").await;
    assert_eq!(errors(&ev), vec!["connection"]);
    assert_eq!(retries(&ev).len(), 2);
    shutdown(h).await;
}

/// One bad reply, then a good one: the bad one must give a Failed result (or a clear error),
/// force a heartbeat, and leave the store valid.
async fn bad_output(reply: Reply) -> (Vec<EventKind>, Vec<(String, Status, String)>) {
    let server = Server::start(vec![reply, say("recovered")]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "go").await;
    shutdown(h).await;
    // The store reopens and its queue is consistent with recall.
    let store = Store::open_read_only(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    let recall = store.recall("default").unwrap();
    assert_eq!(state.recall_count as usize, recall.len());
    assert!(
        state
            .fifo
            .iter()
            .all(|id| recall.iter().any(|m| m.id == *id))
    );
    let r = returns(&ev);
    (ev, r)
}

async fn assert_failed_then_recovered(reply: Reply, needle: &str) {
    let (ev, r) = bad_output(reply).await;
    assert_eq!(r[0].1, Status::Failed, "{r:#?}");
    assert!(
        r[0].2.contains(needle),
        "expected {needle:?} in {:?}",
        r[0].2
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::Heartbeat { reason } if reason.contains("failed")))
    );
    assert_eq!(said(&ev), vec!["recovered"]);
}

#[tokio::test]
async fn arguments_that_are_not_json_fail() {
    assert_failed_then_recovered(
        call_raw("send_message", "I want to say hello"),
        "not a JSON object",
    )
    .await;
}

#[tokio::test]
async fn arguments_of_the_wrong_json_type_fail() {
    assert_failed_then_recovered(call_raw("send_message", r#"["hello"]"#), "not an array").await;
    assert_failed_then_recovered(call_raw("send_message", r#""hello""#), "not a string").await;
}

#[tokio::test]
async fn an_unknown_function_fails_and_lists_the_real_ones() {
    assert_failed_then_recovered(
        call("delete_everything", json!({})),
        "archival_memory_search",
    )
    .await;
}

#[tokio::test]
async fn a_missing_required_parameter_fails() {
    assert_failed_then_recovered(
        call(
            "core_memory_append",
            json!({"name": "human", "request_heartbeat": true}),
        ),
        "missing the required parameter(s) content",
    )
    .await;
}

#[tokio::test]
async fn wrong_parameter_types_fail() {
    assert_failed_then_recovered(
        call(
            "core_memory_append",
            json!({"name": ["human"], "content": "x", "request_heartbeat": true}),
        ),
        "must be string",
    )
    .await;
    assert_failed_then_recovered(
        call(
            "conversation_search",
            json!({"query": "x", "page": "two", "request_heartbeat": true}),
        ),
        "must be integer",
    )
    .await;
}

#[tokio::test]
async fn extra_parameters_fail() {
    assert_failed_then_recovered(
        call("send_message", json!({"message": "hi", "urgent": true})),
        "urgent",
    )
    .await;
}

#[tokio::test]
async fn a_function_name_with_control_characters_fails_without_echoing_them() {
    let (ev, r) = bad_output(call("send_message\u{1b}[2J\u{7}", json!({"message": "x"}))).await;
    assert_eq!(r[0].1, Status::Failed);
    for e in &ev {
        let line = serde_json::to_string(e).unwrap();
        assert!(
            !line.contains('\u{1b}') && !line.contains("\\u001b"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn an_enormous_argument_fails() {
    let big = "a".repeat(1024 * 1024);
    let (ev, r) = bad_output(call(
        "archival_memory_insert",
        json!({"content": big, "request_heartbeat": true}),
    ))
    .await;
    assert_eq!(r[0].1, Status::Failed, "{r:#?}");
    assert!(r[0].2.contains("over the limit"), "{:?}", r[0].2);
    // The megabyte of arguments does not go back to the model: the transcript says it was left
    // out, so it neither fills the context nor needs a flush.
    assert!(
        !ev.iter().any(|e| matches!(
            e,
            EventKind::MemoryWarning { .. } | EventKind::Summary { .. }
        )),
        "{ev:#?}"
    );
    assert!(last_budget(&ev).total < 8192, "{}", last_budget(&ev).total);
    assert_eq!(said(&ev), vec!["recovered"]);
}

#[tokio::test]
async fn repairable_arguments_are_repaired_and_the_repair_is_reported() {
    let (ev, r) = bad_output(call_raw("core_memory_append", "{\"name\": \"human\", \"content\": \"line one\nline two\", \"request_heartbeat\": \"true\"")).await;
    assert_eq!(r[0].1, Status::Ok, "{r:#?}");
    let repairs = ev
        .iter()
        .find_map(|e| match e {
            EventKind::FunctionCall { repairs, .. } => Some(repairs.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(repairs.len(), 3, "{repairs:?}"); // control characters, truncation, "true"
    // request_heartbeat "true" was honoured: the next step is the good reply.
    assert_eq!(said(&ev), vec!["recovered"]);
}

#[tokio::test]
async fn an_empty_reply_is_reported_and_the_agent_waits() {
    let (ev, _) = bad_output(Reply::Ok(completion(
        json!({"role": "assistant", "content": ""}),
    )))
    .await;
    assert_eq!(errors(&ev), vec!["empty_reply"]);
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 1 })
    ));
}

#[tokio::test]
async fn a_summary_call_that_returns_nothing_still_evicts_with_a_plain_extract() {
    let server = Server::start(vec![]).await;
    for _ in 0..3 {
        server.push_summary(Reply::Ok(text_reply("")));
    }
    let (_d, path) = temp_store();
    let window = 2600;
    let mut h = start(open_agent(&path, window), &server).await;
    let mut saw = false;
    for i in 0..30 {
        server.push(say(&format!("ok {i}")));
        let ev = chat(&mut h, &format!("message {i} {}", "padding ".repeat(40))).await;
        if ev.iter().any(|e| matches!(e, EventKind::Summary { .. })) {
            assert!(errors(&ev).contains(&"summary_failed".to_string()));
            let summary = ev
                .iter()
                .find_map(|e| match e {
                    EventKind::Summary { summary, .. } => Some(summary.clone()),
                    _ => None,
                })
                .unwrap();
            assert!(summary.contains("message 0"), "{summary}");
            saw = true;
            break;
        }
    }
    assert!(saw);
    shutdown(h).await;
}

#[tokio::test]
async fn a_body_cut_off_in_the_middle_is_retried_and_never_half_stored() {
    let full = completion(json!({"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "send_message", "arguments": "{\"message\":\"whole\"}"}}]})).to_string();
    let server = Server::start(vec![
        Reply::Cut(full[..full.len() / 2].to_string()),
        say("whole reply"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "hi").await;
    assert_eq!(retries(&ev).len(), 1, "{ev:#?}");
    assert_eq!(said(&ev), vec!["whole reply"]);
    shutdown(h).await;
    let recall = Store::open_read_only(&path)
        .unwrap()
        .recall("default")
        .unwrap();
    assert_eq!(
        recall.iter().filter(|m| m.role == Role::Assistant).count(),
        1
    );
}

#[tokio::test]
async fn a_flood_of_tool_calls_is_cut_short_and_every_kept_call_is_answered() {
    let calls: Vec<(String, String)> = (0..200)
        .map(|i| {
            (
                "send_message".to_string(),
                format!("{{\"message\":\"spam {i}\"}}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = calls
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (ev, r) = bad_output(calls_raw(None, &refs)).await;
    assert!(warnings(&ev).contains(&"too_many_calls".to_string()));
    // Eight kept: the first ran (and ended the chain), seven were answered "not run".
    assert_eq!(r.len(), memscope::engine::step::MAX_CALLS_PER_REPLY);
    assert_eq!(said(&ev), vec!["spam 0"]);
}

#[tokio::test]
async fn an_enormous_text_reply_goes_back_to_the_model_shortened() {
    // Wide characters: more tokens than bytes would suggest.
    let huge = "海".repeat(200_000);
    let server = Server::start(vec![Reply::Ok(text_reply(&huge)), say("recovered")]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "go").await;
    let ev = chat(&mut h, "again").await;
    assert_eq!(said(&ev), vec!["recovered"]);
    let req = server.step_requests().pop().unwrap();
    let thought = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant" && m["content"].as_str().unwrap().contains('海'))
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        thought.contains("characters left out"),
        "{}",
        &thought[..60]
    );
    assert!(
        thought.chars().count() < 10_000,
        "{}",
        thought.chars().count()
    );
    shutdown(h).await;
}
