//! The prompt a server can cache: consecutive requests share their prefix, each break of it is
//! located and explained, and memory pressure converges instead of flushing every step.
//! All over real HTTP to the scripted server, with real redb stores.

mod common;
#[path = "cache/pressure.rs"]
mod pressure;

use common::*;
use memscope::engine::{Agent, EventKind, WarningKind};
use memscope::memory::state::PolicyOverride;
use memscope::memory::{CoreEdits, ToolMode};
use memscope::store::Store;
use serde_json::{Value, json};

/// A request as a prefix cache sees it: the tools, then every message, rendered in order.
fn rendered(req: &Value) -> String {
    let mut s = req.get("tools").map(Value::to_string).unwrap_or_default();
    for m in req["messages"].as_array().unwrap() {
        s.push_str(&m.to_string());
    }
    s
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// The prefix figures of consecutive requests (bytes of the rendered prompt).
struct Figures {
    /// Per request after the first: the share of the previous request it starts with (what a
    /// prefix cache keeps usable).
    kept: Vec<f64>,
    /// Per request after the first: the share of it the previous one starts with (the rest is
    /// this turn's new messages, or what a break made stale).
    reused: Vec<f64>,
    /// Over the requests after the first, the share of what was sent that a prefix cache
    /// could not reuse.
    fresh: f64,
    /// The same with the first request counted whole.
    fresh_all: f64,
}

fn prefix_figures(requests: &[Value]) -> Figures {
    let texts: Vec<String> = requests.iter().map(rendered).collect();
    let (mut kept, mut reused) = (Vec::new(), Vec::new());
    let (mut sent, mut new) = (0usize, 0usize);
    for pair in texts.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let shared = common_prefix(prev, cur);
        kept.push(shared as f64 / prev.len() as f64);
        reused.push(shared as f64 / cur.len() as f64);
        sent += cur.len();
        new += cur.len() - shared;
    }
    let first = texts[0].len();
    Figures {
        kept,
        reused,
        fresh: new as f64 / sent as f64,
        fresh_all: (new + first) as f64 / (sent + first) as f64,
    }
}

fn breaks(events: &[EventKind]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::CacheBreak { section, cause, .. } => Some((section.clone(), cause.clone())),
            _ => None,
        })
        .collect()
}

fn policy(agent: &mut Agent, o: PolicyOverride) {
    agent.apply_policy(&o).unwrap();
}

fn append_mode(agent: &mut Agent) {
    policy(
        agent,
        PolicyOverride {
            core_edits: Some(CoreEdits::Append),
            ..Default::default()
        },
    );
}

/// A greeting, then a turn where the agent appends to core memory and says so.
fn tea_edit() -> Vec<Reply> {
    vec![
        say("Hello."),
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Likes tea.", "request_heartbeat": true}),
        ),
        say("Noted."),
    ]
}

#[tokio::test]
async fn a_thirty_turn_conversation_reuses_almost_all_of_each_prompt() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 128_000), &server).await;
    for i in 0..30 {
        server.push(say(&format!(
            "Noted, turn {i}: the lighthouse log has another ship."
        )));
        let ev = chat(
            &mut h,
            &format!("Turn {i}: a ship called Wren {i} passed the lighthouse at dawn."),
        )
        .await;
        assert!(!ev.iter().any(|e| matches!(e, EventKind::Summary { .. })));
        assert!(breaks(&ev).is_empty(), "turn {i}: {:?}", breaks(&ev));
        let meter = last_budget(&ev).cache.expect("a cache meter after a call");
        assert_eq!(meter.calls, i + 1);
        if i > 0 {
            // By the meter too: nothing but the newest messages is new.
            let fresh = meter.last.prompt_tokens - meter.last.shared_tokens;
            assert!(fresh < 200, "turn {i}: {:?}", meter.last);
        }
    }
    let requests = server.step_requests();
    assert_eq!(requests.len(), 30);
    let f = prefix_figures(&requests);
    let min = |v: &[f64]| v.iter().cloned().fold(1.0, f64::min);
    eprintln!(
        "prefix figures over {} requests: previous request kept ≥ {:.2}%, request reused \
         {:.2}%–{:.2}%, re-evaluated {:.2}% after the first ({:.2}% counting it)",
        requests.len(),
        min(&f.kept) * 100.0,
        min(&f.reused) * 100.0,
        f.reused.last().unwrap() * 100.0,
        f.fresh * 100.0,
        f.fresh_all * 100.0,
    );
    // Each request starts with all of the one before it: only the turn's new messages (about
    // 540 bytes here, on a first prompt of about 7.8 KB) are not reused.
    assert!(min(&f.kept) >= 0.97, "{:?}", f.kept);
    assert!(
        f.fresh <= 0.05,
        "at most 5% of what was sent is new: {}",
        f.fresh
    );
    // And the share reused grows as the conversation does.
    assert!(f.reused.last().unwrap() > &0.97, "{:?}", f.reused);
    shutdown(h).await;
}

#[tokio::test]
async fn a_core_edit_breaks_the_prefix_at_its_block_when_the_system_message_is_recompiled() {
    let server = Server::start(tea_edit()).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 128_000), &server).await;
    chat(&mut h, "hi").await;
    let ev = chat(&mut h, "I like tea").await;
    // The edit's own request is unchanged; the next one differs from the block on.
    assert_eq!(
        breaks(&ev),
        vec![(
            "core memory <human>".to_string(),
            "the system message was compiled again: core block 'human' edited by the agent"
                .to_string()
        )]
    );
    let reqs = server.step_requests();
    let sys = |r: &Value| r["messages"][0]["content"].as_str().unwrap().to_string();
    assert!(sys(&reqs[2]).contains("Likes tea."));
    assert!(!sys(&reqs[1]).contains("Likes tea."));
    let meter = last_budget(&ev).cache.unwrap();
    assert!(meter.last.shared_tokens > 0 && meter.last.share() < 1.0);
    shutdown(h).await;
}

#[tokio::test]
async fn in_append_mode_a_core_edit_keeps_the_prefix_until_the_flush_folds_it_in() {
    let server = Server::start(tea_edit()).await;
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 6000);
    append_mode(&mut agent);
    let mut h = start(agent, &server).await;
    chat(&mut h, "hi").await;
    let ev = chat(&mut h, "I like tea").await;
    assert_eq!(breaks(&ev), vec![], "the edit does not break the prefix");
    let reqs = server.step_requests();
    let sys = |r: &Value| r["messages"][0]["content"].as_str().unwrap().to_string();
    assert_eq!(
        sys(&reqs[1]),
        sys(&reqs[2]),
        "the system message stays as it was"
    );
    assert!(!sys(&reqs[2]).contains("Likes tea."));
    // The model learns the new value from the function's result in the queue.
    let last = reqs[2]["messages"].as_array().unwrap();
    assert!(
        last.iter()
            .any(|m| m["role"] == "tool" && m["content"].as_str().unwrap().contains("Likes tea.")),
        "{last:#?}"
    );
    assert_eq!(last_budget(&ev).core_edits_pending, 1);

    // Fill the queue until a flush: it folds the edit into the system message, and the
    // locator says so.
    let mut folded = None;
    for i in 0..40 {
        server.push(say(&format!("Reply {i}.")));
        let ev = chat(&mut h, &format!("More news {i}: {}", "words ".repeat(80))).await;
        if ev.iter().any(|e| matches!(e, EventKind::Summary { .. })) {
            folded = Some(ev);
            break;
        }
    }
    let ev = folded.expect("a flush within 40 turns");
    let b = breaks(&ev);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].0, "core memory <human>");
    assert!(b[0].1.contains("flush folded in 1 core edit"), "{}", b[0].1);
    assert_eq!(last_budget(&ev).core_edits_pending, 0);
    let after = server.step_requests().pop().unwrap();
    assert!(sys(&after).contains("Likes tea."));
    shutdown(h).await;
}

#[tokio::test]
async fn a_flush_is_named_as_the_cause_of_its_break() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 5000), &server).await;
    let mut seen = None;
    for i in 0..40 {
        server.push(say(&format!("Reply {i}.")));
        let ev = chat(&mut h, &format!("News {i}: {}", "words ".repeat(80))).await;
        if ev.iter().any(|e| matches!(e, EventKind::Summary { .. })) {
            seen = Some(ev);
            break;
        }
        assert!(breaks(&ev).is_empty(), "no break before the flush");
    }
    let ev = seen.expect("a flush within 40 turns");
    let b = breaks(&ev);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].0, "memory metadata");
    assert!(b[0].1.contains("a flush refreshed it"), "{}", b[0].1);
    shutdown(h).await;
}

#[tokio::test]
async fn a_new_model_or_new_tools_is_named_in_the_next_session() {
    let server = Server::start(vec![say("Hello."), say("Again.")]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 128_000), &server).await;
    chat(&mut h, "hi").await;
    shutdown(h).await;

    // The same agent, another model: nothing of the last prompt can be reused.
    let mut s = settings(128_000);
    s.set_model("other-model");
    let agent = Agent::open(Store::open(&path).unwrap(), "default", s).unwrap();
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "hi again").await;
    assert_eq!(
        breaks(&ev),
        vec![(
            "model".to_string(),
            "the model changed from scripted-model to other-model".to_string()
        )]
    );
    assert_eq!(last_budget(&ev).cache.unwrap().last.shared_tokens, 0);
    shutdown(h).await;

    // Another tool mode: the function schemas leave the request.
    let mut agent = Agent::open(Store::open(&path).unwrap(), "default", {
        let mut s = settings(128_000);
        s.set_model("other-model");
        s
    })
    .unwrap();
    policy(
        &mut agent,
        PolicyOverride {
            tool_mode: Some(ToolMode::Json),
            ..Default::default()
        },
    );
    server.push(Reply::Ok(text_reply(
        r#"{"thought": "say it", "function": "send_message", "arguments": {"message": "JSON now."}}"#,
    )));
    let mut h = start(agent, &server).await;
    let ev = chat(&mut h, "json please").await;
    let b = breaks(&ev);
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].0, "tools");
    assert!(b[0].1.contains("function schemas changed"), "{}", b[0].1);
    shutdown(h).await;
}

#[tokio::test]
async fn when_the_fixed_part_passes_the_threshold_one_message_warns_once_and_flushes_at_most_once()
{
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    // A window where system, functions and core memory alone are 80% of it.
    let probe = open_agent(&path, 128_000);
    let fixed = probe.budget().total;
    drop(probe);
    let window = (fixed as f64 / 0.80) as u32;
    let mut h = start(open_agent(&path, window), &server).await;
    for i in 0..2 {
        server.push(call(
            "conversation_search",
            json!({"query": format!("ship {i}"), "request_heartbeat": true}),
        ));
    }
    server.push(say("Done looking."));
    let ev = chat(&mut h, &format!("Find the ships. {}", "words ".repeat(40))).await;
    let count = |f: fn(&EventKind) -> bool| ev.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, EventKind::MemoryWarning { .. })), 0);
    assert!(count(|e| matches!(e, EventKind::Summary { .. })) <= 1);
    let fixed_warnings: Vec<&String> = ev
        .iter()
        .filter_map(|e| match e {
            EventKind::Warning {
                kind: WarningKind::FixedPartTooLarge,
                message,
            } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(fixed_warnings.len(), 1, "{ev:#?}");
    let w = fixed_warnings[0];
    for part in [
        "system",
        "functions",
        "core memory",
        "--context-window",
        "--tool-mode json",
    ] {
        assert!(w.contains(part), "the warning names {part}: {w}");
    }
    // The chain ended by itself, after the model's three calls.
    assert!(
        ev.iter()
            .any(|e| matches!(e, EventKind::ChainEnded { steps: 3 })),
        "{ev:#?}"
    );
    assert_eq!(said(&ev), vec!["Done looking."]);

    // Nothing changed: the next message is not warned about again.
    server.push(say("Still here."));
    let ev = chat(&mut h, "and now?").await;
    assert!(warnings(&ev).is_empty(), "{:?}", warnings(&ev));
    shutdown(h).await;
}

#[tokio::test]
async fn function_results_move_the_budget_by_their_token_count() {
    let long = "The keeper logged the schooner Wren at dawn and again at dusk. ".repeat(60);
    let server = Server::start(vec![
        say("Logged."),
        call(
            "conversation_search",
            json!({"query": "schooner Wren", "request_heartbeat": true}),
        ),
        say("Found it."),
    ])
    .await;
    let (_d, path) = temp_store();
    let agent = open_agent(&path, 128_000);
    let counter = memscope::tokens::TokenCounter::for_model(&agent.settings.model);
    let mut h = start(agent, &server).await;
    let first = chat(&mut h, &long).await;
    let before = last_budget(&first).messages;
    let ev = chat(&mut h, "when was the Wren seen?").await;
    let (_, _, result) = returns(&ev)
        .into_iter()
        .find(|(n, _, _)| n == "conversation_search")
        .unwrap();
    let result_tokens = counter.count(&result);
    assert!(result_tokens > 200, "{result_tokens}");
    let after = last_budget(&ev).messages;
    assert!(
        after >= before + result_tokens,
        "the search result ({result_tokens} tokens) is counted: {before} → {after}"
    );
    shutdown(h).await;
}

#[tokio::test]
async fn in_append_mode_a_manual_core_edit_reaches_the_model_as_an_alert_in_the_queue() {
    let server = Server::start(vec![say("Hello."), say("Noted.")]).await;
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 128_000);
    append_mode(&mut agent);
    let mut h = start(agent, &server).await;
    chat(&mut h, "hi").await;
    h.commands
        .send(memscope::engine::Command::EditCore {
            label: "human".into(),
            value: "Name: Ada. Keeps bees.".into(),
        })
        .unwrap();
    until(&mut h.events, |k| {
        matches!(k, EventKind::CoreMemoryUpdated { .. })
    })
    .await;
    let ev = chat(&mut h, "what do I keep?").await;
    assert_eq!(breaks(&ev), vec![]);
    let reqs = server.step_requests();
    let messages = reqs[1]["messages"].as_array().unwrap();
    assert_eq!(
        messages[0], reqs[0]["messages"][0],
        "the system message is kept"
    );
    let alert = messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .find(|c| c.contains("Memory update"))
        .expect("a memory-update alert in the queue");
    assert!(
        alert.contains("Keeps bees.") && alert.contains("the user"),
        "{alert}"
    );
    shutdown(h).await;
}

#[tokio::test]
async fn the_servers_cached_token_figure_reaches_the_meter_and_the_trace() {
    let reply = |cached: Value| {
        let mut r = completion(json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "send_message", "arguments": "{\"message\":\"hi\"}"}}]}));
        r["usage"] = json!({"prompt_tokens": 2000, "completion_tokens": 5});
        if cached.is_object() {
            r["usage"]["prompt_tokens_details"] = cached;
        } else {
            r["timings"] = json!({"cache_n": cached, "prompt_n": 40});
        }
        Reply::Ok(r)
    };
    // OpenAI's field, then llama.cpp server's.
    let server = Server::start(vec![
        reply(json!({"cached_tokens": 1920})),
        reply(json!(1960)),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 128_000), &server).await;
    let first = last_budget(&chat(&mut h, "hi").await).cache.unwrap();
    assert_eq!(first.last.server_cached, Some(1920));
    let second = last_budget(&chat(&mut h, "again").await).cache.unwrap();
    assert_eq!(second.last.server_cached, Some(1960));
    assert_eq!(second.last.server_prompt, Some(2000));
    assert_eq!(second.server_hit_rate(), Some((1920.0 + 1960.0) / 4000.0));
    shutdown(h).await;
    let store = Store::open(&path).unwrap();
    let traces = store.traces("default").unwrap();
    let cached: Vec<Option<u32>> = traces
        .iter()
        .filter_map(|t| t.cache.as_ref())
        .map(|c| c.server_cached)
        .collect();
    assert_eq!(cached, vec![Some(1920), Some(1960)]);
}

#[tokio::test]
async fn a_summary_longer_than_its_budget_is_cut_to_it() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let agent = open_agent(&path, 4000);
    let cap = agent.settings.summary_cap();
    let counter = memscope::tokens::TokenCounter::for_model(&agent.settings.model);
    let mut h = start(agent, &server).await;
    server.push_summary(Reply::Ok(text_reply(
        &"The user told a long story about ships. ".repeat(600),
    )));
    let mut summary = None;
    for i in 0..40 {
        server.push(say(&format!("Reply {i}.")));
        let ev = chat(&mut h, &format!("News {i}: {}", "words ".repeat(80))).await;
        summary = ev.into_iter().find_map(|e| match e {
            EventKind::Summary { summary, .. } => Some(summary),
            _ => None,
        });
        if summary.is_some() {
            break;
        }
    }
    let summary = summary.expect("a flush within 40 turns");
    let tokens = counter.count(&summary);
    assert!(
        tokens <= cap && tokens > cap / 2,
        "the summary keeps {tokens} of its {cap}-token budget"
    );
    shutdown(h).await;
}
