//! One transcript: what a live TUI showed, what it shows again from history after a restart,
//! and what `watch` shows from the store, entry for entry and row for row, through a session
//! with a failed function, repaired arguments, a manual edit, a flush and a failed
//! send_message.

mod common;

use std::sync::Arc;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::engine::{self, Agent, Status};
use memscope::store::Store;
use memscope::tui::app::{AppEvent, LogEntry, Modal, RunState};
use memscope::tui::convo::{Entry, EntryKind};
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::{Runtime, initial_app};

type Rt = Runtime<TestBackend>;

fn app(
    agent: &Agent,
    client: Option<&memscope::model::ClientConfig>,
    read_only: bool,
) -> memscope::tui::app::App {
    initial_app(
        agent,
        client,
        Theme::default_theme(),
        Keymap::default(),
        read_only,
    )
}

fn runtime(
    app: memscope::tui::app::App,
    store: Arc<Store>,
    engine: Option<engine::EngineHandle>,
) -> Rt {
    let mut rt = Runtime::new(
        Terminal::new(TestBackend::new(120, 35)).unwrap(),
        app,
        store,
        "default".into(),
        engine,
        None,
    );
    rt.draw().unwrap();
    rt
}

fn key(rt: &mut Rt, code: KeyCode, mods: KeyModifiers) {
    rt.apply(AppEvent::Key(KeyEvent::new(code, mods)));
}

/// Types a message and waits for its chain to end with the agent saying `reply`.
async fn send(rt: &mut Rt, text: &str, reply: &str) {
    for c in text.chars() {
        key(rt, KeyCode::Char(c), KeyModifiers::NONE);
    }
    key(rt, KeyCode::Enter, KeyModifiers::NONE);
    rt.until(|a| {
        a.run == RunState::Idle
            && a.convo
                .entries
                .last()
                .is_some_and(|e| e.kind == EntryKind::Agent && e.text == reply)
    })
    .await
    .unwrap();
}

/// Entries as they compare: what they show (an entry's expansion is a view setting).
fn shown(entries: &[Entry]) -> Vec<(EntryKind, String)> {
    entries
        .iter()
        .map(|e| (e.kind.clone(), e.text.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn history_and_watch_show_exactly_what_the_live_tui_showed() {
    let server = Server::start(vec![
        // A failed function: the block holds no such text.
        call(
            "core_memory_replace",
            json!({"name": "human", "old_content": "no such text", "new_content": "x", "request_heartbeat": false}),
        ),
        // Arguments that need repair: a code fence, single quotes, \u escapes.
        call_raw(
            "core_memory_append",
            "```json\n{'name': 'human', 'content': 'Name: Ada, likes \\u65e5\\u672c tea', 'request_heartbeat': true}\n```",
        ),
        // A failed send_message: nothing to say.
        call("send_message", json!({"message": "   "})),
        say("Hello Ada!"),
    ])
    .await;
    let (_d, path) = temp_store();

    // Live.
    let live = {
        let store = Arc::new(Store::open(&path).unwrap());
        let agent = Agent::open(store.clone(), "default", settings(8192)).unwrap();
        let client = client(&server);
        let live_app = app(&agent, Some(client.config()), false);
        let mut rt = runtime(live_app, store, Some(engine::spawn(agent, Some(client))));
        rt.start();
        rt.until(|a| a.budget.total > 0).await.unwrap();
        send(&mut rt, "I'm Ada", "Hello Ada!").await;

        // A manual edit of the persona block.
        key(&mut rt, KeyCode::Esc, KeyModifiers::NONE);
        key(&mut rt, KeyCode::Char('3'), KeyModifiers::NONE);
        key(&mut rt, KeyCode::Char('e'), KeyModifiers::NONE);
        assert!(matches!(rt.app.modal, Some(Modal::EditCore { .. })));
        for c in " Speaks briefly.".chars() {
            key(&mut rt, KeyCode::Char(c), KeyModifiers::NONE);
        }
        key(&mut rt, KeyCode::Char('s'), KeyModifiers::CONTROL);
        rt.until(|a| a.log.iter().any(|l| l.manual)).await.unwrap();
        key(&mut rt, KeyCode::Char('i'), KeyModifiers::NONE);

        // The server refuses the prompt as too long: a flush, then the same step again.
        server.push(Reply::Http(
            400,
            r#"{"error":{"message":"This model's maximum context length is 4096 tokens","code":"context_length_exceeded"}}"#.into(),
            vec![],
        ));
        server.push(say("After the flush."));
        send(&mut rt, "one more thing", "After the flush.").await;
        let entries = rt.app.convo.entries.clone();
        let log: Vec<LogEntry> = rt.app.log.clone();
        rt.shutdown().await.unwrap();
        (entries, log)
    };
    let (live_entries, live_log) = &live;

    // The session had everything it should.
    let kinds: Vec<&EntryKind> = live_entries.iter().map(|e| &e.kind).collect();
    assert!(kinds.contains(&&EntryKind::System("summary")), "{kinds:?}");
    assert!(
        live_entries
            .iter()
            .any(|e| e.kind == EntryKind::System("warning")
                && e.text.starts_with("context_overflow")),
        "{live_entries:#?}"
    );
    let said: Vec<&str> = live_entries
        .iter()
        .filter(|e| e.kind == EntryKind::Agent)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        said,
        ["Hello Ada!", "After the flush."],
        "the failed send_message said nothing"
    );
    let failed: Vec<&str> = live_log
        .iter()
        .filter(|l| l.status == Some(Status::Failed))
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(
        failed,
        ["core_memory_replace", "send_message"],
        "{live_log:#?}"
    );
    let repaired = live_log
        .iter()
        .find(|l| l.name == "core_memory_append")
        .unwrap();
    assert!(!repaired.repairs.is_empty(), "{repaired:?}");
    assert!(
        repaired.args.contains("日本"),
        "the arguments as they were read: {}",
        repaired.args
    );
    assert!(live_log.iter().any(|l| l.manual));
    assert!(
        live_log
            .iter()
            .filter(|l| !l.call_id.is_empty())
            .all(|l| l.duration_ms.is_some()),
        "{live_log:#?}"
    );

    // The core edit broke the prompt prefix: the log says where.
    assert!(
        live_log
            .iter()
            .any(|l| l.name == "cache break" && l.args == "core memory <human>"),
        "{live_log:#?}"
    );

    // History after a restart.
    {
        let store = Arc::new(Store::open(&path).unwrap());
        let agent = Agent::open(store.clone(), "default", settings(8192)).unwrap();
        let mut rt = runtime(app(&agent, None, false), store, None);
        rt.start();
        rt.until(|a| !a.convo.entries.is_empty()).await.unwrap();
        assert_eq!(shown(&rt.app.convo.entries), shown(live_entries));
        assert_eq!(&rt.app.log, live_log);
        rt.shutdown().await.unwrap();
    }

    // Watch: the same entries, read from the store as another process's watcher reads them.
    {
        let store = Arc::new(Store::open_read_only(&path).unwrap());
        let agent = Agent::open(store.clone(), "default", settings(8192)).unwrap();
        let mut rt = runtime(app(&agent, None, true), store.clone(), None);
        tokio::spawn(memscope::tui::watch::follow(
            store,
            "default".into(),
            settings(8192),
            1,
            rt.feed(),
        ));
        let want = live_entries.len();
        rt.until(|a| a.convo.entries.len() >= want).await.unwrap();
        assert_eq!(shown(&rt.app.convo.entries), shown(live_entries));
        assert_eq!(&rt.app.log, live_log);
        assert_eq!(rt.app.run, RunState::Idle, "the chain ended");
        assert_eq!(
            rt.app.log_selected,
            rt.app.log.len() - 1,
            "the function log follows the newest row"
        );
    }
}
