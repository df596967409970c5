//! Every memory function's success and failure paths, through the real engine, a real redb file
//! and a scripted model over HTTP on 127.0.0.1.

mod common;

use common::*;
use memscope::engine::{EventKind, Status};
use memscope::store::Store;
use serde_json::json;

fn hb(mut v: serde_json::Value, on: bool) -> serde_json::Value {
    v["request_heartbeat"] = json!(on);
    v
}

#[tokio::test]
async fn send_message_reaches_the_user_and_ends_the_chain() {
    let server = Server::start(vec![think_call(
        "Greet them.",
        "send_message",
        json!({"message": "Hello there!"}),
    )])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "hi").await;
    assert_eq!(said(&ev), vec!["Hello there!"]);
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::Thought { text } if text == "Greet them."))
    );
    assert_eq!(
        returns(&ev),
        vec![("send_message".into(), Status::Ok, "sent to the user".into())]
    );
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 1 })
    ));
    // The tool result went back in the MemGPT shape on the next call.
    server.push(say("again"));
    chat(&mut h, "more").await;
    let req = server.step_requests().pop().unwrap();
    let msgs = req["messages"].as_array().unwrap();
    let tool = msgs.iter().find(|m| m["role"] == "tool").unwrap();
    let content: serde_json::Value =
        serde_json::from_str(tool["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["status"], "OK");
    assert!(content["time"].is_string());
    // A session starts with a login event, then the user's message.
    let login: serde_json::Value =
        serde_json::from_str(msgs[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        (login["type"].as_str(), login["last_login"].as_str()),
        (Some("login"), Some("never"))
    );
    let user: serde_json::Value =
        serde_json::from_str(msgs[2]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        (user["type"].as_str(), user["message"].as_str()),
        (Some("user_message"), Some("hi"))
    );
    shutdown(h).await;
}

#[tokio::test]
async fn empty_send_message_fails_and_forces_a_heartbeat() {
    let server = Server::start(vec![
        call("send_message", json!({"message": "  "})),
        say("Sorry, hello!"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "hi").await;
    let r = returns(&ev);
    assert_eq!(r[0].1, Status::Failed);
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::Heartbeat { reason } if reason.contains("failed")))
    );
    assert_eq!(said(&ev), vec!["Sorry, hello!"]);
    shutdown(h).await;
}

#[tokio::test]
async fn core_memory_append_and_replace_edit_blocks_and_reach_the_next_prompt() {
    let server = Server::start(vec![
        call("core_memory_append", json!({"name": "human", "content": "Name: Priya", "request_heartbeat": true})),
        call("core_memory_replace", json!({"name": "human", "old_content": "Priya", "new_content": "Priya Raman", "request_heartbeat": true})),
        say("Noted, Priya."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "I'm Priya Raman").await;
    let r = returns(&ev);
    assert_eq!(
        r.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![Status::Ok; 3]
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::CoreMemoryUpdated { label, .. } if label == "human"))
    );
    let reqs = server.step_requests();
    let system = reqs[2]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Name: Priya Raman"), "{system}");
    assert!(system.contains("<human characters=\""));
    shutdown(h).await;
    let store = Store::open_read_only(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    assert!(
        state
            .core
            .get("human")
            .unwrap()
            .value
            .ends_with("Name: Priya Raman")
    );
}

#[tokio::test]
async fn core_memory_failures_change_nothing_and_say_why() {
    let long = "x".repeat(2100);
    let server = Server::start(vec![
        call("core_memory_append", json!({"name": "human", "content": long, "request_heartbeat": false})),
        call("core_memory_append", json!({"name": "Priya", "content": "x", "request_heartbeat": false})),
        call("core_memory_replace", json!({"name": "human", "old_content": "", "new_content": "x", "request_heartbeat": false})),
        call("core_memory_replace", json!({"name": "human", "old_content": "not there", "new_content": "x", "request_heartbeat": false})),
        call("core_memory_append", json!({"name": "persona", "content": "evil", "request_heartbeat": false})),
        say("done"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 8192);
    agent.state.core.blocks[0].read_only = true;
    let before = agent.state.core.clone();
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "go").await;
    let r = returns(&ev);
    let failed: Vec<&str> = r
        .iter()
        .filter(|x| x.1 == Status::Failed)
        .map(|x| x.2.as_str())
        .collect();
    assert_eq!(failed.len(), 5, "{r:#?}");
    assert!(failed[0].contains("over its limit of 2000"));
    assert!(failed[1].contains("persona, human"));
    assert!(failed[2].contains("must not be empty"));
    assert!(failed[3].contains("not found"));
    assert!(failed[4].contains("read-only"));
    // Each failure forced a heartbeat even though none was requested.
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, EventKind::Heartbeat { .. }))
            .count(),
        5
    );
    shutdown(h).await;
    let state = Store::open_read_only(&path)
        .unwrap()
        .load_agent("default")
        .unwrap()
        .unwrap();
    assert_eq!(state.core.get("human"), before.get("human"));
}

#[tokio::test]
async fn conversation_search_finds_words_across_recall_with_true_totals() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![]).await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    for i in 0..7 {
        server.push(say(&format!("reply {i}")));
        chat(&mut h, &format!("note {i}: the giraffe is tall")).await;
    }
    server.push(call(
        "conversation_search",
        hb(json!({"query": "giraffe"}), true),
    ));
    server.push(call(
        "conversation_search",
        hb(json!({"query": "giraffe", "page": 1}), true),
    ));
    server.push(call(
        "conversation_search",
        hb(json!({"query": "  "}), false),
    ));
    server.push(say("found"));
    let ev = chat(&mut h, "what about giraffes?").await;
    let r = returns(&ev);
    assert_eq!(r[0].1, Status::Ok);
    // 7 user notes mention the giraffe; this question says "giraffes", another word.
    assert!(
        r[0].2.starts_with("Results 1-5 of 7 (page 1 of 2"),
        "{}",
        r[0].2
    );
    assert!(
        r[1].2.starts_with("Results 6-7 of 7 (page 2 of 2"),
        "{}",
        r[1].2
    );
    assert!(
        !r[0].2.contains("user_message"),
        "envelopes must not be searched or shown"
    );
    assert_eq!(r[2].1, Status::Failed);
    shutdown(h).await;
}

#[tokio::test]
async fn conversation_search_matches_inner_thoughts_and_sent_messages_not_envelopes() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![
        think_call(
            "The zebra question is tricky.",
            "send_message",
            json!({"message": "Zebras are striped."}),
        ),
        call(
            "conversation_search",
            hb(json!({"query": "zebra striped"}), true),
        ),
        call(
            "conversation_search",
            hb(json!({"query": "heartbeat"}), true),
        ),
        say("ok"),
    ])
    .await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "tell me something").await;
    let ev = chat(&mut h, "search").await;
    let r = returns(&ev);
    // Thought and sent message are one assistant message; both are searchable.
    assert!(r[0].2.contains("of 1"), "{}", r[0].2);
    assert!(r[0].2.contains("Zebras are striped.") && r[0].2.contains("zebra question"));
    assert!(r[1].2.starts_with("No results"), "{}", r[1].2);
    shutdown(h).await;
}

#[tokio::test]
async fn conversation_search_date_is_inclusive_and_checks_its_input() {
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let (_d, path) = temp_store();
    let server = Server::start(vec![
        call(
            "conversation_search_date",
            hb(
                json!({"start_date": today.to_string(), "end_date": today.to_string()}),
                true,
            ),
        ),
        call(
            "conversation_search_date",
            hb(
                json!({"start_date": tomorrow.to_string(), "end_date": tomorrow.to_string()}),
                true,
            ),
        ),
        call(
            "conversation_search_date",
            hb(
                json!({"start_date": "24/11/2026", "end_date": "2026-11-25"}),
                true,
            ),
        ),
        call(
            "conversation_search_date",
            hb(
                json!({"start_date": tomorrow.to_string(), "end_date": today.to_string()}),
                true,
            ),
        ),
        say("ok"),
    ])
    .await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "what did we say today?").await;
    let r = returns(&ev);
    assert_eq!(r[0].1, Status::Ok);
    assert!(
        r[0].2.contains("of 1") && r[0].2.contains("what did we say today?"),
        "{}",
        r[0].2
    );
    assert!(r[1].2.starts_with("No results"), "{}", r[1].2);
    assert_eq!((r[2].1, r[3].1), (Status::Failed, Status::Failed));
    assert!(r[2].2.contains("YYYY-MM-DD") && r[3].2.contains("after"));
    shutdown(h).await;
}

#[tokio::test]
async fn archival_insert_chunks_long_text_and_search_ranks_by_bm25() {
    let long: String = (0..40)
        .map(|i| format!("Paragraph {i} is about the history of tea in Assam. "))
        .collect();
    let (_d, path) = temp_store();
    let server = Server::start(vec![
        call(
            "archival_memory_insert",
            hb(
                json!({"content": "Priya's sister Meera lives in Lisbon."}),
                true,
            ),
        ),
        call(
            "archival_memory_insert",
            hb(
                json!({"content": "The user prefers green tea over coffee."}),
                true,
            ),
        ),
        call("archival_memory_insert", hb(json!({"content": long}), true)),
        call("archival_memory_insert", hb(json!({"content": ""}), true)),
        call(
            "archival_memory_search",
            hb(json!({"query": "where does Meera live"}), true),
        ),
        call("archival_memory_search", hb(json!({"query": ""}), true)),
        say("saved"),
    ])
    .await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "remember these").await;
    let r = returns(&ev);
    assert_eq!(r[0].2, "saved to archival memory as passage 1");
    assert!(r[2].2.contains("as 2 passages (3-4)"), "{}", r[2].2);
    assert_eq!(r[3].1, Status::Failed);
    assert_eq!(r[4].1, Status::Ok);
    let hits: Vec<&str> = r[4].2.lines().collect();
    assert!(hits[0].starts_with("Results 1-1 of 1"), "{}", r[4].2);
    assert!(hits[1].contains("Meera lives in Lisbon") && hits[1].contains("timestamp"));
    assert_eq!(r[5].1, Status::Failed);
    shutdown(h).await;
    let passages = Store::open_read_only(&path)
        .unwrap()
        .archival("default")
        .unwrap();
    assert_eq!(passages.len(), 4);
    assert!(passages.iter().all(|p| p.text.chars().count() <= 1500));
}

#[tokio::test]
async fn archival_search_ranks_by_cosine_with_an_embedding_model() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![
        call(
            "archival_memory_insert",
            hb(json!({"content": "alpha beta gamma"}), true),
        ),
        call(
            "archival_memory_insert",
            hb(json!({"content": "delta epsilon zeta"}), true),
        ),
        call(
            "archival_memory_search",
            hb(json!({"query": "zeta epsilon"}), true),
        ),
        say("ok"),
    ])
    .await;
    let c = client_with(
        &server,
        memscope::model::RetryPolicy::default(),
        Some("test-embed"),
    );
    let mut h = memscope::engine::spawn(open_agent(&path, 8192), Some(c));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    let ev = chat(&mut h, "go").await;
    let r = returns(&ev);
    assert!(
        r[2].2.contains("of 2"),
        "cosine ranks every embedded passage: {}",
        r[2].2
    );
    let first_hit = r[2].2.lines().nth(1).unwrap();
    let pos_delta = first_hit.find("delta").unwrap();
    let pos_alpha = first_hit.find("alpha").unwrap();
    assert!(pos_delta < pos_alpha, "{first_hit}");
    let embeds: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/embeddings"))
        .collect();
    assert_eq!(embeds.len(), 3);
    shutdown(h).await;
    let passages = Store::open_read_only(&path)
        .unwrap()
        .archival("default")
        .unwrap();
    assert!(
        passages
            .iter()
            .all(|p| p.embedding_model.as_deref() == Some("test-embed")
                && p.embedding.as_ref().unwrap().len() == 64)
    );
}

#[tokio::test]
async fn pause_heartbeats_ends_the_chain_and_suppresses_requested_heartbeats() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![
        call("pause_heartbeats", json!({"minutes": 0})),
        call("pause_heartbeats", json!({"minutes": 30})),
    ])
    .await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "quiet please").await;
    let r = returns(&ev);
    assert_eq!((r[0].1, r[1].1), (Status::Failed, Status::Ok));
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 2 })
    ));
    // While paused, request_heartbeat: true does not chain.
    server.push(call(
        "archival_memory_insert",
        hb(json!({"content": "note"}), true),
    ));
    let ev = chat(&mut h, "save a note").await;
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 1 })
    ));
    shutdown(h).await;
}
