//! A store that cannot grow (a full disk, simulated with RLIMIT_FSIZE on the built binary, so
//! writes fail with a real I/O error): the failure is reported where each face looks, the
//! message that was not saved is handed back, nothing reported as saved is lost, and the
//! session goes on once space returns (the limit is lifted on the running process).

mod common;

use std::path::Path;
use std::process::Stdio;

use common::tmux::Tmux;
use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The store's size now, plus a little room: the file may grow by that much, then no more.
fn limit_kb(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len() / 1024 + 64
}

/// A store with one exchange in it (so that the limit leaves the file room for nothing big).
async fn seeded(server: &Server, path: &Path) {
    let mut h = start(open_agent(path, 128_000), server).await;
    chat(&mut h, "before the disk filled").await;
    shutdown(h).await;
}

/// Lifts the file-size limit of a running process: space has returned.
fn space_returns(pid: u32) {
    let ok = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--fsize=unlimited:"])
        .status()
        .expect("prlimit (util-linux) must be installed");
    assert!(ok.success());
}

fn recall_texts(path: &Path) -> Vec<String> {
    open_agent(path, 128_000)
        .store
        .recall("default")
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

fn bin_under_limit(limit_kb: u64) -> String {
    // Soft limit only, so it can be lifted later; SIGXFSZ ignored, so a write that would pass
    // the limit fails as on a full disk instead of killing the process.
    format!(
        "ulimit -S -f {limit_kb}; trap \"\" XFSZ; exec {}",
        env!("CARGO_BIN_EXE_memscope")
    )
}

#[tokio::test]
async fn run_reports_a_full_disk_hands_back_the_line_and_goes_on_when_space_returns() {
    let server = Server::start(vec![say("First.")]).await;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("s.redb");
    seeded(&server, &path).await;
    for i in 0..300 {
        server.push(say(&format!("Reply {i}.")));
    }
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(format!("{} \"$@\"", bin_under_limit(limit_kb(&path))))
        .arg("memscope")
        .args(["run", "--model", "scripted-model", "--base-url"])
        .arg(&server.base_url)
        .arg("--store")
        .arg(&path)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("MEMSCOPE_PROBE", "llamacpp=127.0.0.1:9")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events: Vec<Value> = Vec::new();
    // Reads events up to the end of the chain the last line started.
    async fn to_chain_end(
        out: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
        events: &mut Vec<Value>,
    ) {
        while let Some(line) = out.next_line().await.unwrap() {
            let e: Value = serde_json::from_str(&line).unwrap();
            let done = e["type"] == "chain_ended";
            events.push(e);
            if done {
                return;
            }
        }
        panic!("the event stream ended early: {events:?}");
    }
    let mut sent = 0;
    while !events.iter().any(|e| e["type"] == "error") {
        assert!(sent < 300, "the store never filled");
        let line = format!("message {sent}: {}\n", "a long line of text ".repeat(100));
        stdin.write_all(line.as_bytes()).await.unwrap();
        sent += 1;
        to_chain_end(&mut out, &mut events).await;
    }
    let error = events.iter().find(|e| e["type"] == "error").unwrap();
    assert_eq!(error["kind"], "store", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("could not be written"),
        "{error}"
    );
    let not_saved: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "message_not_saved")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();

    // Space returns, and the same session takes the next line.
    space_returns(pid);
    stdin.write_all(b"after space returned\n").await.unwrap();
    to_chain_end(&mut out, &mut events).await;
    drop(stdin);
    while let Some(line) = out.next_line().await.unwrap() {
        events.push(serde_json::from_str(&line).unwrap());
    }
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(1), "the exit status says writes failed");

    let reported: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "user_message")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    let story: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e["type"], e["message"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        reported.last(),
        Some(&"after space returned"),
        "{}",
        story.join("\n")
    );
    // The line after space returned was answered, and the answer saved.
    let last_line = events
        .iter()
        .rposition(|e| e["type"] == "user_message")
        .unwrap();
    let answer = events[last_line..]
        .iter()
        .find(|e| e["type"] == "assistant_message")
        .expect("the line after space returned is answered");
    let answer = answer["text"].as_str().unwrap().to_string();
    // Nothing reported as saved is lost; what was reported as not saved is not there.
    let recall = recall_texts(&path);
    for text in &reported {
        assert!(recall.iter().any(|t| t == text), "lost: {}", &text[..20]);
    }
    for text in &not_saved {
        assert!(
            !recall.iter().any(|t| t == text),
            "reported unsaved: {text:.20}"
        );
    }
    assert!(recall.iter().any(|t| t == "before the disk filled"));
    assert!(recall.contains(&answer), "{answer}");
    // The store is whole: `check` finds nothing unreadable.
    let check = memscope_cmd(home.path())
        .args(["check", "--store"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tui_shows_a_full_disk_keeps_the_typed_text_and_sends_it_once_space_returns() {
    let server = Server::start(vec![say("First.")]).await;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("t.redb");
    seeded(&server, &path).await;
    server.push(say("Saved at last."));
    let pid_file = home.path().join("pid");
    let cmd = format!(
        "bash -c 'echo $$ > {pid}; {bin} --store {store} --base-url {url} --model scripted-model'; echo MEMSCOPE-EXITED-$?; sleep 30",
        pid = pid_file.display(),
        bin = bin_under_limit(limit_kb(&path)),
        store = path.display(),
        url = server.base_url,
    );
    let t = Tmux::start(&cmd, home.path());
    t.wait_for("Context budget").await;
    // Far more than the file may still grow by.
    let long = format!(
        "UNSAVED-START {}UNSAVED-END",
        "words that will not fit ".repeat(4_500)
    );
    t.paste(&long);
    t.wait_for("UNSAVED-END").await;
    t.keys(&["Enter"]);
    let s = t.wait_for("could not be written").await;
    assert!(
        s.contains("back in the input box") || s.contains("not saved"),
        "{s}"
    );
    // The input box holds the text again (its start is on screen, below the conversation).
    let s = t
        .wait_until("the text back in the input box", |s| {
            s.lines()
                .skip_while(|l| !l.contains("┏ Input"))
                .take_while(|l| !l.contains("┗"))
                .any(|l| l.contains("UNSAVED-START"))
        })
        .await;
    assert!(!s.contains("Saved at last."), "{s}");

    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    space_returns(pid);
    t.keys(&["Enter"]);
    t.wait_for("Saved at last.").await;
    t.keys(&["C-c"]);
    let s = t.wait_for("MEMSCOPE-EXITED-").await;
    assert!(
        s.contains("MEMSCOPE-EXITED-1"),
        "the exit status says a write failed: {s}"
    );
    let recall = recall_texts(&path);
    assert_eq!(
        recall.iter().filter(|t| **t == long).count(),
        1,
        "saved once, whole"
    );
}
