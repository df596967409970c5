//! Time travel over real redb files and the scripted server: `steps`, `step N --json` byte for
//! byte, `diff`, fork and rewind from a step (core memory, summary and archival as of it),
//! retry, pop, rethink, rewrite, and replay against another server.

mod common;

use std::path::Path;

use common::*;
use memscope::engine::{Command, EventKind};
use memscope::memory::MessageKind;
use memscope::store::Store;
use serde_json::{Value, json};

/// `memscope ARGS --store STORE`; (exit code, stdout, stderr).
fn cli(home: &Path, store: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    memscope_on(home, store, args)
}

fn cli_json(home: &Path, store: &Path, args: &[&str]) -> Value {
    let (code, out, err) = cli(home, store, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_slice(&out).unwrap()
}

/// The bodies of the chat requests `server` received, byte for byte, in order.
fn chat_bodies(server: &Server) -> Vec<Vec<u8>> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| r.raw)
        .collect()
}

/// `memscope step N --json`: the request's bytes as printed, and the whole document.
fn step_json(home: &Path, store: &Path, n: &str) -> (Vec<u8>, Value) {
    let (code, out, err) = cli(home, store, &["step", n, "--json"]);
    assert_eq!(code, 0, "{err}");
    #[derive(serde::Deserialize)]
    struct Detail<'a> {
        #[serde(borrow)]
        request: &'a serde_json::value::RawValue,
    }
    let d: Detail = serde_json::from_slice(&out).unwrap();
    (
        d.request.get().as_bytes().to_vec(),
        serde_json::from_slice(&out).unwrap(),
    )
}

/// Timestamps (`2026-12-02 14:36:41`) replaced, so two requests made at different times
/// compare equal when nothing else differs.
fn untimed(bytes: &[u8]) -> String {
    let s = String::from_utf8(bytes.to_vec()).unwrap();
    let c: Vec<char> = s.chars().collect();
    let shape = "dddd-dd-dd dd:dd:dd";
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let fits = i + shape.len() <= c.len()
            && shape.chars().enumerate().all(|(k, p)| match p {
                'd' => c[i + k].is_ascii_digit(),
                other => c[i + k] == other,
            });
        if fits {
            out.push_str("<time>");
            i += shape.len();
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn heartbeat(name: &str, mut args: Value) -> Reply {
    args["request_heartbeat"] = json!(true);
    call(name, args)
}

/// The agent's step count, as its store says.
fn steps_of(path: &Path, agent: &str) -> u64 {
    Store::open_read_only(path)
        .unwrap()
        .load_agent(agent)
        .unwrap()
        .unwrap()
        .step
}

#[tokio::test(flavor = "multi_thread")]
async fn step_json_is_byte_for_byte_the_request_the_server_received() {
    let server = Server::start(vec![
        say("Hello there."),
        heartbeat(
            "core_memory_append",
            json!({"name": "human", "content": "Likes tea"}),
        ),
        say("Noted."),
    ])
    .await;
    let (dir, path) = temp_store();
    let mut h = start(open_agent(&path, 8000), &server).await;
    chat(&mut h, "hi").await;
    chat(&mut h, "I like tea").await;
    shutdown(h).await;

    let steps = cli_json(dir.path(), &path, &["steps", "--json"]);
    let rows = steps["steps"].as_array().unwrap();
    let received = chat_bodies(&server);
    assert_eq!(rows.len(), received.len(), "{steps}");
    assert_eq!(rows[1]["trigger"], "the user's message");
    assert_eq!(rows[1]["function"], "core_memory_append");
    assert!(
        rows[2]["trigger"].as_str().unwrap().contains("heartbeat"),
        "{steps}"
    );
    for (row, sent) in rows.iter().zip(&received) {
        let n = row["step"].as_u64().unwrap().to_string();
        let (request, v) = step_json(dir.path(), &path, &n);
        assert_eq!(
            request, *sent,
            "step {n} differs from what the server received"
        );
        // Sections, reply and memory come with it.
        let labels: Vec<&str> = v["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["label"].as_str().unwrap())
            .collect();
        assert!(labels.contains(&"core <human>"), "{labels:?}");
        assert!(labels.contains(&"tools"), "{labels:?}");
        assert!(v["reply"]["tool_calls"][0]["name"].is_string(), "{v}");
        assert!(v["memory"]["recall"].as_u64().unwrap() > 0);
    }
    // The diff between the second and third call: the append reached the core block.
    let d = cli_json(dir.path(), &path, &["diff", "2", "3", "--json"]);
    let changed = d["changed"].as_array().unwrap();
    let human = changed
        .iter()
        .find(|c| c["label"] == "core <human>")
        .unwrap_or_else(|| panic!("{d}"));
    assert!(
        human["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["tag"] == "+" && l["text"].as_str().unwrap().contains("Likes tea")),
        "{human}"
    );
    assert!(
        d["entered"].as_array().unwrap().len() >= 2,
        "the reply and its result entered: {d}"
    );
    // A step that does not exist is a clear refusal.
    let (code, _, err) = cli(dir.path(), &path, &["step", "99"]);
    assert_eq!(code, 2);
    assert!(err.contains("no step 99"), "{err}");
}

/// An agent with a summary, a core edit, archival inserts before and after step `n`, and a
/// passage deleted by hand after it. Returns `n`, the input that followed it and the replies
/// that answered it.
async fn history_with_everything(path: &Path, server: &Server) -> (u64, String, Vec<Reply>) {
    let mut h = start(open_agent(path, 4000), server).await;
    server.push_summary(Reply::Ok(text_reply("They traded news about ships.")));
    let mut flushed = false;
    for i in 0..40 {
        server.push(say(&format!("Reply {i}.")));
        let ev = chat(&mut h, &format!("News {i}: {}", "words ".repeat(80))).await;
        if ev.iter().any(|e| matches!(e, EventKind::Summary { .. })) {
            flushed = true;
            break;
        }
    }
    assert!(flushed, "a flush within 40 turns");
    server.push(heartbeat(
        "archival_memory_insert",
        json!({"content": "alpha: the ship is called Dawn"}),
    ));
    server.push(say("Saved."));
    chat(&mut h, "remember the ship's name").await;
    server.push(heartbeat(
        "core_memory_append",
        json!({"name": "human", "content": "Sails on weekends"}),
    ));
    server.push(say("Noted."));
    chat(&mut h, "I sail on weekends").await;
    // A reader beside the engine sees its commits.
    let n = steps_of(path, "default");
    // After step n: the passage deleted by hand, then a new one inserted by the model.
    h.commands.send(Command::DeletePassage(1)).unwrap();
    until(&mut h.events, |k| {
        matches!(k, EventKind::ArchivalEdited { .. })
    })
    .await;
    let next = "what else should you keep?".to_string();
    let replies = vec![
        heartbeat(
            "archival_memory_insert",
            json!({"content": "beta: the harbour is Leith"}),
        ),
        say("Kept that too."),
    ];
    for r in &replies {
        server.push(r.clone());
    }
    chat(&mut h, &next).await;
    shutdown(h).await;
    (n, next, replies)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_from_step_n_sends_what_the_original_sent_at_n_plus_one() {
    let server = Server::start(vec![]).await;
    let (dir, path) = temp_store();
    let (n, next, replies) = history_with_everything(&path, &server).await;
    let original: Vec<Vec<u8>> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions") && r.body.get("tools").is_some())
        .map(|r| r.raw)
        .collect();
    assert!(original.len() as u64 > n);

    let (code, out, err) = cli(
        dir.path(),
        &path,
        &["fork", "--from-step", &n.to_string(), "forked"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("forked"));
    // Archival memory as of n: the passage deleted later is back, the one inserted later absent.
    let store = Store::open(&path).unwrap();
    let texts: Vec<String> = store
        .archival("forked")
        .unwrap()
        .into_iter()
        .map(|p| p.text)
        .collect();
    assert!(texts.iter().any(|t| t.contains("alpha")), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("beta")), "{texts:?}");
    // The original is untouched.
    let orig: Vec<String> = store
        .archival("default")
        .unwrap()
        .into_iter()
        .map(|p| p.text)
        .collect();
    assert!(orig.iter().any(|t| t.contains("beta")) && !orig.iter().any(|t| t.contains("alpha")));
    drop(store);

    let second = Server::start(replies).await;
    let forked =
        memscope::engine::Agent::open(Store::open(&path).unwrap(), "forked", settings(4000))
            .unwrap();
    let mut h = start(forked, &second).await;
    chat(&mut h, &next).await;
    shutdown(h).await;
    let again = chat_bodies(&second);
    // Core memory, the summary, the queue and the archival count as of n, and no login.
    let want = untimed(&original[n as usize]);
    assert!(want.contains("Sails on weekends") && want.contains("ships"));
    assert_eq!(untimed(&again[0]), want);
    assert_eq!(untimed(&again[1]), untimed(&original[n as usize + 1]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewind_keeps_what_it_drops_in_a_backup() {
    let server = Server::start(vec![]).await;
    let (dir, path) = temp_store();
    let (n, _, _) = history_with_everything(&path, &server).await;
    let before = steps_of(&path, "default");
    let (code, out, err) = cli(dir.path(), &path, &["rewind", "--to-step", &n.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("default@undo-1"));
    assert_eq!(steps_of(&path, "default"), n);
    assert_eq!(steps_of(&path, "default@undo-1"), before);
    let steps = cli_json(dir.path(), &path, &["steps", "--json"]);
    let last = steps["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["step"].as_u64(), Some(n));
    let kept = cli_json(
        dir.path(),
        &path,
        &["steps", "--json", "--agent", "default@undo-1"],
    );
    assert_eq!(
        kept["steps"].as_array().unwrap().last().unwrap()["step"].as_u64(),
        Some(before)
    );
    // The backup still holds the later passage; the rewound agent has the deleted one back.
    let store = Store::open_read_only(&path).unwrap();
    let has = |agent: &str, what: &str| {
        store
            .archival(agent)
            .unwrap()
            .iter()
            .any(|p| p.text.contains(what))
    };
    assert!(has("default@undo-1", "beta") && !has("default@undo-1", "alpha"));
    assert!(has("default", "alpha") && !has("default", "beta"));
    // A step past the end is refused and changes nothing.
    drop(store);
    let (code, _, err) = cli(dir.path(), &path, &["rewind", "--to-step", "999"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(steps_of(&path, "default"), n);
}

fn user_messages(path: &Path, agent: &str) -> Vec<String> {
    Store::open_read_only(path)
        .unwrap()
        .recall(agent)
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == MessageKind::UserMessage)
        .map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_pop_rethink_and_rewrite_change_recall_and_the_queue_without_duplicates() {
    let server = Server::start(vec![
        say("First answer."),
        think_call(
            "pondering",
            "send_message",
            json!({"message": "Second answer."}),
        ),
    ])
    .await;
    let (_dir, path) = temp_store();
    let mut h = start(open_agent(&path, 8000), &server).await;
    chat(&mut h, "hello").await;
    chat(&mut h, "again").await;

    // Rethink and rewrite change the last reply in place.
    h.commands
        .send(Command::Rethink("a better thought".into()))
        .unwrap();
    until(&mut h.events, |k| {
        matches!(k, EventKind::MessageEdited { .. })
    })
    .await;
    h.commands
        .send(Command::Rewrite("A better answer.".into()))
        .unwrap();
    let ev = until(&mut h.events, |k| {
        matches!(k, EventKind::MessageEdited { .. })
    })
    .await;
    assert!(ev.iter().any(|e| matches!(e,
        EventKind::MessageEdited { part, before, .. } if part == "message" && before == "Second answer.")));
    // The next request carries the edited reply (the retry's is before it, so look now).
    server.push(say("Third answer."));
    chat(&mut h, "and now?").await;
    let last = server.step_requests().pop().unwrap().to_string();
    assert!(last.contains("a better thought") && last.contains("A better answer."));
    assert!(!last.contains("pondering") && !last.contains("Second answer."));

    // Retry: the last message again from the state before it, never twice in recall.
    server.push(say("Third answer, retried."));
    h.commands.send(Command::Retry).unwrap();
    let ev = until(&mut h.events, chain_ended).await;
    assert!(
        ev.iter().any(|e| matches!(e, EventKind::Rewound { .. })),
        "{ev:?}"
    );
    assert_eq!(said(&ev), ["Third answer, retried."]);
    let retried = server.step_requests().pop().unwrap().to_string();
    assert!(
        !retried.contains("Third answer."),
        "the old reply left the context"
    );
    assert_eq!(retried.matches("and now?").count(), 1);

    // Pop: the last exchange leaves the queue and recall; twice (a message straight after a
    // step is marked by that step's snapshot, one after other changes by its own).
    server.push(say("One more answer."));
    chat(&mut h, "one more").await;
    for _ in 0..2 {
        h.commands.send(Command::Pop).unwrap();
        until(&mut h.events, |k| matches!(k, EventKind::Rewound { .. })).await;
    }
    shutdown(h).await;
    assert_eq!(user_messages(&path, "default"), ["hello", "again"]);
    // Nothing was lost: each went back keeping a whole backup.
    assert_eq!(
        user_messages(&path, "default@undo-1"),
        ["hello", "again", "and now?"]
    );
    assert_eq!(
        user_messages(&path, "default@undo-2"),
        ["hello", "again", "and now?", "one more"]
    );
    assert_eq!(
        user_messages(&path, "default@undo-3"),
        ["hello", "again", "and now?"]
    );
    let store = Store::open_read_only(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    let queue = store.recall_get("default", &state.fifo).unwrap();
    let last = queue.last().unwrap();
    assert_eq!(last.kind, MessageKind::ToolResult, "{queue:#?}");
    let reply = &queue[queue.len() - 2];
    assert_eq!(reply.content, "a better thought");
    assert!(reply.tool_calls[0].arguments.contains("A better answer."));
    // The journal keeps what the edits replaced.
    let journal = store.journal("default", 0, u64::MAX).unwrap();
    assert!(journal.iter().any(|(_, e)| matches!(&e.kind,
        EventKind::MessageEdited { before, .. } if before == "pondering")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_against_another_server_shows_its_answer_and_saves_nothing() {
    let server = Server::start(vec![say("Recorded answer.")]).await;
    let (dir, path) = temp_store();
    let mut h = start(open_agent(&path, 8000), &server).await;
    chat(&mut h, "hi").await;
    shutdown(h).await;
    let dump_before = cli(dir.path(), &path, &["dump", "--json"]).1;
    let steps_before = cli(dir.path(), &path, &["steps", "--json"]).1;

    let other = Server::start(vec![say("Another model's answer.")]).await;
    let v = cli_json(
        dir.path(),
        &path,
        &[
            "replay",
            "--step",
            "1",
            "--base-url",
            &other.base_url,
            "--model",
            "other-model",
            "--json",
        ],
    );
    assert!(
        v["replayed"]["reply"]["tool_calls"][0]["arguments"]
            .as_str()
            .unwrap()
            .contains("Another model's answer."),
        "{v}"
    );
    assert!(
        v["recorded"]["reply"]["tool_calls"][0]["arguments"]
            .as_str()
            .unwrap()
            .contains("Recorded answer.")
    );
    // The other server got the recorded request, with the model asked for.
    let sent = other.step_requests();
    let recorded = server.step_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "other-model");
    assert_eq!(sent[0]["messages"], recorded[0]["messages"]);
    // Nothing changed in the store.
    assert_eq!(cli(dir.path(), &path, &["dump", "--json"]).1, dump_before);
    assert_eq!(cli(dir.path(), &path, &["steps", "--json"]).1, steps_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewrite_leaves_the_past_calls_exact_and_the_next_one_reads_the_new_words() {
    let server = Server::start(vec![
        heartbeat("send_message", json!({"message": "First words."})),
        Reply::Ok(text_reply("That should do.")),
        say("Later answer."),
    ])
    .await;
    let (dir, path) = temp_store();
    let mut h = start(open_agent(&path, 8000), &server).await;
    chat(&mut h, "hi").await;
    // The send_message reply was read by the second call; rewriting it keeps that call exact.
    h.commands
        .send(Command::Rewrite("Better words.".into()))
        .unwrap();
    let ev = until(&mut h.events, |k| {
        matches!(k, EventKind::MessageEdited { .. })
    })
    .await;
    let Some(EventKind::MessageEdited { id, replaced, .. }) = ev.last() else {
        unreachable!()
    };
    assert_ne!(id, replaced);
    chat(&mut h, "and?").await;
    shutdown(h).await;
    let sent = chat_bodies(&server);
    assert_eq!(sent.len(), 3);
    for (i, bytes) in sent.iter().enumerate() {
        let (request, _) = step_json(dir.path(), &path, &(i + 1).to_string());
        assert_eq!(request, *bytes, "step {}", i + 1);
    }
    let second = String::from_utf8_lossy(&sent[1]).into_owned();
    let third = String::from_utf8_lossy(&sent[2]).into_owned();
    assert!(second.contains("First words.") && !second.contains("Better words."));
    assert!(third.contains("Better words.") && !third.contains("First words."));
    // Recall keeps both; only the new words can be found by conversation_search.
    let store = Store::open_read_only(&path).unwrap();
    let recall = store.recall("default").unwrap();
    let old = recall.iter().find(|m| m.id == *replaced).unwrap();
    let new = recall.iter().find(|m| m.id == *id).unwrap();
    assert!(!old.searchable && new.searchable);
}
