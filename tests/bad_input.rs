//! Input that cannot be taken as it is: each kind gets its own clear answer, the lines after
//! it are answered, and a message too long for the context is kept whole while the model gets
//! what fits. Real HTTP to the scripted server, real redb files, the built binary for stdin.

mod common;

use common::*;
use memscope::engine::{EventKind, WarningKind};
use memscope::store::Store;
use serde_json::Value;

async fn run_with_bytes(
    home: &std::path::Path,
    args: &[&str],
    input: Vec<u8>,
) -> (i32, Vec<Value>) {
    let mut cmd = memscope_cmd(home);
    cmd.arg("run").args(args);
    let out = output_with_input(cmd, input).await;
    let events = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap_or(-1), events)
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

#[tokio::test]
async fn bad_lines_on_stdin_are_each_answered_and_the_lines_after_them_are_sent() {
    let server = Server::start(vec![
        say("one"),
        say("two"),
        say("three"),
        say("four"),
        say("I saved the start"),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let huge = "far too long for the window ".repeat(8000);
    let mut input =
        b"first fine line\nhello \xff\xfe bad\nnul \x00 here\nthird line after\n".to_vec();
    input.extend_from_slice(format!("{huge}\nthe line after the huge one\n").as_bytes());
    let (code, events) = run_with_bytes(
        home.path(),
        &[
            "--base-url",
            &server.base_url,
            "--model",
            "scripted-model",
            "--store",
            store.to_str().unwrap(),
        ],
        input,
    )
    .await;
    let sent: Vec<&str> = of_type(&events, "user_message")
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        sent,
        [
            "first fine line",
            "nul  here",
            "third line after",
            huge.as_str(),
            "the line after the huge one"
        ]
    );
    let said: Vec<&str> = of_type(&events, "assistant_message")
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(said, ["one", "two", "three", "four", "I saved the start"]);
    // The huge line was kept whole and the model got what fits.
    assert!(
        of_type(&events, "warning")
            .iter()
            .any(|w| w["kind"] == "message_too_long"),
        "{events:?}"
    );
    let window = of_type(&events, "budget")[0]["context_window"]
        .as_u64()
        .unwrap();
    for b in of_type(&events, "budget") {
        assert!(b["total"].as_u64().unwrap() <= window, "{b}");
    }
    let errors = of_type(&events, "error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["kind"], "bad_input");
    let why = errors[0]["message"].as_str().unwrap();
    assert!(why.contains("line 2") && why.contains("UTF-8"), "{why}");
    let changed: Vec<&Value> = of_type(&events, "warning")
        .into_iter()
        .filter(|w| w["kind"] == "input_changed")
        .collect();
    assert_eq!(changed.len(), 1);
    assert!(changed[0]["message"].as_str().unwrap().contains("line 3"));
    assert_eq!(code, 3, "the exit status says input was refused");
}

#[tokio::test]
async fn a_message_too_long_for_the_context_is_kept_whole_and_the_model_gets_what_fits() {
    let server = Server::start(vec![say(
        "I saved the start; the rest is in archival memory.",
    )])
    .await;
    let (_d, path) = temp_store();
    let window = 8192;
    let mut h = start(open_agent(&path, window), &server).await;
    let long: String = (0..4000)
        .map(|i| format!("Line {i} of the ship's log: the Wren passed at dawn. "))
        .collect();
    let ev = chat(&mut h, &long).await;
    let warning = ev
        .iter()
        .find_map(|e| match e {
            EventKind::Warning {
                kind: WarningKind::MessageTooLong,
                message,
            } => Some(message.clone()),
            _ => None,
        })
        .expect("the user is told");
    assert!(warning.contains("archival memory as passages"), "{warning}");
    // Nothing over the window was counted or sent.
    for e in &ev {
        if let EventKind::Budget(b) = e {
            assert!(b.total <= window, "{}", b.total);
        }
    }
    let req = server.step_requests().pop().unwrap();
    let sent = req["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sent.len() < long.len() / 4,
        "only the start is sent: {}",
        sent.len()
    );
    assert!(sent.contains("Line 0 of the ship's log"));
    assert!(
        sent.contains("too long for your context"),
        "a note for the model"
    );
    shutdown(h).await;

    // The whole text is in recall and in archival memory.
    let store = Store::open(&path).unwrap();
    let recall = store.recall("default").unwrap();
    assert!(recall.iter().any(|m| m.text == long));
    let archival: String = store
        .archival("default")
        .unwrap()
        .iter()
        .map(|p| p.text.clone())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(archival.contains("Line 3999 of the ship's log"));
    assert!(archival.contains("Line 0 of the ship's log"));
}

#[tokio::test]
async fn a_damaged_record_is_named_by_check_moved_aside_by_repair_and_never_hides_the_rest() {
    let server = Server::start(vec![say("Noted."), say("Noted again.")]).await;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("s.redb");
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "The code word is QZXMARKER.").await;
    chat(&mut h, "A second, undamaged message.").await;
    shutdown(h).await;

    // Overwrite a few bytes inside every record that holds the marker.
    let mut bytes = std::fs::read(&path).unwrap();
    let marker = b"QZXMARKER";
    let mut hits = 0;
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(marker.len()).position(|w| w == marker) {
        bytes[i + at] = b'\\';
        bytes[i + at + 1] = b'q';
        i += at + marker.len();
        hits += 1;
    }
    assert!(hits >= 2, "the marker is in recall and in the journal");
    std::fs::write(&path, &bytes).unwrap();

    // The TUI's store pane shows every readable message and says how many it left out.
    {
        use memscope::tui::app::{Load, Loaded};
        let store = Store::open_read_only(&path).unwrap();
        let Loaded::Partial(rows, note) =
            memscope::tui::data::load(&store, "default", &Load::Recall)
        else {
            panic!("a partial read")
        };
        assert!(
            note.contains("could not be read") && note.contains("memscope check"),
            "{note}"
        );
        let Loaded::Recall(rows, _) = *rows else {
            panic!()
        };
        assert!(
            rows.iter()
                .any(|r| r.text == "A second, undamaged message.")
        );
    }

    let cmd = |args: &[&str]| {
        let mut c = memscope_cmd(home.path());
        c.args(args).arg("--store").arg(&path);
        c.output().unwrap()
    };
    let out = cmd(&["check"]);
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("agent 'default', table recall, key"),
        "check names the damaged recall record: {report}"
    );

    // dump prints every readable record and lists the one it could not read.
    let out = cmd(&["dump", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("the rest is valid JSON");
    assert_eq!(
        v["unreadable"].as_array().unwrap().len(),
        1,
        "{}",
        v["unreadable"]
    );
    let texts: Vec<&str> = v["recall"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"A second, undamaged message."), "{texts:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("check --repair"));

    // --repair moves them aside; then the store reads whole again.
    let out = cmd(&["check", "--repair"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("into the quarantine table"));
    let out = cmd(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = cmd(&["dump", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["unreadable"], serde_json::json!([]));
    // And a writer opens the agent again, its queue without the message moved aside.
    let agent = open_agent(&path, 8192);
    assert!(
        agent
            .fifo()
            .iter()
            .any(|m| m.text == "A second, undamaged message.")
    );
    assert!(!agent.fifo().iter().any(|m| m.text.contains("MARKER")));
}

#[tokio::test]
async fn a_prompt_known_not_to_fit_is_never_sent() {
    let server = Server::start(vec![say("One."), say("Two.")]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 128_000), &server).await;
    chat(&mut h, "first").await;
    chat(&mut h, "second").await;
    shutdown(h).await;
    let sent_before = server.step_requests().len();

    // The same agent in a window smaller than its system message, schemas and core memory:
    // a flush evicts what it can, and the prompt still cannot fit.
    let probe = open_agent(&path, 128_000);
    let fixed = probe.budget().total - probe.budget().messages;
    drop(probe);
    let mut h = start(open_agent(&path, fixed - 100), &server).await;
    let ev = chat(&mut h, "third").await;
    let full = ev
        .iter()
        .find_map(|e| match e {
            EventKind::Error {
                kind: memscope::engine::ErrorKind::MemoryFull,
                message,
            } => Some(message.clone()),
            _ => None,
        })
        .expect("a memory_full error");
    assert!(full.contains("not sent"), "{full}");
    assert_eq!(
        server.step_requests().len(),
        sent_before,
        "no request was sent"
    );
    shutdown(h).await;
}
