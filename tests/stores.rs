//! The behaviour both stores share, run on each: a redb file in a temp dir, and a PostgreSQL
//! database in a throwaway cluster of the test's own (skipped, with a note, where PostgreSQL
//! is not installed; CI installs it). Memory functions, flush, resume, one writer per agent,
//! a step killed mid-commit, and word search in scripts written without spaces. What only
//! PostgreSQL does is in `pg_store.rs`.

mod common;

use common::place::{Place, hold, run_session};
use common::*;
use serde_json::json;

use memscope::engine::{Agent, EventKind, Status};
use memscope::memory::MessageKind;
use memscope::store::{SearchKind, Store, StoreError};

/// Each named test, once per store.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn redb() {
                if let Some(p) = super::Place::redb() {
                    super::$name(&p).await;
                }
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                if let Some(p) = super::Place::postgres() {
                    super::$name(&p).await;
                }
            }
        }
    )*};
}

on_both_stores!(
    memory_functions_work_and_are_kept,
    a_flush_evicts_into_a_summary_and_recall_keeps_everything,
    an_agent_resumes_where_it_stopped,
    one_process_writes_an_agent_at_a_time,
    a_step_killed_mid_commit_is_all_there_or_not_at_all,
    words_in_scripts_without_spaces_are_found,
    a_message_of_megabytes_is_kept_whole_and_found,
    a_fork_and_a_rewind_keep_everything,
);

async fn memory_functions_work_and_are_kept(p: &Place) {
    let server = Server::start(vec![
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Likes sailing.", "request_heartbeat": true}),
        ),
        call(
            "archival_memory_insert",
            json!({"content": "The boat is called Heron.", "request_heartbeat": true}),
        ),
        call(
            "archival_memory_search",
            json!({"query": "boat name", "request_heartbeat": true}),
        ),
        call(
            "conversation_search",
            json!({"query": "weekend plans", "request_heartbeat": true}),
        ),
        call(
            "core_memory_replace",
            json!({"name": "human", "old_content": "sailing", "new_content": "sailing and rowing", "request_heartbeat": true}),
        ),
        say("Noted."),
    ])
    .await;
    let agent = Agent::open(p.open(), "default", settings(8192)).unwrap();
    let mut h = start(agent, &server).await;
    let events = chat(&mut h, "My weekend plans: sailing on Heron.").await;
    shutdown(h).await;

    let r = returns(&events);
    assert_eq!(r.len(), 6, "{r:?}");
    assert!(r.iter().all(|(_, s, _)| *s == Status::Ok), "{r:?}");
    assert!(r[2].2.contains("Heron"), "archival search: {}", r[2].2);
    assert!(
        r[3].2.contains("weekend plans"),
        "conversation search: {}",
        r[3].2
    );

    let store = p.open();
    let state = store.load_agent("default").unwrap().unwrap();
    let human = &state.core.get("human").unwrap().value;
    assert!(human.contains("Likes sailing and rowing."), "{human}");
    let archival = store.archival("default").unwrap();
    assert_eq!(archival.len(), 1);
    assert_eq!(archival[0].text, "The boat is called Heron.");
    let hits = store
        .search("default", SearchKind::Archival, "heron", 0, 5)
        .unwrap();
    assert_eq!(hits.ids, vec![archival[0].id]);
    assert_eq!(
        store.traces("default").unwrap().len() as u64,
        state.next_trace_id - 1
    );
}

async fn a_flush_evicts_into_a_summary_and_recall_keeps_everything(p: &Place) {
    let turns = 12;
    let server = Server::start((0..turns).map(|i| say(&format!("reply {i}"))).collect()).await;
    let agent = Agent::open(p.open(), "default", settings(2600)).unwrap();
    let mut h = start(agent, &server).await;
    let mut summaries = 0;
    for i in 0..turns {
        let text = format!("message {i} about topic{i}: {}", "words ".repeat(40));
        let events = chat(&mut h, &text).await;
        summaries += events
            .iter()
            .filter(|e| matches!(e, EventKind::Summary { .. }))
            .count();
    }
    shutdown(h).await;
    assert!(summaries > 0, "a window of 2600 tokens must flush");

    let store = p.open();
    let state = store.load_agent("default").unwrap().unwrap();
    let recall = store.recall("default").unwrap();
    let users = recall
        .iter()
        .filter(|m| m.kind == MessageKind::UserMessage)
        .count();
    assert_eq!(users, turns, "recall keeps every message");
    assert!(state.fifo.len() < recall.len(), "the queue was cut");
    assert!(state.summary.as_ref().is_some_and(|s| !s.text.is_empty()));
    // The oldest message left the queue but is found by a search of recall.
    let first = recall.iter().find(|m| m.text.contains("topic0")).unwrap();
    assert!(!state.fifo.contains(&first.id));
    let hits = store
        .search("default", SearchKind::Recall, "topic0", 0, 5)
        .unwrap();
    assert_eq!(hits.ids, vec![first.id]);
}

async fn an_agent_resumes_where_it_stopped(p: &Place) {
    let server = Server::start(vec![
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Name: Ada.", "request_heartbeat": true}),
        ),
        say("Hello Ada."),
        say("Still here."),
    ])
    .await;
    let agent = Agent::open(p.open(), "default", settings(8192)).unwrap();
    let mut h = start(agent, &server).await;
    chat(&mut h, "I am Ada.").await;
    shutdown(h).await;

    let agent = Agent::open(p.open(), "default", settings(8192)).unwrap();
    let before = agent.state.clone();
    assert!(
        before
            .core
            .get("human")
            .unwrap()
            .value
            .contains("Name: Ada.")
    );
    let queued: Vec<String> = agent.fifo().iter().map(|m| m.text.clone()).collect();
    assert!(queued.iter().any(|t| t == "I am Ada."), "{queued:?}");
    let mut h = start(agent, &server).await;
    let events = chat(&mut h, "Are you there?").await;
    shutdown(h).await;
    assert_eq!(said(&events), vec!["Still here.".to_string()]);
    // The request the resumed agent made carries the conversation before it.
    let last = server.step_requests().pop().unwrap();
    let text = last["messages"].to_string();
    assert!(
        text.contains("I am Ada.") && text.contains("Hello Ada."),
        "{text}"
    );
    let state = p.open().load_agent("default").unwrap().unwrap();
    assert!(state.step > before.step);
}

async fn one_process_writes_an_agent_at_a_time(p: &Place) {
    let server = Server::start(vec![]).await;
    let mut first = hold(p, &server.base_url);
    let (code, _, err) = memscope_on(
        p.home(),
        &p.store,
        &[
            "run",
            "--base-url",
            &server.base_url,
            "--model",
            "scripted-model",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("in use by another memscope process"), "{err}");
    assert!(!err.contains("password"), "{err}");
    // Readers go alongside.
    let (code, out, err) = memscope_on(p.home(), &p.store, &["dump"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    // In this process too: the agent is taken.
    let taken =
        Store::open(&p.store).and_then(|s| Agent::open(s, "default", settings(8192)).map(|_| ()));
    assert!(
        matches!(
            taken,
            Err(StoreError::InUse(_)) | Err(StoreError::AgentInUse { .. })
        ),
        "{taken:?}"
    );
    drop(first.stdin.take());
    assert!(first.wait().unwrap().success());
    // Once the writer is gone, the agent is free again.
    let agent = Agent::open(p.open(), "default", settings(8192));
    assert!(agent.is_ok(), "{:?}", agent.err());
}

async fn a_step_killed_mid_commit_is_all_there_or_not_at_all(p: &Place) {
    let script = || {
        vec![
            call(
                "archival_memory_insert",
                json!({"content": "kept note", "request_heartbeat": true}),
            ),
            say("first done"),
            call(
                "archival_memory_insert",
                json!({"content": "lost note", "request_heartbeat": true}),
            ),
            say("second done"),
        ]
    };
    // Which crash points a session passes, on a store of its own.
    let trace = p.home().join("points.txt");
    let reference = Place::redb().unwrap();
    let server = Server::start(script()).await;
    run_session(
        &reference,
        &server.base_url,
        "one\ntwo\n",
        &[("MEMSCOPE_CRASH_TRACE", trace.display().to_string())],
    );
    let points: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // The commit of the second input's first step (the third step), killed after writing and
    // before committing: the last commit written before that step is done.
    let third_step = points
        .iter()
        .enumerate()
        .filter(|(_, p)| *p == "step:committed")
        .nth(2)
        .map(|(i, _)| i)
        .unwrap();
    let kill = 1 + points[..third_step]
        .iter()
        .rposition(|p| p == "commit:written")
        .unwrap();

    let server = Server::start(script()).await;
    let (events, killed) = run_session(
        p,
        &server.base_url,
        "one\ntwo\n",
        &[("MEMSCOPE_CRASH_AT", kill.to_string())],
    );
    assert!(killed, "the run was not killed at point {kill}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "assistant_message" && e["text"] == "first done"),
        "{events:?}"
    );
    let store = p.open();
    let state = store.load_agent("default").unwrap().unwrap();
    let archival = store.archival("default").unwrap();
    let texts: Vec<&str> = archival.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        texts,
        vec!["kept note"],
        "the killed step left nothing behind"
    );
    assert_eq!(state.archival_count, 1);
    let recall = store.recall("default").unwrap();
    assert_eq!(state.recall_count as usize, recall.len());
    assert!(
        state
            .fifo
            .iter()
            .all(|id| recall.iter().any(|m| m.id == *id))
    );
    assert_eq!(
        store.traces("default").unwrap().len() as u64,
        state.next_trace_id - 1
    );
    drop(store);
    // The agent goes on.
    let server = Server::start(vec![say("back again")]).await;
    let (events, _) = run_session(p, &server.base_url, "three\n", &[]);
    assert!(
        events.iter().any(|e| e["text"] == "back again"),
        "{events:?}"
    );
}

async fn words_in_scripts_without_spaces_are_found(p: &Place) {
    let server = Server::start(vec![
        call(
            "archival_memory_insert",
            json!({"content": "私は東京都に住んでいます。", "request_heartbeat": true}),
        ),
        call(
            "archival_memory_insert",
            json!({"content": "我们明天去北京大学。", "request_heartbeat": true}),
        ),
        say("好的"),
    ])
    .await;
    let agent = Agent::open(p.open(), "default", settings(8192)).unwrap();
    let mut h = start(agent, &server).await;
    chat(&mut h, "来週は京都に行きます").await;
    shutdown(h).await;

    let store = p.open();
    let found = |kind, q: &str| {
        let hits = store.search("default", kind, q, 0, 5).unwrap();
        match kind {
            SearchKind::Archival => store
                .archival_get("default", &hits.ids)
                .unwrap()
                .into_iter()
                .map(|a| a.text)
                .collect::<Vec<_>>(),
            SearchKind::Recall => store
                .recall_get("default", &hits.ids)
                .unwrap()
                .into_iter()
                .map(|m| m.text)
                .collect(),
        }
    };
    assert_eq!(
        found(SearchKind::Archival, "東京"),
        vec!["私は東京都に住んでいます。"]
    );
    assert_eq!(
        found(SearchKind::Archival, "北京"),
        vec!["我们明天去北京大学。"]
    );
    assert_eq!(
        found(SearchKind::Recall, "京都"),
        vec!["来週は京都に行きます"]
    );
    assert!(found(SearchKind::Archival, "大阪").is_empty());
    // Pages after the first, and past the end, still say how many match.
    let both = store
        .search("default", SearchKind::Archival, "東京 北京", 0, 5)
        .unwrap();
    assert_eq!((both.total, both.ids.len()), (2, 2));
    let second = store
        .search("default", SearchKind::Archival, "東京 北京", 1, 5)
        .unwrap();
    assert_eq!((second.total, second.ids.as_slice()), (2, &both.ids[1..]));
    let past = store
        .search("default", SearchKind::Archival, "東京 北京", 5, 5)
        .unwrap();
    assert_eq!((past.total, past.ids.len()), (2, 0));
}

async fn a_message_of_megabytes_is_kept_whole_and_found(p: &Place) {
    let server = Server::start(vec![say("That is long.")]).await;
    let agent = Agent::open(p.open(), "default", settings(8192)).unwrap();
    let mut h = start(agent, &server).await;
    let huge: String = std::iter::once("zebrafinch ".to_string())
        .chain((0..300_000).map(|i| format!("entry{i} ")))
        .collect();
    assert!(huge.len() > 3_000_000);
    let events = chat(&mut h, &huge).await;
    shutdown(h).await;
    assert!(errors(&events).is_empty(), "{:?}", errors(&events));
    let store = p.open();
    let kept = store
        .recall("default")
        .unwrap()
        .into_iter()
        .find(|m| m.kind == MessageKind::UserMessage && m.text.len() == huge.len());
    assert!(kept.is_some(), "the message is kept whole");
    let hits = store
        .search("default", SearchKind::Recall, "zebrafinch", 0, 5)
        .unwrap();
    assert_eq!(hits.ids, vec![kept.unwrap().id]);
}

async fn a_fork_and_a_rewind_keep_everything(p: &Place) {
    let server = Server::start(vec![
        call(
            "archival_memory_insert",
            json!({"content": "first note about herons", "request_heartbeat": true}),
        ),
        say("one done"),
        call(
            "archival_memory_insert",
            json!({"content": "second note about herons", "request_heartbeat": true}),
        ),
        say("two done"),
    ])
    .await;
    let agent = Agent::open(p.open(), "default", settings(8192)).unwrap();
    let mut h = start(agent, &server).await;
    chat(&mut h, "one").await;
    chat(&mut h, "two").await;
    shutdown(h).await;
    let notes = |agent: &str| -> Vec<String> {
        let store = Store::open_read_only(&p.store).unwrap();
        let hits = store
            .search(agent, SearchKind::Archival, "herons", 0, 10)
            .unwrap();
        let mut texts: Vec<String> = store
            .archival_get(agent, &hits.ids)
            .unwrap()
            .into_iter()
            .map(|a| a.text)
            .collect();
        texts.sort();
        texts
    };
    let both = vec![
        "first note about herons".to_string(),
        "second note about herons".to_string(),
    ];
    assert_eq!(notes("default"), both);

    // A fork from the end of step 2 (the first input's reply) has only what came before.
    let (code, _, err) = memscope_on(p.home(), &p.store, &["fork", "--from-step", "2", "early"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(notes("early"), vec!["first note about herons".to_string()]);
    let (code, out, err) = memscope_on(p.home(), &p.store, &["dump", "--agent", "early"]);
    assert_eq!(code, 0, "{err}");
    let dumped = String::from_utf8_lossy(&out);
    assert!(
        dumped.contains("one done") && !dumped.contains("two done"),
        "{dumped}"
    );

    // A rewind to the same point; what it dropped is kept whole as a backup agent.
    let (code, out, err) = memscope_on(p.home(), &p.store, &["rewind", "--to-step", "2"]);
    assert_eq!(code, 0, "{err}");
    let said = String::from_utf8_lossy(&out);
    let backup = said
        .split('\'')
        .find(|s| s.starts_with("default@"))
        .unwrap_or_else(|| panic!("no backup named: {said}"))
        .to_string();
    assert_eq!(
        notes("default"),
        vec!["first note about herons".to_string()]
    );
    assert_eq!(notes(&backup), both);
    let store = Store::open_read_only(&p.store).unwrap();
    assert_eq!(
        store.recall(&backup).unwrap().len() as u64,
        store.load_agent(&backup).unwrap().unwrap().recall_count
    );
}
