//! The whole TUI driven by synthetic key events against a scripted model over real HTTP on
//! 127.0.0.1, with a real redb store; assertions on the app's state and on the screen.

mod common;

use std::sync::Arc;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::engine::Agent;
use memscope::store::Store;
use memscope::tui::app::{AppEvent, Focus, Modal, RunState, StoreTab};
use memscope::tui::convo::EntryKind;
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::{Runtime, initial_app};

type Rt = Runtime<TestBackend>;

async fn runtime(server: &Server, path: &std::path::Path) -> Rt {
    runtime_with(server, path, None).await
}

async fn runtime_with(
    server: &Server,
    path: &std::path::Path,
    embedding_model: Option<&str>,
) -> Rt {
    let c = memscope::model::ModelClient::new(memscope::model::ClientConfig {
        embedding_model: embedding_model.map(String::from),
        ..client_config(&server.base_url)
    })
    .unwrap();
    common::tui::runtime_on(path, Some(c)).await
}

fn screen(rt: &Rt) -> String {
    memscope::tui::view::buffer_text(rt.terminal.backend().buffer())
}

fn press(rt: &mut Rt, code: KeyCode) -> bool {
    let go = rt.apply(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    rt.draw().unwrap();
    go
}

fn ctrl(rt: &mut Rt, c: char) -> bool {
    let go = rt.apply(AppEvent::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
    rt.draw().unwrap();
    go
}

fn type_text(rt: &mut Rt, s: &str) {
    for c in s.chars() {
        press(rt, KeyCode::Char(c));
    }
}

fn idle(app: &memscope::tui::app::App) -> bool {
    app.run == RunState::Idle
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_a_message_shows_the_reply_the_call_and_the_budget() {
    let server = Server::start(vec![
        think_call(
            "Save the name.",
            "core_memory_append",
            json!({"name": "human", "content": "Name: Ada", "request_heartbeat": true}),
        ),
        say("Hello Ada!"),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    let before = rt.app.budget.core_memory;
    type_text(&mut rt, "I'm Ada");
    assert!(
        screen(&rt).contains("I'm Ada"),
        "the input box shows what is typed"
    );
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.convo.entries.iter().any(|e| e.kind == EntryKind::Agent))
        .await
        .unwrap();
    rt.until(idle).await.unwrap();
    let s = screen(&rt);
    assert!(s.contains("you › I'm Ada"), "{s}");
    assert!(s.contains("agent › Hello Ada!"), "{s}");
    assert!(s.contains("thinks · Save the name."));
    assert!(
        s.contains("core_memory_append") && s.contains("♥"),
        "function log with heartbeat: {s}"
    );
    assert!(s.contains("Name: Ada"), "core memory pane updated: {s}");
    assert!(rt.app.budget.core_memory > before);
    assert_eq!(rt.app.budget.server_prompt_tokens, Some(321));
    assert!(rt.app.input.is_empty());
    // Up recalls the earlier input when the box is empty; Down clears it again.
    press(&mut rt, KeyCode::Up);
    assert_eq!(rt.app.input.lines().join("\n"), "I'm Ada");
    press(&mut rt, KeyCode::Down);
    assert!(rt.app.input.is_empty());
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_found_after_start_is_connected_with_its_presets_settings() {
    let server = Server::start(vec![say("Found you.")]).await;
    let (_d, path) = temp_store();
    let mut rt = common::tui::runtime_on(&path, None).await;
    // What the background probe sends when the llama.cpp preset's port answers.
    let provider = memscope::providers::find("llamacpp").unwrap();
    let mut cfg = memscope::config::resolve(
        &memscope::config::CommonArgs {
            config: Some("/dev/null".into()),
            ..Default::default()
        },
        &Default::default(),
        &|_| None,
    )
    .unwrap();
    cfg.use_found(provider, &server.base_url);
    rt.apply(AppEvent::Loaded(memscope::tui::app::Loaded::Found {
        provider,
        config: cfg.client.unwrap(),
    }));
    rt.draw().unwrap();
    let s = screen(&rt);
    assert!(s.contains("connected to the llama.cpp server"), "{s}");
    type_text(&mut rt, "hello?");
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.convo.entries.iter().any(|e| e.kind == EntryKind::Agent))
        .await
        .unwrap();
    assert!(screen(&rt).contains("agent › Found you."));
    rt.shutdown().await.unwrap();
    // The preset streams and asks for usage in the stream; the engine heard both.
    let req = &server.step_requests()[0];
    assert_eq!(req["stream"], true);
    assert_eq!(req["stream_options"]["include_usage"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn step_mode_pauses_before_each_call_and_steps_one_at_a_time() {
    let server = Server::start(vec![
        call(
            "archival_memory_search",
            json!({"query": "tea", "request_heartbeat": true}),
        ),
        call(
            "core_memory_append",
            json!({"name": "nope", "content": "x", "request_heartbeat": false}),
        ),
        say("Done."),
    ])
    .await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('s'));
    assert!(rt.app.step_mode);
    press(&mut rt, KeyCode::Char('i'));
    type_text(&mut rt, "What do I like?");
    press(&mut rt, KeyCode::Enter);
    press(&mut rt, KeyCode::Esc);
    let expected = [
        "the user's message",
        "a heartbeat because archival_memory_search requested one",
        "a heartbeat after core_memory_append failed",
    ];
    for (i, want) in expected.iter().enumerate() {
        rt.until(|a| matches!(a.run, RunState::Paused { .. }))
            .await
            .unwrap();
        let s = screen(&rt);
        assert!(s.contains("⏸ paused") && s.contains(want), "pause {i}: {s}");
        assert_eq!(server.step_requests().len(), i, "no call runs while paused");
        press(&mut rt, KeyCode::Char('n'));
    }
    rt.until(|a| a.convo.entries.iter().any(|e| e.kind == EntryKind::Agent))
        .await
        .unwrap();
    rt.until(idle).await.unwrap();
    assert_eq!(server.step_requests().len(), 3);
    assert!(screen(&rt).contains("agent › Done."));
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_a_core_block_saves_to_the_store_moves_the_budget_and_logs_it() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    let before = rt.app.budget.clone();
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('3'));
    press(&mut rt, KeyCode::Down);
    press(&mut rt, KeyCode::Char('e'));
    assert!(matches!(rt.app.modal, Some(Modal::EditCore { ref label, .. }) if label == "human"));
    type_text(&mut rt, " Loves green tea and long walks by the river.");
    assert!(screen(&rt).contains("Edit human ·"), "{}", screen(&rt));
    ctrl(&mut rt, 's');
    rt.until(|a| a.core[1].value.contains("Loves green tea"))
        .await
        .unwrap();
    rt.until(|a| a.budget.core_memory != before.core_memory)
        .await
        .unwrap();
    assert!(rt.app.budget.total > before.total);
    let s = screen(&rt);
    assert!(
        s.contains("edit human") && s.contains("(manual edit in memscope)"),
        "{s}"
    );
    // Esc cancels without saving.
    press(&mut rt, KeyCode::Char('e'));
    type_text(&mut rt, "DISCARD");
    press(&mut rt, KeyCode::Esc);
    assert!(rt.app.modal.is_none());
    rt.shutdown().await.unwrap();
    let state = Store::open_read_only(&path)
        .unwrap()
        .load_agent("default")
        .unwrap()
        .unwrap();
    let human = &state.core.get("human").unwrap().value;
    assert!(
        human.ends_with("Loves green tea and long walks by the river.")
            && !human.contains("DISCARD")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_x_interrupts_a_call_in_flight_esc_does_not_and_the_message_stays() {
    let server = Server::start(vec![Reply::Hang, say("second try")]).await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    type_text(&mut rt, "hello?");
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| matches!(a.run, RunState::Waiting { .. }))
        .await
        .unwrap();
    assert!(screen(&rt).contains("waiting for the model"));
    assert!(screen(&rt).contains("Ctrl-x interrupts"), "{}", screen(&rt));
    // Esc leaves the input box, as its hint says, and interrupts nothing.
    press(&mut rt, KeyCode::Esc);
    assert_eq!(rt.app.focus, Focus::Conversation);
    assert!(matches!(rt.app.run, RunState::Waiting { .. }));
    press(&mut rt, KeyCode::Char('i'));
    ctrl(&mut rt, 'x');
    rt.until(|a| idle(a) && a.notice.is_some()).await.unwrap();
    assert!(
        rt.app.error.is_none(),
        "an interrupt is not shown as an error"
    );
    assert!(screen(&rt).contains("[interrupted]"), "{}", screen(&rt));
    // Interrupted from the input box, it is still there to type in.
    assert_eq!(rt.app.focus, Focus::Input);
    type_text(&mut rt, "again");
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.convo.entries.iter().any(|e| e.kind == EntryKind::Agent))
        .await
        .unwrap();
    rt.shutdown().await.unwrap();
    let recall = Store::open_read_only(&path)
        .unwrap()
        .recall("default")
        .unwrap();
    assert!(recall.iter().any(|m| m.text == "hello?"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_pane_inserts_searches_reads_and_deletes_passages() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('4'));
    assert_eq!(rt.app.focus, Focus::Stores);
    for text in [
        "The spare key is under the blue flowerpot.",
        "Dentist on Friday at 3pm.",
    ] {
        press(&mut rt, KeyCode::Char('a'));
        type_text(&mut rt, text);
        ctrl(&mut rt, 's');
        let t = text.to_string();
        rt.until(move |a| a.stores.archival.rows.iter().any(|r| r.text == t))
            .await
            .unwrap();
    }
    assert!(screen(&rt).contains("Archival (2)"));
    press(&mut rt, KeyCode::Char('/'));
    type_text(&mut rt, "where is the key");
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.stores.search.is_some()).await.unwrap();
    let s = screen(&rt);
    assert!(s.contains("/where is the key · 1 found"), "{s}");
    press(&mut rt, KeyCode::Enter);
    assert!(screen(&rt).contains("Passage #1"), "{}", screen(&rt));
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('d'));
    assert!(screen(&rt).contains("Delete passage #1?"));
    press(&mut rt, KeyCode::Char('y'));
    rt.until(|a| a.stores.archival.rows.len() == 1)
        .await
        .unwrap();
    press(&mut rt, KeyCode::Esc);
    // The recall tab lists what was said, newest first.
    press(&mut rt, KeyCode::Right);
    assert_eq!(rt.app.stores.tab, StoreTab::Recall);
    rt.shutdown().await.unwrap();
    let passages = Store::open_read_only(&path)
        .unwrap()
        .archival("default")
        .unwrap();
    assert_eq!(passages.len(), 1);
    assert!(passages[0].text.starts_with("Dentist"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passage_added_by_hand_is_embedded_with_the_configured_model() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut rt = runtime_with(&server, &path, Some("test-embed")).await;
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('4'));
    press(&mut rt, KeyCode::Char('a'));
    let text = "The spare key is under the blue flowerpot.";
    type_text(&mut rt, text);
    ctrl(&mut rt, 's');
    rt.until(move |a| a.stores.archival.rows.iter().any(|r| r.text == text))
        .await
        .unwrap();
    rt.shutdown().await.unwrap();
    let passages = Store::open_read_only(&path)
        .unwrap()
        .archival("default")
        .unwrap();
    assert_eq!(passages.len(), 1);
    assert_eq!(passages[0].embedding_model.as_deref(), Some("test-embed"));
    assert_eq!(passages[0].embedding.as_ref(), Some(&bag_of_words(text)));
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_shown_after_a_restart_and_q_quits() {
    let server = Server::start(vec![say("Remembered.")]).await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    type_text(&mut rt, "remember the violin");
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.convo.entries.iter().any(|e| e.kind == EntryKind::Agent))
        .await
        .unwrap();
    rt.until(idle).await.unwrap();
    assert!(!ctrl(&mut rt, 'c'), "Ctrl-C quits from the input box");
    rt.shutdown().await.unwrap();

    let mut rt = runtime(&server, &path).await;
    rt.until(|a| a.convo.entries.len() >= 3 && !a.log.is_empty())
        .await
        .unwrap();
    let s = screen(&rt);
    assert!(
        s.contains("you › remember the violin") && s.contains("agent › Remembered."),
        "{s}"
    );
    assert!(s.contains("send_message") && s.contains("OK"));
    press(&mut rt, KeyCode::Esc);
    assert!(
        !press(&mut rt, KeyCode::Char('q')),
        "q quits outside the input box"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_mode_follows_a_store_that_another_process_writes() {
    let home = tempfile::tempdir().unwrap();
    watch_follows(home.path(), &home.path().join("w.redb")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_mode_follows_a_postgres_store_that_another_process_writes() {
    let Some(cluster) = common::pg::Cluster::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    watch_follows(home.path(), &cluster.store("watched")).await;
}

async fn watch_follows(home: &std::path::Path, path: &std::path::Path) {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    let server = Server::start(vec![
        say("First reply."),
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Watched fact.", "request_heartbeat": true}),
        ),
        say("Second reply."),
        // The third message's call never comes back: the watcher sees the writer waiting.
        Reply::Hang,
    ])
    .await;
    let mut writer = Command::new(env!("CARGO_BIN_EXE_memscope"))
        .args(["run", "--store"])
        .arg(path)
        .args([
            "--base-url",
            &server.base_url,
            "--model",
            "scripted-model",
            "--context-window",
            "8192",
        ])
        .env("XDG_CONFIG_HOME", home)
        .env("XDG_STATE_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    let (tx, mut chains) = tokio::sync::mpsc::unbounded_channel::<()>();
    let stdout = writer.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("\"chain_ended\"") {
                let _ = tx.send(());
            }
        }
    });
    writeln!(stdin, "hello").unwrap();
    stdin.flush().unwrap();
    chains.recv().await.unwrap();

    // The watcher opens the same store read-only while the writer keeps it open.
    let store = Arc::new(Store::open_read_only(path).unwrap());
    let agent = Agent::open(store.clone(), "default", settings(8192)).unwrap();
    let last = agent.journal_next();
    let app = initial_app(
        &agent,
        None,
        Theme::default_theme(),
        Keymap::default(),
        true,
    );
    let mut rt = Runtime::new(
        Terminal::new(TestBackend::new(120, 35)).unwrap(),
        app,
        store.clone(),
        "default".into(),
        None,
        None,
    );
    tokio::spawn(memscope::tui::watch::follow(
        store,
        "default".into(),
        settings(8192),
        last,
        rt.feed(),
    ));
    rt.draw().unwrap();
    rt.start();
    rt.until(|a| a.convo.entries.iter().any(|e| e.text == "First reply."))
        .await
        .unwrap();

    writeln!(stdin, "remember this").unwrap();
    stdin.flush().unwrap();
    rt.until(|a| a.convo.entries.iter().any(|e| e.text == "Second reply."))
        .await
        .unwrap();
    rt.until(|a| a.core.iter().any(|b| b.value.contains("Watched fact.")))
        .await
        .unwrap();
    let s = screen(&rt);
    assert!(
        s.contains("agent › Second reply.") && s.contains("Watched fact."),
        "{s}"
    );
    assert!(
        s.contains("core_memory_append"),
        "the function log follows too: {s}"
    );
    // Nothing can be changed from a watcher.
    press(&mut rt, KeyCode::Char('3'));
    press(&mut rt, KeyCode::Char('e'));
    assert!(rt.app.modal.is_none());
    assert!(screen(&rt).contains("read-only"));
    let s = screen(&rt);
    assert!(
        !s.contains("step mode") && !s.contains("i input"),
        "no keys that cannot act on a read-only view: {s}"
    );

    // Mid-chain the watcher shows the writer waiting for the model, then the error that ends it.
    writeln!(stdin, "a third message").unwrap();
    stdin.flush().unwrap();
    // Waiting on the third message's call (not still on the second chain's last call, which a
    // watcher can show between two reads of the journal).
    rt.until(|a| {
        matches!(a.run, RunState::Waiting { .. })
            && a.convo.entries.iter().any(|e| e.text == "a third message")
    })
    .await
    .unwrap();
    assert!(screen(&rt).contains("waiting for the model"));
    let ok = Command::new("kill")
        .args(["-TERM", &writer.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    rt.until(|a| a.run == RunState::Idle).await.unwrap();
    assert!(
        rt.app
            .convo
            .entries
            .iter()
            .any(|e| e.kind == EntryKind::System("interrupted")),
        "the writer's error shows in the watcher: {:#?}",
        rt.app
            .convo
            .entries
            .iter()
            .map(|e| (e.kind.clone(), e.text.chars().take(80).collect::<String>()))
            .collect::<Vec<_>>()
    );
    drop(stdin);
    assert!(writer.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_that_stops_on_a_failure_is_reported_and_the_tui_still_quits() {
    let (_d, path) = temp_store();
    let store = Arc::new(Store::open(&path).unwrap());
    let agent = Agent::open(store.clone(), "default", settings(8192)).unwrap();
    let app = initial_app(
        &agent,
        None,
        Theme::default_theme(),
        Keymap::default(),
        false,
    );
    // An engine whose task fails as one with a store it cannot write does.
    let (cmd_tx, mut cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = tokio::sync::mpsc::unbounded_channel::<memscope::engine::Event>();
    let task = tokio::spawn(async move {
        let _ = cmd_rx.recv().await;
        drop(ev_tx);
        Err(memscope::store::StoreError::Db(
            "No space left on device".into(),
        ))
    });
    let handle = memscope::engine::EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    };
    let mut rt = Runtime::new(
        Terminal::new(TestBackend::new(120, 35)).unwrap(),
        app,
        store,
        "default".into(),
        Some(handle),
        None,
    );
    rt.draw().unwrap();
    type_text(&mut rt, "hello");
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.engine_stopped).await.unwrap();
    let s = screen(&rt);
    assert!(s.contains("engine stopped"), "{s}");
    assert!(
        s.contains("No space left on device"),
        "the reason is shown: {s}"
    );
    assert_eq!(rt.app.run, RunState::Idle, "nothing claims to be running");
    // The message the engine never reported saved is back in the input box.
    assert_eq!(rt.app.input.lines(), ["hello"]);
    assert!(
        screen(&rt).contains("back in the input box"),
        "{}",
        screen(&rt)
    );
    // Typing still works, sending says why it cannot.
    type_text(&mut rt, " again");
    press(&mut rt, KeyCode::Enter);
    assert!(
        rt.app
            .notice
            .as_deref()
            .unwrap_or_default()
            .contains("engine has stopped"),
        "{:?}",
        rt.app.notice
    );
    assert!(!ctrl(&mut rt, 'c'), "Ctrl-C quits");
    let end = rt.shutdown().await;
    assert!(
        end.unwrap_err().contains("No space left on device"),
        "the exit reports the failure"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paste_with_cr_line_ends_keeps_its_lines() {
    let server = Server::start(vec![say("got it")]).await;
    let (_d, path) = temp_store();
    let mut rt = runtime(&server, &path).await;
    rt.apply(AppEvent::Paste(
        "first line\rsecond line\r\nthird line".into(),
    ));
    assert_eq!(
        rt.app.input.lines(),
        ["first line", "second line", "third line"],
        "each CR or CR LF is a line break"
    );
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| a.convo.entries.iter().any(|e| e.text == "got it"))
        .await
        .unwrap();
    let user = rt
        .app
        .convo
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::User)
        .unwrap();
    assert_eq!(user.text, "first line\nsecond line\nthird line");
    rt.shutdown().await.unwrap();
}
