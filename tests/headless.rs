//! The headless interface, through the built binary: `run` JSON lines, `dump`, `archival`,
//! `agents`, one writer per store, and clear start-up failures.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn memscope(home: &Path) -> Command {
    memscope_cmd(home)
}

/// Runs `memscope run` with `input` on stdin; returns (exit code, JSON events, stderr).
async fn run(home: &Path, store: &Path, base_url: &str, input: &str) -> (i32, Vec<Value>, String) {
    let mut cmd = memscope(home);
    cmd.args(["run", "--store"]).arg(store).args([
        "--base-url",
        base_url,
        "--model",
        "scripted-model",
    ]);
    let out = output_with_input(cmd, input).await;
    let events = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        events,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `memscope dump --json` on `store` with `args`; the document it printed.
fn dump_json(home: &Path, store: &Path, args: &[&str]) -> Value {
    let out = memscope(home)
        .args(["dump", "--json"])
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_prints_one_json_event_per_line_and_dump_shows_the_state() {
    let server = Server::start(vec![
        think_call(
            "Save their name.",
            "core_memory_append",
            json!({"name": "human", "content": "Name: Ada", "request_heartbeat": true}),
        ),
        say("Nice to meet you, Ada."),
        call(
            "archival_memory_insert",
            json!({"content": "Ada's cat is called Turing", "request_heartbeat": false}),
        ),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let (code, events, stderr) = run(
        home.path(),
        &store,
        &server.base_url,
        "I'm Ada\n\nMy cat is Turing\n",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let t = types(&events);
    assert_eq!(t[0], "ready");
    for want in [
        "user_message",
        "model_call",
        "thought",
        "function_call",
        "function_return",
        "heartbeat",
        "assistant_message",
        "budget",
        "chain_ended",
    ] {
        assert!(t.contains(&want), "no {want} event in {t:?}");
    }
    assert_eq!(
        t.iter().filter(|x| **x == "user_message").count(),
        2,
        "blank lines are skipped"
    );
    assert_eq!(t.iter().filter(|x| **x == "chain_ended").count(), 2);
    for e in &events {
        assert!(e["step"].is_u64(), "{e}");
        assert!(chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap()).is_ok());
    }
    let call = events
        .iter()
        .find(|e| e["type"] == "function_call")
        .unwrap();
    assert_eq!(call["name"], "core_memory_append");
    assert_eq!(call["arguments"]["content"], "Name: Ada");
    let ret = events
        .iter()
        .find(|e| e["type"] == "function_return")
        .unwrap();
    assert_eq!(
        (ret["status"].as_str(), ret["heartbeat"].as_bool()),
        (Some("OK"), Some(true))
    );
    let said = events
        .iter()
        .find(|e| e["type"] == "assistant_message")
        .unwrap();
    assert_eq!(said["text"], "Nice to meet you, Ada.");
    let budget = events.iter().rev().find(|e| e["type"] == "budget").unwrap();
    for k in [
        "context_window",
        "system",
        "functions",
        "core_memory",
        "summary",
        "messages",
        "total",
    ] {
        assert!(budget[k].is_u64(), "budget.{k} in {budget}");
    }
    assert_eq!(budget["server_prompt_tokens"], 321);

    let dump = dump_json(home.path(), &store, &[]);
    let human = dump["core_memory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == "human")
        .unwrap();
    assert!(human["value"].as_str().unwrap().ends_with("Name: Ada"));
    assert_eq!(human["limit"], 2000);
    assert!(dump["context"]["messages"].as_array().unwrap().len() >= 6);
    assert!(dump["context"]["summary"].is_null());
    let recall = dump["recall"].as_array().unwrap();
    assert!(
        recall
            .iter()
            .any(|m| m["text"] == "I'm Ada" && m["role"] == "user" && m["created_at"].is_string())
    );
    let archival = dump["archival"].as_array().unwrap();
    assert_eq!(archival.len(), 1);
    assert_eq!(archival[0]["text"], "Ada's cat is called Turing");
    assert!(dump["budget"]["total"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_writer_per_store_while_readers_follow_alongside() {
    let server = Server::start(vec![say("first"), say("second")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let mut cmd = memscope(home.path());
    cmd.args(["run", "--store"])
        .arg(&store)
        .args(["--base-url", &server.base_url]);
    let mut writer = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    let stdout = writer.stdout.take().unwrap();
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    // Wait for the writer to finish its first chain.
    stdin.write_all(b"hello\n").unwrap();
    stdin.flush().unwrap();
    loop {
        let line = line_rx.recv().await.expect("writer ended early");
        if line.contains("\"chain_ended\"") {
            break;
        }
    }
    let before = std::fs::read(&store).unwrap();

    // A second writer is refused without touching the file.
    let h2 = home.path().to_path_buf();
    let (s2, url) = (store.clone(), server.base_url.clone());
    let second = tokio::task::spawn_blocking(move || {
        memscope(&h2)
            .args(["run", "--store"])
            .arg(&s2)
            .args(["--base-url", &url])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another memscope process"), "{err}");
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the refused writer changed the file"
    );
    let insert = memscope(home.path())
        .args(["archival", "insert", "x", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(insert.status.code(), Some(2));

    // A reader opens alongside and sees the writer's commits.
    let dump = memscope(home.path())
        .args(["dump", "--json", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let v: Value = serde_json::from_slice(&dump.stdout).unwrap();
    assert!(
        v["recall"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "hello")
    );

    // The writer is unharmed and still works.
    stdin.write_all(b"again\n").unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    while let Some(line) = line_rx.recv().await {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("\"second\"")), "{rest:?}");
    assert!(writer.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_failures_exit_non_zero_with_a_clear_message() {
    let home = tempfile::tempdir().unwrap();
    // No endpoint configured.
    let out = memscope(home.path())
        .args(["run", "--store"])
        .arg(home.path().join("a.redb"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model endpoint is configured"));
    // Endpoint unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = memscope(home.path())
        .args(["run", "--store"])
        .arg(home.path().join("a.redb"))
        .args(["--base-url", &format!("http://127.0.0.1:{port}/v1")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the model endpoint"));
    // Bad flags.
    let out = memscope(home.path())
        .args(["run", "--context-window", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A file that is not a store is refused and left as it was.
    let server = Server::start(vec![]).await;
    let bogus = home.path().join("notes.txt");
    std::fs::write(&bogus, "these are my notes, not a database\n".repeat(200)).unwrap();
    let before = std::fs::read(&bogus).unwrap();
    let (code, _, stderr) = run(home.path(), &bogus, &server.base_url, "hi\n").await;
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a memscope store"), "{stderr}");
    assert_eq!(std::fs::read(&bogus).unwrap(), before);
    // A truncated store likewise.
    let good = home.path().join("good.redb");
    let (code, _, _) = run(home.path(), &good, &server.base_url, "").await;
    assert_eq!(code, 0);
    let bytes = std::fs::read(&good).unwrap();
    let cut = home.path().join("cut.redb");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let before = std::fs::read(&cut).unwrap();
    let out = memscope(home.path())
        .args(["dump", "--json", "--store"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(&cut).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn archival_and_agents_commands_seed_and_check_a_store_by_hand() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let ok = |args: &[&str]| {
        let out = memscope(home.path())
            .args(args)
            .arg("--store")
            .arg(&store)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        ok(&[
            "archival",
            "insert",
            "The spare key is under the blue flowerpot."
        ])
        .contains("passage 1")
    );
    ok(&[
        "archival",
        "insert",
        "Dentist appointment on Friday at 3pm.",
    ]);
    let found = ok(&["archival", "search", "where is the key", "--json"]);
    let v: Value = serde_json::from_str(&found).unwrap();
    assert_eq!(v["total"], 1);
    assert!(
        v["results"][0]["text"]
            .as_str()
            .unwrap()
            .contains("flowerpot")
    );
    assert!(ok(&["archival", "search", "dentist"]).contains("Friday"));

    ok(&["agents", "create", "work"]);
    let list = ok(&["agents", "list"]);
    assert!(list.contains("default") && list.contains("work"), "{list}");
    let out = memscope(home.path())
        .args(["agents", "create", "work", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Not from a script without --yes: nothing is deleted.
    let out = memscope(home.path())
        .args(["agents", "delete", "work", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --yes"));
    assert!(ok(&["agents"]).contains("work"));
    ok(&["agents", "delete", "work", "--yes"]);
    assert!(!ok(&["agents"]).contains("work"));
    let out = memscope(home.path())
        .args(["dump", "--agent", "work", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent named 'work'"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the store is readable by its owner only"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_show_the_context_window_the_writer_used() {
    let server = Server::start(vec![say("Hello.")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let mut cmd = memscope(home.path());
    cmd.args(["run", "--store"]).arg(&store).args([
        "--base-url",
        &server.base_url,
        "--model",
        "gpt-4o-mini",
        "--context-window",
        "60000",
    ]);
    let out = output_with_input(cmd, "hi\n").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // gpt-4o-mini's table window is 128,000; the reader shows the writer's 60,000.
    let v = dump_json(home.path(), &store, &["--model", "gpt-4o-mini"]);
    assert_eq!(v["budget"]["context_window"], 60000);
    assert_eq!(v["budget"]["window_source"], "config");
    // A reader's own setting still wins.
    let v = dump_json(home.path(), &store, &["--context-window", "9000"]);
    assert_eq!(v["budget"]["context_window"], 9000);
}
