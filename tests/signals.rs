//! Ending a writer from outside: SIGTERM and SIGHUP stop `memscope run` cleanly (the step in
//! flight dropped, the store closed), and after a SIGKILL every reader still reads the store,
//! recovering it first. A store that really is damaged gets one clear message from every
//! command.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A `memscope run` writer kept running, its stdin open, its stdout read line by line.
struct Writer {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stdin: tokio::process::ChildStdin,
}

impl Writer {
    fn start(home: &Path, store: &Path, base_url: &str) -> Writer {
        let mut cmd = memscope_cmd(home);
        cmd.args(["run", "--store"]).arg(store).args([
            "--base-url",
            base_url,
            "--model",
            "scripted-model",
        ]);
        let mut child = tokio::process::Command::from(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdin = child.stdin.take().unwrap();
        Writer {
            child,
            lines,
            stdin,
        }
    }

    async fn say(&mut self, text: &str) {
        self.stdin
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Reads events until one of type `kind`.
    async fn until(&mut self, kind: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        while let Some(line) = self.lines.next_line().await.unwrap() {
            let v: Value = serde_json::from_str(&line).unwrap();
            let done = v["type"] == kind;
            seen.push(v);
            if done {
                return seen;
            }
        }
        panic!("memscope run ended before a {kind} event; saw {seen:#?}");
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().unwrap().to_string();
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to end; its exit status and stderr.
    async fn end(mut self) -> (std::process::ExitStatus, String) {
        let mut stderr = String::new();
        tokio::io::AsyncReadExt::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr)
            .await
            .unwrap();
        (self.child.wait().await.unwrap(), stderr)
    }
}

fn reader(home: &Path, store: &Path, args: &[&str]) -> std::process::Output {
    memscope_cmd(home)
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_sighup_stop_run_cleanly_with_the_step_in_flight_dropped() {
    for sig in ["TERM", "HUP"] {
        // The second reply never comes: the signal arrives while the model call is in flight.
        let server = Server::start(vec![say("first answer"), Reply::Hang]).await;
        let home = tempfile::tempdir().unwrap();
        let store = home.path().join("s.redb");
        let mut w = Writer::start(home.path(), &store, &server.base_url);
        w.say("hello there").await;
        w.until("chain_ended").await;
        w.say("a question the model never answers").await;
        w.until("model_call").await;
        w.signal(sig);
        let rest = w.until("chain_ended").await;
        assert!(
            rest.iter()
                .any(|e| e["type"] == "error"
                    && e["message"].as_str().unwrap().contains("interrupted")),
            "SIG{sig}: the step in flight is reported dropped: {rest:#?}"
        );
        let (status, err) = w.end().await;
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{sig}: a clean exit; stderr: {err}"
        );

        let dump = reader(home.path(), &store, &["dump"]);
        assert!(dump.status.success(), "SIG{sig}: {}", stderr(&dump));
        assert!(
            !stderr(&dump).contains("not closed cleanly"),
            "SIG{sig}: the writer closed the store: {}",
            stderr(&dump)
        );
        let text = stdout(&dump);
        assert!(text.contains("first answer"), "{text}");
        assert!(
            text.contains("a question the model never answers"),
            "the message committed before the call is kept: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_sigkill_every_reader_recovers_the_store_and_reads_it() {
    let server = Server::start(vec![say("an answer that was committed")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let mut w = Writer::start(home.path(), &store, &server.base_url);
    w.say("remember the lighthouse").await;
    w.until("chain_ended").await;
    w.signal("KILL");
    let (status, _) = w.end().await;
    assert_eq!(status.code(), None, "killed by the signal");

    let dump = reader(home.path(), &store, &["dump"]);
    assert!(dump.status.success(), "dump: {}", stderr(&dump));
    assert!(
        stderr(&dump).contains("was not closed cleanly") && stderr(&dump).contains("recovered"),
        "dump says it recovered the store: {}",
        stderr(&dump)
    );
    assert!(stdout(&dump).contains("an answer that was committed"));
    assert!(stdout(&dump).contains("remember the lighthouse"));

    // Recovered once, the store is clean for the next reader.
    let list = reader(home.path(), &store, &["agents", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).starts_with("default\t"), "{}", stdout(&list));
    assert!(!stderr(&list).contains("not closed cleanly"));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_reader_recovers_a_killed_writers_store_on_its_own() {
    for args in [
        &["agents", "list"][..],
        &["archival", "search", "lighthouse"][..],
        &["dump", "--json"][..],
    ] {
        let server = Server::start(vec![say("ok")]).await;
        let home = tempfile::tempdir().unwrap();
        let store = home.path().join("s.redb");
        let mut w = Writer::start(home.path(), &store, &server.base_url);
        w.say("hello").await;
        w.until("chain_ended").await;
        w.signal("KILL");
        w.end().await;
        let out = reader(home.path(), &store, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("was not closed cleanly"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_store_gets_one_clear_message_from_every_command() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    // A real store with a conversation in it, then cut short as a failing disk would leave it.
    {
        let mut a = open_agent(&store, 8192);
        let m = a.event_message(memscope::memory::MessageKind::UserMessage, "hello");
        a.commit(&[m], &[], &[], None).unwrap();
    }
    let len = std::fs::metadata(&store).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap();
    f.set_len(len / 3).unwrap();
    drop(f);
    let before = std::fs::read(&store).unwrap();
    let mut messages = Vec::new();
    for args in [
        &["dump"][..],
        &["agents", "list"][..],
        &["archival", "search", "x"][..],
        &["archival", "insert", "x"][..],
    ] {
        let out = reader(home.path(), &store, args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = stderr(&out);
        assert!(
            err.contains(&store.display().to_string()) && err.contains("damaged"),
            "{args:?}: names the file and says it is damaged: {err}"
        );
        assert!(err.contains("Move it"), "{args:?}: says what to do: {err}");
        // What redb found goes in brackets and differs by how far each command read.
        let (head, rest) = err.split_once(" (").unwrap();
        messages.push(format!("{head}{}", rest.split_once(") ").unwrap().1));
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "the same message from every command: {messages:#?}"
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the damaged file was left untouched"
    );
}
