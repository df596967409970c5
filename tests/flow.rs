//! The agent loop end to end: heartbeat chains, the chain cap, memory pressure, flushes with
//! recursive summaries, the step gate, interrupts, manual edits and resuming after a restart.

mod common;

use common::*;
use memscope::engine::{Command, EventKind, Status, Trigger};
use memscope::memory::{MessageKind, Role};
use memscope::store::Store;
use serde_json::json;

#[tokio::test]
async fn request_heartbeat_chains_calls_until_send_message() {
    let server = Server::start(vec![
        call(
            "archival_memory_search",
            json!({"query": "tea", "request_heartbeat": true}),
        ),
        call(
            "core_memory_append",
            json!({"name": "human", "content": "likes tea", "request_heartbeat": true}),
        ),
        say("You like tea."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "what do I like?").await;
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 3 })
    ));
    let triggers: Vec<Trigger> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::ModelCall { trigger } => Some(trigger.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        triggers,
        vec![
            Trigger::UserMessage,
            Trigger::Heartbeat {
                function: "archival_memory_search".into()
            },
            Trigger::Heartbeat {
                function: "core_memory_append".into()
            },
        ]
    );
    // The function log says which calls were followed by a heartbeat.
    let hbs: Vec<bool> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::FunctionReturn { heartbeat, .. } => Some(*heartbeat),
            _ => None,
        })
        .collect();
    assert_eq!(hbs, vec![true, true, false]);
    // Heartbeats reach the model as user-role JSON events.
    let last = server.step_requests().pop().unwrap();
    let hb = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .unwrap();
    let hb: serde_json::Value = serde_json::from_str(hb["content"].as_str().unwrap()).unwrap();
    assert_eq!(hb["type"], "heartbeat");
    shutdown(h).await;
}

#[tokio::test]
async fn a_reply_without_a_tool_call_is_inner_thought_and_yields() {
    let server = Server::start(vec![Reply::Ok(text_reply("Hmm, I should wait."))]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "hello").await;
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::Thought { text } if text == "Hmm, I should wait."))
    );
    assert!(said(&ev).is_empty());
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 1 })
    ));
    shutdown(h).await;
}

#[tokio::test]
async fn the_chain_cap_stops_an_endless_heartbeat_loop_and_says_so() {
    let server = Server::start(vec![]).await;
    for _ in 0..4 {
        server.push(call(
            "archival_memory_search",
            json!({"query": "loop", "request_heartbeat": true}),
        ));
    }
    server.push(say("back"));
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 8192);
    agent.settings.chain_cap = 4;
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "go").await;
    assert_eq!(server.step_requests().len(), 4);
    assert!(errors(&ev).contains(&"chain_cap".to_string()));
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 4 })
    ));
    // The engine still answers afterwards.
    let ev = chat(&mut h, "hello?").await;
    assert_eq!(said(&ev), vec!["back"]);
    shutdown(h).await;
}

#[tokio::test]
async fn several_tool_calls_run_only_the_first_and_answer_the_rest() {
    let server = Server::start(vec![
        calls_raw(
            None,
            &[
                (
                    "core_memory_append",
                    r#"{"name":"human","content":"first","request_heartbeat":false}"#,
                ),
                (
                    "core_memory_append",
                    r#"{"name":"human","content":"second","request_heartbeat":false}"#,
                ),
                ("send_message", r#"{"message":"third"}"#),
            ],
        ),
        say("ok"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let ev = chat(&mut h, "go").await;
    let r = returns(&ev);
    assert_eq!(
        r.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![Status::Ok, Status::Failed, Status::Failed]
    );
    assert!(r[1].2.contains("only the first function call"));
    assert!(
        said(&ev).is_empty(),
        "the third call (send_message) must not run"
    );
    // The next request has a tool result for every call id, so the transcript is valid.
    server.push(say("x"));
    chat(&mut h, "next").await;
    let req = server.step_requests().pop().unwrap();
    let msgs = req["messages"].as_array().unwrap();
    let ids: Vec<&str> = msgs
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "call_0_core_memory_append",
            "call_1_core_memory_append",
            "call_2_send_message"
        ]
    );
    let assistant = msgs.iter().find(|m| m["tool_calls"].is_array()).unwrap();
    assert_eq!(
        assistant["content"], "",
        "content must be a string beside tool_calls"
    );
    shutdown(h).await;
    let state = Store::open_read_only(&path)
        .unwrap()
        .load_agent("default")
        .unwrap()
        .unwrap();
    let human = &state.core.get("human").unwrap().value;
    assert!(human.ends_with("first") && !human.contains("second"));
}

#[tokio::test]
async fn a_memory_pressure_warning_is_sent_once_per_period() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    // A 4096-token window with the warning at half of it.
    let mut agent = open_agent(&path, 4096);
    agent.settings.warn_ratio = 0.5;
    let mut h = start(agent, &server).await;
    let mut warnings = 0;
    let mut alert_sent = false;
    for i in 0..6 {
        server.push(say(&format!("noted {i}")));
        server.push(say("I will save what matters."));
        let ev = chat(&mut h, &format!("message {i}: {}", "words ".repeat(60))).await;
        let w = ev
            .iter()
            .filter(|e| matches!(e, EventKind::MemoryWarning { .. }))
            .count();
        warnings += w;
        if let Some(EventKind::MemoryWarning { message, used, .. }) = ev
            .iter()
            .find(|e| matches!(e, EventKind::MemoryWarning { .. }))
        {
            // The figure quoted is the one that passed the threshold (2048 here).
            assert!(*used > 2048, "{used}");
            assert!(
                message.contains(&format!("({used} of 4096 tokens, by the local")),
                "{message}"
            );
        }
        if w > 0 {
            // The warning came before the chain ended and triggered a step of its own.
            assert!(ev.iter().any(|e| matches!(
                e,
                EventKind::ModelCall {
                    trigger: Trigger::MemoryWarning
                }
            )));
            let req = server.step_requests().pop().unwrap();
            alert_sent = req["messages"].as_array().unwrap().iter().any(|m| {
                m["role"] == "user" && m["content"].as_str().unwrap().contains("Memory pressure")
            });
        }
        if ev.iter().any(|e| matches!(e, EventKind::Summary { .. })) {
            break;
        }
    }
    assert_eq!(warnings, 1);
    assert!(
        alert_sent,
        "the warning reaches the model as a system alert"
    );
    shutdown(h).await;
}

#[tokio::test]
async fn a_long_conversation_flushes_into_a_recursive_summary_and_recall_keeps_everything() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let window = 3000;
    let mut h = start(open_agent(&path, window), &server).await;
    let mut summaries = 0;
    for i in 0..40 {
        server.push(call(
            "archival_memory_search",
            json!({"query": format!("topic {i}"), "request_heartbeat": true}),
        ));
        server.push(say(&format!("Reply number {i}.")));
        let ev = chat(
            &mut h,
            &format!(
                "Fact {i}: my code word is kiwi{i}. {}",
                "filler ".repeat(30)
            ),
        )
        .await;
        summaries += ev
            .iter()
            .filter(|e| matches!(e, EventKind::Summary { .. }))
            .count();
        for e in &ev {
            if let EventKind::Budget(b) = e {
                assert!(
                    b.total <= window,
                    "prompt {} must fit the window {window}",
                    b.total
                );
            }
        }
        if summaries >= 2 {
            break;
        }
    }
    assert!(summaries >= 2, "a small window must flush more than once");
    // Every request the model got fits the window (counted locally).
    let sums = server.summary_requests();
    assert!(sums.len() >= 2);
    // Recursive: the second summary call carries the first summary.
    let second = sums[1]["messages"][1]["content"].as_str().unwrap();
    assert!(second.contains("Summary of"), "{second}");
    // The summary sits right after the system message as a system alert.
    let req = server.step_requests().pop().unwrap();
    let msgs = req["messages"].as_array().unwrap();
    let alert: serde_json::Value =
        serde_json::from_str(msgs[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(alert["type"], "system_alert");
    assert!(alert["message"].as_str().unwrap().contains("Summary of"));
    // No tool result is separated from its call.
    let mut open_calls: Vec<String> = Vec::new();
    for m in &msgs[2..] {
        if let Some(calls) = m["tool_calls"].as_array() {
            open_calls.extend(calls.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        }
        if m["role"] == "tool" {
            let id = m["tool_call_id"].as_str().unwrap();
            assert!(
                open_calls.iter().any(|c| c == id),
                "orphan tool result {id}"
            );
        }
    }
    assert_ne!(msgs[2]["role"], "tool");
    // Evicted messages are still found by conversation_search.
    server.push(call(
        "conversation_search",
        json!({"query": "kiwi0", "request_heartbeat": true}),
    ));
    server.push(say("Your first code word was kiwi0."));
    let ev = chat(&mut h, "what was my first code word?").await;
    let r = returns(&ev);
    assert!(
        r[0].2.contains("Fact 0: my code word is kiwi0"),
        "{}",
        r[0].2
    );
    shutdown(h).await;
    let store = Store::open_read_only(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    let recall = store.recall("default").unwrap();
    assert_eq!(recall.len() as u64, state.recall_count);
    assert!(state.fifo.len() < recall.len());
    assert!(state.summary.is_some());
    assert!(state.fifo.len() >= 3);
}

#[tokio::test]
async fn a_context_overflow_from_the_server_triggers_a_flush_and_a_retry() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    for i in 0..6 {
        server.push(say(&format!("ok {i}")));
        chat(&mut h, &format!("message {i}")).await;
    }
    server.push(Reply::Http(400, r#"{"error":{"message":"This model's maximum context length is 4096 tokens","code":"context_length_exceeded"}}"#.into(), vec![]));
    server.push(say("after flush"));
    let ev = chat(&mut h, "one more").await;
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::Summary { .. })),
        "{ev:#?}"
    );
    assert_eq!(said(&ev), vec!["after flush"]);
    // The window the server stated replaces the one configured, and the budget says so.
    let b = last_budget(&ev);
    assert_eq!(
        (b.context_window, b.window_source.as_str()),
        (4096, "server")
    );
    shutdown(h).await;
}

#[tokio::test]
async fn step_mode_pauses_before_every_call_and_reports_the_trigger() {
    let server = Server::start(vec![
        call(
            "core_memory_append",
            json!({"name": "human", "content": "bad", "request_heartbeat": "maybe"}),
        ),
        call(
            "archival_memory_search",
            json!({"query": "x", "request_heartbeat": true}),
        ),
        say("done"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    h.commands.send(Command::SetStepMode(true)).unwrap();
    h.commands
        .send(Command::UserMessage("step me".into()))
        .unwrap();
    let mut triggers = Vec::new();
    for _ in 0..3 {
        let ev = until(&mut h.events, |k| matches!(k, EventKind::Paused { .. })).await;
        let Some(EventKind::Paused { trigger, .. }) = ev.last() else {
            unreachable!()
        };
        triggers.push(trigger.clone());
        // Nothing was sent to the model while paused.
        assert_eq!(server.step_requests().len(), triggers.len() - 1);
        if triggers.len() == 2 {
            // A manual edit while paused is seen by the next step.
            h.commands
                .send(Command::EditCore {
                    label: "human".into(),
                    value: "Edited while paused".into(),
                })
                .unwrap();
            until(&mut h.events, |k| matches!(k, EventKind::Paused { .. })).await;
        }
        h.commands.send(Command::Step).unwrap();
    }
    let ev = until(&mut h.events, chain_ended).await;
    assert_eq!(said(&ev), vec!["done"]);
    assert_eq!(
        triggers,
        vec![
            Trigger::UserMessage,
            Trigger::FunctionFailed {
                function: "core_memory_append".into()
            },
            Trigger::Heartbeat {
                function: "archival_memory_search".into()
            },
        ]
    );
    let third = &server.step_requests()[2];
    assert!(
        third["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Edited while paused")
    );
    // Continue runs the rest of a chain without pausing.
    server.push(call(
        "archival_memory_search",
        json!({"query": "y", "request_heartbeat": true}),
    ));
    server.push(say("two steps"));
    h.commands
        .send(Command::UserMessage("again".into()))
        .unwrap();
    until(&mut h.events, |k| matches!(k, EventKind::Paused { .. })).await;
    h.commands.send(Command::Continue).unwrap();
    let ev = until(&mut h.events, chain_ended).await;
    assert!(!ev.iter().any(|e| matches!(e, EventKind::Paused { .. })));
    assert!(matches!(
        ev.last(),
        Some(EventKind::ChainEnded { steps: 2 })
    ));
    shutdown(h).await;
}

#[tokio::test]
async fn interrupting_a_call_in_flight_drops_the_step_and_keeps_the_message() {
    let server = Server::start(vec![Reply::Hang]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    let seen = server.chat_seen.notified();
    h.commands
        .send(Command::UserMessage("are you there?".into()))
        .unwrap();
    seen.await;
    h.commands.send(Command::Interrupt).unwrap();
    let ev = until(&mut h.events, chain_ended).await;
    assert_eq!(errors(&ev), vec!["interrupted"]);
    // The agent is usable at once.
    server.push(say("yes"));
    let ev = chat(&mut h, "hello again").await;
    assert_eq!(said(&ev), vec!["yes"]);
    shutdown(h).await;
    let store = Store::open_read_only(&path).unwrap();
    let recall = store.recall("default").unwrap();
    let users: Vec<&str> = recall
        .iter()
        .filter(|m| m.kind == MessageKind::UserMessage)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(users, vec!["are you there?", "hello again"]);
    // Exactly one assistant reply: the interrupted step left nothing behind.
    assert_eq!(
        recall.iter().filter(|m| m.role == Role::Assistant).count(),
        1
    );
}

#[tokio::test]
async fn manual_core_edits_are_committed_checked_and_move_the_budget() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    h.commands
        .send(Command::EditCore {
            label: "human".into(),
            value: "Name: Ada. ".repeat(40),
        })
        .unwrap();
    let ev = until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    assert!(ev.iter().any(|e| matches!(e, EventKind::CoreMemoryUpdated { label, source: memscope::engine::EditSource::User, .. } if label == "human")));
    h.commands
        .send(Command::EditCore {
            label: "human".into(),
            value: "x".repeat(2001),
        })
        .unwrap();
    h.commands
        .send(Command::EditCore {
            label: "nope".into(),
            value: "x".into(),
        })
        .unwrap();
    let ev = until(&mut h.events, |k| matches!(k, EventKind::Error { message, .. } if message.contains("no core memory block"))).await;
    assert!(ev.iter().any(
        |e| matches!(e, EventKind::Error { message, .. } if message.contains("over its limit"))
    ));
    shutdown(h).await;
    let state = Store::open_read_only(&path)
        .unwrap()
        .load_agent("default")
        .unwrap()
        .unwrap();
    assert!(
        state
            .core
            .get("human")
            .unwrap()
            .value
            .starts_with("Name: Ada.")
    );
}

#[tokio::test]
async fn an_agent_resumes_after_a_restart_with_queue_summary_core_and_stores() {
    let server = Server::start(vec![
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Likes chess", "request_heartbeat": true}),
        ),
        call(
            "archival_memory_insert",
            json!({"content": "Chess club meets Tuesdays", "request_heartbeat": true}),
        ),
        say("Saved."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "I like chess; the club meets Tuesdays").await;
    shutdown(h).await;

    let agent = open_agent(&path, 8192);
    // The session's login event, the user message, three replies with their results, and
    // two heartbeats.
    assert_eq!(agent.fifo().len(), 10);
    assert!(
        agent
            .state
            .core
            .get("human")
            .unwrap()
            .value
            .contains("Likes chess")
    );
    assert_eq!(agent.state.archival_count, 1);
    server.push(call(
        "archival_memory_search",
        json!({"query": "chess club", "request_heartbeat": true}),
    ));
    server.push(say("Tuesdays."));
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "when is chess club?").await;
    assert!(returns(&ev)[0].2.contains("Chess club meets Tuesdays"));
    let req = server.step_requests().pop().unwrap();
    let text = req["messages"].to_string();
    assert!(
        text.contains("I like chess; the club meets Tuesdays"),
        "the queue survived the restart"
    );
    shutdown(h).await;
}

#[tokio::test]
async fn every_step_trace_replays_the_exact_request_the_server_received() {
    let server = Server::start(vec![
        think_call(
            "Look first.",
            "archival_memory_search",
            json!({"query": "tea", "request_heartbeat": true}),
        ),
        call(
            "core_memory_append",
            json!({"name": "human", "content": "likes tea", "request_heartbeat": true}),
        ),
        say("You like tea."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "what do I like?").await;
    shutdown(h).await;
    let agent = open_agent(&path, 8192);
    let traces = agent.store.traces("default").unwrap();
    let sent = server.step_requests();
    assert_eq!(traces.len(), 3);
    for (trace, body) in traces.iter().zip(&sent) {
        assert_eq!(
            &agent.replay_request(&trace.request).unwrap(),
            body,
            "step {}",
            trace.step
        );
        assert!(trace.response["choices"].is_array());
        assert_eq!(trace.prompt_tokens, Some(321));
        assert_eq!(trace.results.len(), 1);
    }
    assert_eq!(
        traces.iter().map(|t| t.step).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[tokio::test]
async fn function_call_arguments_move_the_budget_by_their_token_count() {
    let long = "The lighthouse keeper wrote down every ship that passed. ".repeat(200);
    let server = Server::start(vec![call("send_message", json!({"message": long.clone()}))]).await;
    let (_d, path) = temp_store();
    let agent = open_agent(&path, 128_000);
    let counter = memscope::tokens::TokenCounter::for_model(&agent.settings.model);
    let mut h = start(agent, &server).await;
    h.commands
        .send(memscope::engine::Command::UserMessage("hi".into()))
        .unwrap();
    let before = until(&mut h.events, |k| matches!(k, EventKind::Budget(_)))
        .await
        .into_iter()
        .rev()
        .find_map(|k| match k {
            EventKind::Budget(b) => Some(b),
            _ => None,
        })
        .unwrap();
    let ev = until(&mut h.events, chain_ended).await;
    let after = last_budget(&ev);
    let args = counter.count(&json!({"message": long}).to_string());
    assert!(args > 2000, "{args}");
    assert!(
        after.messages >= before.messages + args,
        "the reply's arguments ({args} tokens) are counted: {} → {}",
        before.messages,
        after.messages
    );
    shutdown(h).await;
}

#[tokio::test]
async fn the_memory_warning_quotes_the_figure_that_triggered_it() {
    // A reply long enough to carry the context over the warning line by itself.
    let long = "Every ship that passed the lighthouse was written down. ".repeat(120);
    let server = Server::start(vec![
        call("send_message", json!({"message": long})),
        say("Saved."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 4096);
    agent.settings.warn_ratio = 0.5;
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "tell me about the lighthouse").await;
    let before_reply = ev
        .iter()
        .find_map(|e| match e {
            EventKind::Budget(b) => Some(b.total),
            _ => None,
        })
        .unwrap();
    assert!(
        before_reply < 2048,
        "the reply is what crosses the line: {before_reply}"
    );
    let Some(EventKind::MemoryWarning { message, used, .. }) = ev
        .iter()
        .find(|e| matches!(e, EventKind::MemoryWarning { .. }))
    else {
        panic!("a warning: {ev:#?}")
    };
    assert!(
        *used > 2048,
        "the deciding figure passed the threshold: {used}"
    );
    // With the figure, how it was counted (the scripted server's counts are small, so the
    // local count is not scaled).
    assert!(
        message.contains(&format!(
            "({used} of 4096 tokens, by the local cl100k_base count)"
        )),
        "{message}"
    );
    shutdown(h).await;
}
