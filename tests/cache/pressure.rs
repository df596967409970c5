//! Memory pressure against a model that writes as much as it is let and echoes its summary
//! prompt (as the small base models of a real llama.cpp server do), on a 4,096-token window:
//! every input flushes at most once and is warned at most once, and none reaches the chain cap.

use super::*;
use memscope::engine::ErrorKind;

/// Words that cost about a token each.
const PROSE: &str = "the keeper wrote about ships and weather and the long night watch ";

fn prose(chars: usize) -> String {
    PROSE.repeat(chars / PROSE.len() + 1)[..chars].to_string()
}

/// A reply as long as `max_tokens` lets it be: a long thought and a long message.
fn long_reply(body: &Value) -> Reply {
    let max = body["max_tokens"].as_u64().unwrap_or(1024) as usize;
    let half = max * 3 / 2;
    think_call(
        &prose(half),
        "send_message",
        json!({"message": prose(half)}),
    )
}

/// The summary prompt written back, as far as `max_tokens` lets it.
fn echo(body: &Value) -> Reply {
    let max = body["max_tokens"].as_u64().unwrap_or(1024) as usize;
    let asked = format!(
        "{}\n{}",
        body["messages"][0]["content"].as_str().unwrap_or_default(),
        body["messages"][1]["content"].as_str().unwrap_or_default()
    );
    let cut: String = asked.chars().take(max * 4).collect();
    Reply::Ok(text_reply(&cut))
}

#[derive(Debug, Default)]
struct Figures {
    inputs: usize,
    calls: usize,
    warnings: usize,
    flushes: usize,
    caps: usize,
}

#[tokio::test]
async fn long_replies_and_an_echoed_summary_flush_and_warn_at_most_once_per_input() {
    let server = Server::start(vec![]).await;
    server.set_chat_fn(long_reply);
    server.set_summary_fn(echo);
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 4096);
    agent.settings.max_tokens = 1024;
    let mut h = start(agent, &server).await;
    let inputs = [
        "Hi! I'm Sam and I keep bees in Devon.",
        "My sister Ada is visiting next week; she hates honey.",
        "What should I cook for her?",
        "Remind me what my sister dislikes.",
        "I also have a dog called Biscuit.",
        "Summarise what you know about me.",
    ];
    let mut f = Figures::default();
    let mut problems = Vec::new();
    for text in inputs {
        let ev = chat(&mut h, text).await;
        let count = |p: fn(&EventKind) -> bool| ev.iter().filter(|e| p(e)).count();
        let flushes = count(|e| matches!(e, EventKind::Summary { .. }));
        let warned = count(|e| matches!(e, EventKind::MemoryWarning { .. }));
        let caps = count(|e| {
            matches!(
                e,
                EventKind::Error {
                    kind: ErrorKind::ChainCap,
                    ..
                }
            )
        });
        f.inputs += 1;
        f.flushes += flushes;
        f.warnings += warned;
        f.caps += caps;
        if flushes > 1 || warned > 1 || caps > 0 {
            problems.push(format!(
                "{text:?}: {flushes} flushes, {warned} warnings, {caps} caps"
            ));
        }
        let full: Vec<&EventKind> = ev
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    EventKind::Error {
                        kind: ErrorKind::MemoryFull,
                        ..
                    }
                )
            })
            .collect();
        if !full.is_empty() {
            problems.push(format!("{text:?}: memory full: {full:?}"));
        }
    }
    f.calls = server.step_requests().len() + server.summary_requests().len();
    eprintln!("pressure figures (scripted, 4096 window): {f:?}");
    shutdown(h).await;
    assert!(problems.is_empty(), "{problems:#?}\n{f:?}");
    assert!(
        f.flushes >= 1,
        "the script must put memory under pressure: {f:?}"
    );
    // Every request left room for its reply within the window by memscope's own count.
    let store = Store::open(&path).unwrap();
    for t in store.traces("default").unwrap() {
        if let Some(c) = &t.cache {
            let max = match &t.request {
                memscope::memory::RequestRecord::Step { max_tokens, .. } => *max_tokens,
                _ => continue,
            };
            assert!(
                c.prompt_tokens + max <= 4096,
                "step {}: {} prompt tokens + {max} for the reply",
                t.step,
                c.prompt_tokens
            );
        }
    }
    // The echoed summaries were refused, not kept.
    let summaries: Vec<String> = store
        .journal("default", 0, u64::MAX)
        .unwrap()
        .into_iter()
        .filter_map(|(_, e)| match e.kind {
            EventKind::Summary { summary, .. } => Some(summary),
            _ => None,
        })
        .collect();
    assert!(!summaries.is_empty());
    for s in &summaries {
        assert!(
            !s.contains("Messages leaving the context"),
            "an echo was kept as the summary: {s}"
        );
    }
}

#[tokio::test]
async fn one_long_reply_on_a_small_window_does_not_leave_every_later_input_full() {
    let server = Server::start(vec![]).await;
    // Its prompt counts run above memscope's local ones, as a real model's tokenizer's do.
    server.keep_one_slot();
    let (_d, path) = temp_store();
    let probe = open_agent(&path, 128_000);
    let fixed = probe.budget().total;
    drop(probe);
    // Room for a few short messages, or one long reply.
    let window = fixed + 700;
    let mut agent = open_agent(&path, window);
    agent.settings.max_tokens = 1024;
    let mut h = start(agent, &server).await;
    server.push(Reply::Ok(text_reply(&prose(4000))));
    chat(&mut h, "Tell me a long story.").await;
    for i in 0..4 {
        server.push(say(&format!("Short answer {i}.")));
        let ev = chat(&mut h, &format!("Short question {i}?")).await;
        assert!(errors(&ev).is_empty(), "input {i}: {ev:#?}");
        assert_eq!(said(&ev), vec![format!("Short answer {i}.")]);
    }
    shutdown(h).await;
}

#[tokio::test]
async fn after_a_flush_the_cache_meter_compares_with_the_summary_call_the_server_saw() {
    let server = Server::start(vec![]).await;
    server.keep_one_slot();
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 4096), &server).await;
    let mut flushed_at = Vec::new();
    for i in 0..12 {
        server.push(say(&format!("Noted {i}. {}", prose(400))));
        let ev = chat(&mut h, &format!("News {i}: {}", prose(300))).await;
        if ev.iter().any(|e| matches!(e, EventKind::Summary { .. })) {
            flushed_at.push(i);
        }
    }
    shutdown(h).await;
    assert!(!flushed_at.is_empty(), "the conversation must flush");
    let store = Store::open(&path).unwrap();
    let traces = store.traces("default").unwrap();
    let mut after_summary = false;
    let mut checked = 0;
    for t in &traces {
        let Some(c) = &t.cache else {
            // A summary call: the next step follows it.
            assert!(t.trigger.starts_with("summary"), "{}", t.trigger);
            assert!(
                t.prompt_tokens.is_some(),
                "a summary's trace keeps its usage"
            );
            after_summary = true;
            continue;
        };
        let server_cached = c.server_cached.expect("the server reports its cache");
        if after_summary {
            // The server's one slot held the summary call: it reused nothing, and the meter
            // says the same instead of comparing with the step before the flush.
            assert_eq!(server_cached, 0);
            assert_eq!(c.shared_tokens, 0, "step {}", t.step);
            let broke = c.broke.as_ref().expect("a break is named");
            assert!(
                broke.cause.contains("summary call came between"),
                "{}",
                broke.cause
            );
            checked += 1;
        } else if t.step > 1 {
            assert!(server_cached > 0 && c.shared_tokens > 0, "step {}", t.step);
        }
        after_summary = false;
    }
    assert!(checked >= 1);
}
