//! Crash safety: `memscope run` on a long scripted session is killed with SIGKILL at many
//! different moments (model calls, function execution, summaries, commits). After every kill the
//! store opens without repair, everything the run reported as done is there exactly once, the
//! queue and core memory agree with recall, and the agent resumes.
//!
//! Kill points are the debug build's crash points (see `memscope::crash`): a reference run lists
//! them, and each later run is told to SIGKILL itself at one of them.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use common::*;
use serde_json::{Value, json};

use memscope::memory::{MessageKind, Role};
use memscope::store::Store;

const TURNS: usize = 8;

fn script() -> Vec<Reply> {
    let mut r = Vec::new();
    for i in 0..TURNS {
        r.push(call("archival_memory_insert", json!({"content": format!("note {i}: {}", "detail ".repeat(30)), "request_heartbeat": true})));
        r.push(call(
            "core_memory_append",
            json!({"name": "human", "content": format!("fact {i}"), "request_heartbeat": true}),
        ));
        r.push(say(&format!("reply {i}")));
    }
    r
}

fn input() -> String {
    (0..TURNS)
        .map(|i| format!("user line {i}: {}\n", "words ".repeat(40)))
        .collect()
}

struct RunOut {
    events: Vec<Value>,
    killed: bool,
    stderr: String,
}

async fn run(
    home: &Path,
    store: &Path,
    url: &str,
    input: String,
    env: &[(&str, String)],
) -> RunOut {
    let mut cmd = memscope_cmd(home);
    cmd.args(["run", "--store"]).arg(store).args([
        "--base-url",
        url,
        "--model",
        "scripted-model",
        "--context-window",
        "2600",
        "--max-tokens",
        "200",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // The process may die before it reads everything.
    let out = output_with_input(cmd, &input).await;
    use std::os::unix::process::ExitStatusExt;
    let killed = out.status.signal() == Some(9);
    assert!(
        killed || out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok()) // the last line may be cut by the kill
        .collect();
    RunOut {
        events,
        killed,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Checks the store against what the killed run reported; returns a description of the state.
fn check(store_path: &Path, events: &[Value]) {
    // Opens for writing without any repair prompt (and for reading).
    let store = Store::open(store_path)
        .unwrap_or_else(|e| panic!("the store does not open after the kill: {e}"));
    let Some(state) = store.load_agent("default").unwrap() else {
        assert!(
            events.iter().all(|e| e["type"] != "user_message"),
            "the agent vanished"
        );
        return;
    };
    let recall = store.recall("default").unwrap();
    let ids: Vec<u64> = recall.iter().map(|m| m.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(state.recall_count as usize, recall.len(), "recall count");
    assert!(ids.last().is_none_or(|&last| state.next_message_id > last));
    // Every user message reported is there exactly once, with its text.
    let by_id: BTreeMap<u64, &memscope::memory::Message> =
        recall.iter().map(|m| (m.id, m)).collect();
    let mut user_texts = HashSet::new();
    for m in recall.iter().filter(|m| m.kind == MessageKind::UserMessage) {
        assert!(
            user_texts.insert(m.text.clone()),
            "user message stored twice: {}",
            m.text
        );
    }
    for e in events.iter().filter(|e| e["type"] == "user_message") {
        let id = e["id"].as_u64().unwrap();
        assert_eq!(
            by_id.get(&id).map(|m| m.text.as_str()),
            e["text"].as_str(),
            "reported user message {id} is missing"
        );
    }
    // Every reported function result and reply is there.
    let reported_returns = events
        .iter()
        .filter(|e| e["type"] == "function_return")
        .count();
    let stored_returns = recall.iter().filter(|m| m.role == Role::Tool).count();
    assert!(
        stored_returns >= reported_returns,
        "{stored_returns} results stored, {reported_returns} reported"
    );
    for e in events.iter().filter(|e| e["type"] == "assistant_message") {
        let t = e["text"].as_str().unwrap();
        assert!(
            recall
                .iter()
                .any(|m| m.role == Role::Assistant && m.text.contains(t)),
            "reply {t} lost"
        );
    }
    // The queue refers to recall, in order, and never starts with or splits a tool result.
    assert!(state.fifo.windows(2).all(|w| w[0] < w[1]));
    let queue: Vec<&memscope::memory::Message> = state
        .fifo
        .iter()
        .map(|id| *by_id.get(id).expect("queued message missing from recall"))
        .collect();
    if let Some(first) = queue.first() {
        assert_ne!(
            first.role,
            Role::Tool,
            "the queue starts with an orphaned tool result"
        );
    }
    let answered: HashSet<&str> = queue
        .iter()
        .filter_map(|m| m.tool_call_id.as_deref())
        .collect();
    for m in &queue {
        for c in &m.tool_calls {
            assert!(
                answered.contains(c.id.as_str()),
                "tool call {} has no result in the queue",
                c.id
            );
        }
    }
    // Core memory holds every fact whose append was reported OK.
    let human = &state.core.get("human").unwrap().value;
    for e in events
        .iter()
        .filter(|e| e["type"] == "function_call" && e["name"] == "core_memory_append")
    {
        let fact = e["arguments"]["content"].as_str().unwrap();
        let ok_after = events
            .iter()
            .skip_while(|x| *x != e)
            .find(|x| x["type"] == "function_return")
            .is_some_and(|r| r["status"] == "OK");
        if ok_after {
            assert!(human.contains(fact), "reported core edit {fact} lost");
        }
    }
    // Archival and trace counters agree with their tables.
    let archival = store.archival("default").unwrap();
    assert_eq!(state.archival_count as usize, archival.len());
    assert!(archival.iter().all(|p| p.id < state.next_passage_id));
    let traces = store.traces("default").unwrap();
    assert_eq!(traces.len() as u64, state.next_trace_id - 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_every_kind_of_moment_loses_nothing_committed_and_the_agent_resumes() {
    // Reference run: which crash points does the session pass, in order?
    let home = tempfile::tempdir().unwrap();
    let trace = home.path().join("points.txt");
    let server = Server::start(script()).await;
    let reference = run(
        home.path(),
        &home.path().join("ref.redb"),
        &server.base_url,
        input(),
        &[("MEMSCOPE_CRASH_TRACE", trace.display().to_string())],
    )
    .await;
    assert!(!reference.killed, "{}", reference.stderr);
    assert!(
        reference.events.iter().any(|e| e["type"] == "summary"),
        "the session must flush at least once"
    );
    let points: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let kinds: HashSet<&str> = points.iter().map(String::as_str).collect();
    for want in [
        "commit:begin",
        "commit:written",
        "commit:done",
        "step:calling_model",
        "step:reply_received",
        "step:committed",
        "function:running",
        "flush:calling_model",
        "flush:summary_received",
        "flush:committed",
    ] {
        assert!(
            kinds.contains(want),
            "the session never passes {want}: {kinds:?}"
        );
    }

    // Kill points: spread evenly over the whole session, plus the first of each kind.
    let mut chosen: Vec<usize> = (0..60).map(|i| 1 + i * (points.len() - 1) / 59).collect();
    for k in &kinds {
        chosen.push(1 + points.iter().position(|p| p == k).unwrap());
    }
    chosen.sort();
    chosen.dedup();
    assert!(chosen.len() >= 50);

    let mut survived = 0;
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for &n in &chosen {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.redb");
        let server = Server::start(script()).await;
        let out = run(
            dir.path(),
            &store,
            &server.base_url,
            input(),
            &[("MEMSCOPE_CRASH_AT", n.to_string())],
        )
        .await;
        assert!(
            out.killed,
            "kill point {n} ({}) was not reached",
            points[n - 1]
        );
        if store.exists() {
            check(&store, &out.events);
        }
        // The agent resumes: a new run answers and keeps everything.
        let server = Server::start(vec![say("resumed")]).await;
        let again = run(
            dir.path(),
            &store,
            &server.base_url,
            "after the crash\n".into(),
            &[],
        )
        .await;
        assert!(!again.killed, "{}", again.stderr);
        assert!(
            again
                .events
                .iter()
                .any(|e| e["type"] == "assistant_message" && e["text"] == "resumed"),
            "kill point {n}: {:?}",
            again.events
        );
        let mut all = out.events.clone();
        all.extend(again.events);
        check(&store, &all);
        survived += 1;
        *by_kind.entry(points[n - 1].clone()).or_default() += 1;
    }
    eprintln!(
        "kill points tried: {}, survived: {survived}, by kind: {by_kind:?}",
        chosen.len()
    );
    assert_eq!(survived, chosen.len());
}
