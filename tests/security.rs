//! Secrets and untrusted text: the API key never lands in a file memscope writes, its output or
//! its logs (even when a server echoes it back), and control sequences from a model never reach
//! the terminal through the headless output or the log file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::json;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn memscope(home: &Path, key: Option<&str>) -> Command {
    let mut c = memscope_cmd(home);
    c.env("MEMSCOPE_LOG", "trace");
    if let Some(k) = key {
        c.env("OPENAI_API_KEY", k);
    }
    c
}

async fn run(cmd: Command, input: &str) -> std::process::Output {
    output_with_input(cmd, input).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_is_never_written_anywhere_even_when_a_server_echoes_it() {
    let key = format!(
        "sk-memscope-test-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap()
    );
    let server = Server::start(vec![
        // A server that puts the key in an error body, then in a reply: thoughts, a message to
        // the user, a passage to save and a core memory edit.
        Reply::Http(400, format!("{{\"error\":\"bad key {key}\"}}"), vec![]),
        think_call(
            &format!("the key is {key}"),
            "archival_memory_insert",
            json!({"content": format!("secret {key}"), "request_heartbeat": true}),
        ),
        call(
            "core_memory_append",
            json!({"name": "human", "content": format!("key {key}"), "request_heartbeat": true}),
        ),
        say(&format!("your key is {key}")),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("data").join("s.redb");
    let mut cmd = memscope(home.path(), Some(&key));
    cmd.args(["run", "--store"])
        .arg(&store)
        .args(["--base-url", &server.base_url, "--model", "m"]);
    let out = run(cmd, "first\nsecond\n").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The key was used...
    let auth: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "authorization")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert!(auth.iter().all(|a| *a == format!("Bearer {key}")) && !auth.is_empty());
    // ...and appears in none of the output.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[redacted API key]"),
        "the echo was redacted: {stdout}"
    );
    assert!(!contains(&out.stdout, key.as_bytes()) && !contains(&out.stderr, key.as_bytes()));
    let mut cmd = memscope(home.path(), Some(&key));
    cmd.args(["dump", "--json", "--store"]).arg(&store);
    let dump = run(cmd, "").await;
    assert!(dump.status.success());
    assert!(!contains(&dump.stdout, key.as_bytes()), "dump");
    // Nor in any file memscope wrote: the store (with its traces), the log.
    let files = files_under(home.path());
    assert!(
        files.iter().any(|f| f.ends_with("memscope.log")),
        "{files:?}"
    );
    assert!(files.iter().any(|f| f.ends_with("s.redb")));
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !contains(&bytes, key.as_bytes()),
            "the key is in {}",
            f.display()
        );
    }
    #[cfg(unix)]
    for f in &files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is readable by others", f.display());
    }
}

const HOSTILE: &str = "a\x1b[2J\x1b]0;pwned\x07b\x1b]52;c;ZXZpbA==\x07c\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\d\u{9b}31me\u{202e}f\u{2066}g\x07h\x08i";

fn assert_terminal_safe(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    for (i, c) in text.char_indices() {
        let bad = (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        assert!(
            !bad,
            "{what} holds a raw {:?} at byte {i}: {}",
            c,
            &text[i.saturating_sub(40)..(i + 40).min(text.len())]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn control_sequences_from_a_model_never_reach_stdout_or_the_log_raw() {
    let server = Server::start(vec![
        Reply::Http(
            500,
            format!(
                "{{\"error\":\"{}\"}}",
                HOSTILE.replace('\\', "\\\\").replace('"', "\\\"")
            ),
            vec![],
        ),
        Reply::Http(200, format!("not json {HOSTILE}"), vec![]),
        think_call(
            HOSTILE,
            "archival_memory_insert",
            json!({"content": HOSTILE, "request_heartbeat": true}),
        ),
        call(&format!("evil{HOSTILE}"), json!({"x": HOSTILE})),
        say(HOSTILE),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let mut cmd = memscope(home.path(), None);
    cmd.args(["run", "--store"])
        .arg(&store)
        .args(["--base-url", &server.base_url, "--model", "m"])
        .env("MEMSCOPE_RETRY_BASE_MS", "1");
    let out = run(cmd, &format!("user says {HOSTILE}\n")).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\\u001b]52;c;")
            && stdout.contains("\\u009b")
            && stdout.contains("\\u202e"),
        "shown, escaped: {stdout}"
    );
    assert_terminal_safe(&out.stdout, "stdout");
    assert_terminal_safe(&out.stderr, "stderr");
    let log = std::fs::read(
        home.path()
            .join("state")
            .join("memscope")
            .join("memscope.log"),
    )
    .unwrap();
    assert!(
        String::from_utf8_lossy(&log).contains("retrying"),
        "the failure was logged"
    );
    assert_terminal_safe(&log, "the log file");
    // Each line is still valid JSON, and the text round-trips exactly.
    let said: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "assistant_message")
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(said, vec![HOSTILE.to_string()]);
    // The readable dump escapes too.
    let mut cmd = memscope(home.path(), None);
    cmd.args(["dump", "--store"]).arg(&store);
    let dump = run(cmd, "").await;
    assert!(dump.status.success());
    assert_terminal_safe(&dump.stdout, "dump");
}
