//! Faults a new user met in real use (issue #24), each reproduced against the scripted server
//! and a real store, and now avoided: an unknown `/command` sent to the model, the stores pane
//! frozen between single steps, an agent switch that forgets the model the server named.
//! (Memory pressure on a model that writes long is in `cache.rs`.)

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::engine::EventKind;
use memscope::store::Store;
use memscope::tui::Runtime;
use memscope::tui::app::{AppEvent, RunState};

type Rt = Runtime<TestBackend>;

fn screen(rt: &Rt) -> String {
    memscope::tui::view::buffer_text(rt.terminal.backend().buffer())
}

fn press(rt: &mut Rt, code: KeyCode) {
    rt.apply(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    rt.draw().unwrap();
}

fn type_text(rt: &mut Rt, s: &str) {
    for c in s.chars() {
        press(rt, KeyCode::Char(c));
    }
}

/// Waits until `done` holds of the app; a test that waits too long fails naming what it
/// waited for, with the screen.
async fn wait(rt: &mut Rt, what: &str, done: impl Fn(&memscope::tui::app::App) -> bool) {
    let r = tokio::time::timeout(std::time::Duration::from_secs(20), rt.until(done)).await;
    match r {
        Ok(r) => r.unwrap(),
        Err(_) => {
            rt.draw().unwrap();
            panic!(
                "waited too long for {what} (notice {:?}, error {:?}):\n{}",
                rt.app.notice,
                rt.app.error,
                screen(rt)
            );
        }
    }
}

fn chat_requests(server: &Server) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_command_sends_nothing_and_saves_nothing() {
    let server = Server::start(vec![say("should never be asked")]).await;
    let (_d, path) = temp_store();
    let mut rt = common::tui::runtime_on(&path, Some(client(&server))).await;
    wait(&mut rt, "the first budget", |a| a.budget.total > 0).await;
    for typo in ["/retyr", "/foo bar"] {
        type_text(&mut rt, typo);
        press(&mut rt, KeyCode::Enter);
        let s = screen(&rt);
        assert!(s.contains("unknown command"), "{typo}: {s}");
        assert!(rt.app.unconfirmed.is_empty(), "{typo} was sent");
        // What is typed next replaces the refused text.
        type_text(&mut rt, "x");
        assert_eq!(rt.app.input.lines().join("\n"), "x");
        press(&mut rt, KeyCode::Backspace);
    }
    assert!(screen(&rt).contains("did you mean /retry?") || rt.app.notice.is_some());
    rt.shutdown().await.unwrap();
    assert_eq!(chat_requests(&server), 0, "no request went to the model");
    let store = Store::open(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    assert_eq!(state.recall_count, 0, "nothing was saved in recall");
}

#[tokio::test(flavor = "multi_thread")]
async fn in_step_mode_the_stores_pane_follows_each_step() {
    let server = Server::start(vec![
        call(
            "archival_memory_insert",
            json!({"content": "Sam keeps bees in Devon.", "request_heartbeat": true}),
        ),
        say("Saved."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut rt = common::tui::runtime_on(&path, Some(client(&server))).await;
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('s'));
    assert!(rt.app.step_mode);
    press(&mut rt, KeyCode::Char('i'));
    type_text(&mut rt, "I keep bees.");
    press(&mut rt, KeyCode::Enter);
    press(&mut rt, KeyCode::Esc);
    // Paused before the first call: the user's message is in recall already.
    wait(&mut rt, "the first pause", |a| {
        matches!(a.run, RunState::Paused { .. })
    })
    .await;
    wait(&mut rt, "the user's message in recall", |a| {
        a.stores.recall.total >= 1
    })
    .await;
    press(&mut rt, KeyCode::Char('n'));
    // Paused before the heartbeat: the passage and the step's messages are shown now, not
    // when the chain ends.
    wait(
        &mut rt,
        "the pause before the heartbeat, with the passage shown",
        |a| {
            matches!(a.run, RunState::Paused { .. })
                && a.stores.archival.total == 1
                && a.stores.recall.total >= 3
        },
    )
    .await;
    assert_eq!(
        server.step_requests().len(),
        1,
        "still paused after one call"
    );
    rt.draw().unwrap();
    assert!(screen(&rt).contains("Archival (1)"), "{}", screen(&rt));
    assert!(
        rt.app.stores.archival.rows[0]
            .text
            .contains("Sam keeps bees"),
        "{:?}",
        rt.app.stores.archival.rows
    );
    press(&mut rt, KeyCode::Char('c'));
    wait(&mut rt, "the chain's end", |a| a.run == RunState::Idle).await;
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_agents_keeps_the_model_and_window_the_server_named() {
    let server = Server::start(vec![say("Hello from a."), say("Hello from b.")]).await;
    server.set_models(json!({"object": "list", "data": [
        {"id": "served-model", "object": "model", "max_model_len": 8192}
    ]}));
    let (_d, path) = temp_store();
    // Agent b exists beside the default one.
    {
        let store = Store::open(&path).unwrap();
        drop(memscope::engine::Agent::open(store, "b", settings(8192)).unwrap());
    }
    let client = client_config(&server.base_url);
    let cfg = memscope::config::Resolved {
        store: path.clone(),
        agent: "default".into(),
        client: Some(client.clone()),
        // No model named: the server says which it serves.
        model_given: false,
        engine: memscope::engine::EngineSettings::default(),
        provider: None,
        policy: Default::default(),
        template: client_config("http://127.0.0.1:9/v1"),
        theme: None,
        keys: Default::default(),
    };
    let mut rt = common::tui::runtime_discovering(&path, cfg).await;
    wait(&mut rt, "the served model", |a| {
        a.model.as_deref() == Some("served-model")
    })
    .await;
    type_text(&mut rt, "hi a");
    press(&mut rt, KeyCode::Enter);
    let replied = |text: &'static str| {
        move |a: &memscope::tui::app::App| {
            a.run == RunState::Idle && a.convo.entries.iter().any(|e| e.text.contains(text))
        }
    };
    wait(&mut rt, "the reply on a", replied("Hello from a.")).await;
    type_text(&mut rt, "/agent b");
    press(&mut rt, KeyCode::Enter);
    wait(&mut rt, "the switch", |a| {
        a.agent == "b" && a.budget.total > 0
    })
    .await;
    type_text(&mut rt, "hi b");
    press(&mut rt, KeyCode::Enter);
    wait(&mut rt, "the reply on b", replied("Hello from b.")).await;
    let budget = rt.app.budget.clone();
    rt.shutdown().await.unwrap();
    let models: Vec<String> = server
        .step_requests()
        .iter()
        .map(|r| r["model"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(models, ["served-model", "served-model"]);
    assert_eq!(
        (budget.context_window, budget.window_source.as_str()),
        (8192, "server")
    );
}

/// Overwrites bytes inside every copy of the agent's own record in a redb file (its fields in
/// the order only that record keeps them; a trace's snapshot orders them otherwise), so that it
/// cannot be read. Returns how many copies were hit.
fn damage_agent_record(path: &std::path::Path) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let needle = b",\"recall_count\":";
    let mut hits = 0;
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(needle.len()).position(|w| w == needle) {
        let at = i + at;
        // Only where `"step":N` comes right before it: the agent's record.
        let before = String::from_utf8_lossy(&bytes[at.saturating_sub(24)..at]).to_string();
        if before.contains("\"step\":") {
            bytes[at + 9] = 0xff;
            bytes[at + 10] = 0xfe;
            hits += 1;
        }
        i = at + needle.len();
    }
    std::fs::write(path, &bytes).unwrap();
    hits
}

#[tokio::test]
async fn an_agent_whose_own_record_is_damaged_is_shown_and_rebuilt_from_its_last_snapshot() {
    let server = Server::start(vec![
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Name: Ada.", "request_heartbeat": true}),
        ),
        say("Hello Ada!"),
        call(
            "archival_memory_insert",
            json!({"content": "Ada grows tomatoes on her balcony.", "request_heartbeat": true}),
        ),
        say("Noted the tomatoes."),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("s.redb");
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "I'm Ada.").await;
    chat(&mut h, "I grow tomatoes.").await;
    shutdown(h).await;
    assert!(damage_agent_record(&path) >= 1);

    let run = |args: &[&str]| memscope_on(home.path(), &path, args);
    // `check` names the record.
    let (code, out, _) = run(&["check"]);
    assert_eq!(code, 1);
    assert!(
        String::from_utf8_lossy(&out).contains("table agents"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // `dump` shows all that is readable: the messages and the passage.
    let (code, out, err) = run(&["dump", "--json"]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rebuilt from the snapshot of step"), "{err}");
    for text in ["Hello Ada!", "Noted the tomatoes.", "Name: Ada."] {
        assert!(out.contains(text), "dump shows {text:?}: {out}");
    }
    // The repair keeps the agent, with its memory as of its last snapshot.
    let (code, out, err) = run(&["check", "--repair"]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("agent 'default': rebuilt from the snapshot of step 4"),
        "{out}"
    );
    let (_, list, _) = run(&["agents", "list"]);
    assert!(String::from_utf8_lossy(&list).contains("default"));
    let (code, out, err) = run(&["dump", "--json"]);
    assert_eq!(code, 0, "{err}");
    let dumped: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let s = dumped.to_string();
    for text in ["Hello Ada!", "Ada grows tomatoes", "Name: Ada."] {
        assert!(s.contains(text), "after the repair: {text:?}");
    }
    let (code, out, _) = run(&["check"]);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    // The agent goes on: a new message takes a fresh id.
    let store = Store::open(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    assert_eq!(state.archival_count, 1);
    assert!(state.recall_count >= 8, "{}", state.recall_count);
    assert!(state.next_message_id > state.recall_count);
}

#[tokio::test]
async fn a_message_saved_with_no_model_is_answered_after_a_restart_with_one() {
    let (_d, path) = temp_store();
    {
        let mut h = memscope::engine::spawn(open_agent(&path, 8192), None);
        h.commands
            .send(memscope::engine::Command::UserMessage(
                "Are you there?".into(),
            ))
            .unwrap();
        let ev = until(&mut h.events, chain_ended).await;
        assert_eq!(errors(&ev), ["no_model"]);
        shutdown(h).await;
    }
    let server = Server::start(vec![say("Yes, here now.")]).await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    // Nothing is typed: the saved message is answered on its own.
    let ev = until(&mut h.events, chain_ended).await;
    assert_eq!(said(&ev), ["Yes, here now."]);
    let asked = server.step_requests();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].to_string().contains("Are you there?"));
    shutdown(h).await;
    // And only once: a later session has nothing waiting.
    let server = Server::start(vec![]).await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    server.push(say("Hello again."));
    let ev = chat(&mut h, "Still there?").await;
    assert_eq!(said(&ev), ["Hello again."]);
    assert_eq!(server.step_requests().len(), 1);
    shutdown(h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_offers_none_of_the_writers_keys_while_the_writer_is_paused() {
    use memscope::engine::{Event, EventKind, Trigger};
    let (_d, path) = temp_store();
    drop(open_agent(&path, 8192));
    let store = std::sync::Arc::new(Store::open_read_only(&path).unwrap());
    let agent = memscope::engine::Agent::open(store.clone(), "default", settings(8192)).unwrap();
    let app = memscope::tui::initial_app(
        &agent,
        None,
        memscope::tui::theme::Theme::default_theme(),
        memscope::tui::keymap::Keymap::default(),
        true,
    );
    let mut rt = Runtime::new(
        ratatui::Terminal::new(TestBackend::new(120, 35)).unwrap(),
        app,
        store,
        "default".into(),
        None,
        None,
    );
    rt.apply(AppEvent::Engine(Event {
        step: 1,
        time: chrono::Utc::now(),
        kind: EventKind::Paused {
            trigger: Trigger::UserMessage,
            budget: Default::default(),
        },
    }));
    rt.draw().unwrap();
    let s = screen(&rt);
    assert!(s.contains("the writer is paused"), "{s}");
    assert!(!s.contains("n step") && !s.contains("c continue"), "{s}");
    // `n` does not pretend to step the writer.
    press(&mut rt, KeyCode::Char('n'));
    assert!(matches!(rt.app.run, RunState::Paused { .. }));
    assert!(screen(&rt).contains("watch mode is read-only"));
    // Help lists only what a watcher can do.
    press(&mut rt, KeyCode::Char('?'));
    // The pop-up's own lines (the status bar may still say why `n` did nothing).
    let help: String = screen(&rt)
        .lines()
        .filter(|l| l.contains('║'))
        .collect::<Vec<_>>()
        .join("\n");
    for writer in ["step mode", "continue", "retry", "edit"] {
        assert!(
            !help.to_lowercase().contains(writer),
            "help offers {writer:?}: {help}"
        );
    }
    assert!(help.contains("quit"), "{help}");
}

#[tokio::test]
async fn an_export_is_private_and_keeps_what_was_said_apart_from_the_thought() {
    let server = Server::start(vec![think_call(
        "The user greets me; answer warmly.",
        "send_message",
        json!({"message": "Hello there, Ada!"}),
    )])
    .await;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("s.redb");
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "Hi, I'm Ada.").await;
    shutdown(h).await;
    let file = home.path().join("ada.md");
    let (code, _, err) = memscope_on(
        home.path(),
        &path,
        &["export", "--format", "md", "--out", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "an export holds the whole memory");
    }
    let md = std::fs::read_to_string(&file).unwrap();
    let thought = md
        .split("<summary>inner thought</summary>")
        .nth(1)
        .and_then(|rest| rest.split("</details>").next())
        .expect("the thought is folded");
    assert!(thought.contains("answer warmly"), "{thought}");
    assert!(!thought.contains("Hello there"), "{thought}");
    assert!(
        md.contains("**Agent**") && md.contains("Hello there, Ada!"),
        "{md}"
    );
    // dump says which is which too.
    let (_, out, _) = memscope_on(home.path(), &path, &["dump"]);
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("thought: The user greets me; answer warmly. · said: Hello there, Ada!"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tui_session_leaves_its_model_calls_in_the_log() {
    let server = Server::start(vec![say("Logged reply.")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let t = common::tmux::Tmux::start(
        &common::tmux::tui_command(&store, &server.base_url),
        home.path(),
    );
    t.wait_for("Enter send").await;
    t.text("hello log");
    t.keys(&["Enter"]);
    t.wait_for("Logged reply.").await;
    t.keys(&["C-c"]);
    t.wait_for("MEMSCOPE-EXITED-0").await;
    let log = std::fs::read_to_string(home.path().join("state/memscope/memscope.log")).unwrap();
    assert!(log.contains("the TUI opens"), "{log}");
    assert!(
        log.contains("model call") && log.contains("step=1"),
        "{log}"
    );
}

#[tokio::test]
async fn after_a_rewind_the_budget_shows_no_server_count_of_a_prompt_no_longer_sent() {
    let server = Server::start(vec![say("One."), say("Two.")]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "first").await;
    let ev = chat(&mut h, "second").await;
    assert_eq!(last_budget(&ev).server_prompt_tokens, Some(321));
    h.commands
        .send(memscope::engine::Command::Rewind(1))
        .unwrap();
    let ev = until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    assert!(
        ev.iter().any(|k| matches!(k, EventKind::Rewound { .. })),
        "{ev:#?}"
    );
    assert_eq!(last_budget(&ev).server_prompt_tokens, None);
    shutdown(h).await;
}

#[test]
fn completions_into_a_pipe_that_closes_early_end_quietly() {
    use std::process::Stdio;
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "fish", "powershell"] {
        let mut child = memscope_cmd(home.path())
            .args(["completions", shell])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away at once, as `| head -1` does after its line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{shell}: {err}");
        assert!(!err.contains("panicked"), "{shell}: {err}");
    }
}

#[tokio::test]
async fn flags_that_do_nothing_are_refused_and_migrate_takes_agent_as_name() {
    let server = Server::start(vec![say("In a."), say("In b.")]).await;
    let home = tempfile::tempdir().unwrap();
    let from = home.path().join("from.redb");
    for (agent, text) in [("a", "hello a"), ("b", "hello b")] {
        let store = Store::open(&from).unwrap();
        let mut h = start(
            memscope::engine::Agent::open(store, agent, settings(8192)).unwrap(),
            &server,
        )
        .await;
        chat(&mut h, text).await;
        shutdown(h).await;
    }
    let run = |args: &[&str]| {
        let out = memscope_cmd(home.path()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let store = from.to_str().unwrap();
    for args in [
        &["--model", "x", "steps", "--store", store, "--agent", "a"][..],
        &[
            "--base-url",
            "http://127.0.0.1:9/v1",
            "watch",
            "--store",
            store,
        ][..],
        &["--theme", "light", "dump", "--store", store, "--agent", "a"][..],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(2), "{args:?} is refused: {err}");
        assert!(
            err.contains("leave"),
            "{args:?} says what to leave out: {err}"
        );
        assert!(!err.contains("  "), "one space between words: {err}");
    }
    // `--agent NAME` copies that agent alone.
    let to = home.path().join("to.redb");
    let (code, _, err) = run(&[
        "migrate",
        "--from",
        store,
        "--to",
        to.to_str().unwrap(),
        "--agent",
        "b",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let names: Vec<String> = Store::open(&to)
        .unwrap()
        .agents()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["b"]);
}

#[tokio::test]
async fn archival_insert_keeps_the_window_the_agent_last_ran_with() {
    let server = Server::start(vec![say("Noted.")]).await;
    server.set_models(json!({"object": "list", "data": [
        {"id": "scripted-model", "object": "model", "max_model_len": 8192}
    ]}));
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("s.redb");
    {
        let mut settings = settings(128_000);
        settings.window_source = memscope::engine::WindowSource::ModelTable;
        let store = Store::open(&path).unwrap();
        let agent = memscope::engine::Agent::open(store, "default", settings).unwrap();
        let mut h = start(agent, &server).await;
        chat(&mut h, "hi").await;
        shutdown(h).await;
    }
    let window = || {
        Store::open(&path)
            .unwrap()
            .load_agent("default")
            .unwrap()
            .unwrap()
            .window
            .unwrap()
    };
    assert_eq!(window().tokens, 8192, "the server stated its window");
    let (code, _, err) = memscope_on(home.path(), &path, &["archival", "insert", "A fact."]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (window().tokens, window().source),
        (8192, "server".to_string())
    );
    let (_, out, _) = memscope_on(home.path(), &path, &["dump"]);
    assert!(String::from_utf8_lossy(&out).contains("/8192 tokens"));
}

#[test]
fn an_older_letta_file_brings_its_conversation_into_context_without_its_system_prompt() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/letta_legacy.af");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    // As older Letta exports have it: the compiled system prompt as the first message, the
    // context holding only that, and functions that returned nothing saying "None".
    let system = doc["system"].as_str().unwrap().to_string();
    doc["messages"][0]["text"] = json!(format!("{system}\n\n### Memory [last modified: …]"));
    doc["messages"][0]["content"] =
        json!([{"type": "text", "text": format!("{system}\n\n### Memory [last modified: …]")}]);
    doc["messages"][2]["content"] = json!([{"type": "text",
        "text": "{\"status\": \"OK\", \"message\": \"None\", \"time\": \"2025-01-20 06:53:32 AM\"}"}]);
    doc["in_context_message_indices"] = json!([0]);
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("old.af");
    std::fs::write(&file, doc.to_string()).unwrap();
    let store = home.path().join("s.redb");
    let (code, out, err) = memscope_on(home.path(), &store, &["import", file.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 core blocks, 4 messages (4 in context)"),
        "the prompt is not a message, the conversation is in context: {out}"
    );
    assert!(
        out.contains("its newest 4 messages were put in the queue"),
        "{out}"
    );
    assert!(out.contains("system prompt was left out"), "{out}");
    let (_, dump, _) = memscope_on(home.path(), &store, &["dump", "--agent", "old-friend"]);
    let dump = String::from_utf8_lossy(&dump);
    assert!(
        dump.contains("ToolResult: OK") && !dump.contains("OK: None"),
        "{dump}"
    );
    assert!(!dump.contains("You are MemGPT"), "{dump}");
    // The window the file gives the agent, until it runs somewhere.
    assert!(dump.contains("/8192 tokens"), "{dump}");
}

#[tokio::test]
async fn one_request_has_one_size_in_the_budget_the_meter_and_the_steps_list() {
    let server = Server::start(vec![say("Sized.")]).await;
    // Counted by the server's own tokenizer, as on llama.cpp: the sections are counted one by
    // one, and the request was once given three different sizes.
    server.set_tokenizer(Some(Tokenize::LlamaCpp));
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 8192), &server).await;
    h.commands
        .send(memscope::engine::Command::SetStepMode(true))
        .unwrap();
    h.commands
        .send(memscope::engine::Command::UserMessage("How big?".into()))
        .unwrap();
    let ev = until(&mut h.events, |k| matches!(k, EventKind::Paused { .. })).await;
    let Some(EventKind::Paused { budget, .. }) = ev.last() else {
        unreachable!()
    };
    let shown = budget.total;
    h.commands.send(memscope::engine::Command::Step).unwrap();
    let ev = until(&mut h.events, chain_ended).await;
    let meter = last_budget(&ev).cache.unwrap().last.prompt_tokens;
    shutdown(h).await;
    assert_eq!(
        meter, shown,
        "the meter gives the budget's size of the request"
    );
    let store = Store::open(&path).unwrap();
    let rows = memscope::engine::history::view::rows(&store, "default", None, 10).unwrap();
    assert_eq!(
        rows[0].prompt_tokens,
        Some(shown),
        "and so does the steps list"
    );
}
