//! Memory in and out from inside the TUI, over a real store and a scripted model on
//! 127.0.0.1: copying (the OSC 52 bytes written to the terminal, decoded), giving the mouse to
//! the terminal, `/export` to a file with the key redacted, and `/load` with its progress in
//! the status bar and its passages in the archival pane.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::engine::{Event, EventKind};
use memscope::tui::Runtime;
use memscope::tui::app::{AppEvent, Focus, RunState};
use memscope::tui::control::Control;

type Rt = Runtime<TestBackend>;

/// What memscope wrote to "the terminal" besides frames.
#[derive(Clone, Default)]
struct Tty(Arc<Mutex<Vec<u8>>>);

impl Write for Tty {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Tty {
    /// Every clipboard text sent with OSC 52, decoded, in order.
    fn copies(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        text.split("\x1b]52;c;")
            .skip(1)
            .map(|rest| {
                let b64 = &rest[..rest.find('\x07').expect("terminated by BEL")];
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap()
            })
            .collect()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn runtime(server: &Server, path: &std::path::Path) -> (Rt, Tty) {
    let c = memscope::model::ModelClient::new(client_config(&server.base_url)).unwrap();
    let mut rt = common::tui::runtime_on(path, Some(c)).await;
    let tty = Tty::default();
    rt.control = Control::to_writer(Box::new(tty.clone()));
    (rt, tty)
}

fn screen(rt: &Rt) -> String {
    memscope::tui::view::buffer_text(rt.terminal.backend().buffer())
}

fn press(rt: &mut Rt, code: KeyCode) {
    rt.apply(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    rt.draw().unwrap();
}

/// Types a line into the input box (focusing it first) and sends it.
fn type_line(rt: &mut Rt, s: &str) {
    if rt.app.focus != Focus::Input {
        press(rt, KeyCode::Char('i'));
    }
    for c in s.chars() {
        press(rt, KeyCode::Char(c));
    }
    press(rt, KeyCode::Enter);
}

async fn chat_once(rt: &mut Rt, text: &str) {
    type_line(rt, text);
    rt.until(|a| {
        a.run == RunState::Idle
            && a.convo
                .entries
                .iter()
                .any(|e| e.kind == memscope::tui::convo::EntryKind::Agent)
    })
    .await
    .unwrap();
    press(rt, KeyCode::Esc);
}

#[tokio::test(flavor = "multi_thread")]
async fn y_copies_what_is_selected_with_osc52() {
    let server = Server::start(vec![
        think_call(
            "Remember the hives.",
            "archival_memory_insert",
            json!({"content": "The hives face south.", "request_heartbeat": true}),
        ),
        say("I'll remember **the hives** face south."),
    ])
    .await;
    let (_d, path) = temp_store();
    let (mut rt, tty) = runtime(&server, &path).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    chat_once(&mut rt, "my hives face south").await;
    rt.until(|a| a.stores.archival.rows.len() == 1)
        .await
        .unwrap();

    // The conversation entry: the agent's reply, as written (Markdown and all).
    press(&mut rt, KeyCode::Char('1'));
    assert_eq!(rt.app.focus, Focus::Conversation);
    press(&mut rt, KeyCode::Char('y'));
    assert!(screen(&rt).contains("copied the entry"), "{}", screen(&rt));
    // The function-log row, whole.
    press(&mut rt, KeyCode::Char('5'));
    press(&mut rt, KeyCode::Char('g'));
    press(&mut rt, KeyCode::Char('y'));
    // A core block.
    press(&mut rt, KeyCode::Char('3'));
    press(&mut rt, KeyCode::Char('y'));
    // The passage.
    press(&mut rt, KeyCode::Char('4'));
    press(&mut rt, KeyCode::Char('y'));
    // The open detail of a step.
    press(&mut rt, KeyCode::Char('t'));
    rt.until(|a| matches!(&a.modal, Some(memscope::tui::app::Modal::Steps(v)) if v.loaded))
        .await
        .unwrap();
    press(&mut rt, KeyCode::Enter);
    rt.until(|a| {
        matches!(&a.modal, Some(memscope::tui::app::Modal::Steps(v))
            if matches!(v.screen, memscope::tui::app::StepsScreen::Detail { .. }))
    })
    .await
    .unwrap();
    press(&mut rt, KeyCode::Char('y'));

    let copies = tty.copies();
    assert_eq!(copies.len(), 5, "{copies:#?}");
    assert_eq!(copies[0], "I'll remember **the hives** face south.");
    assert!(
        copies[1].contains("archival_memory_insert")
            && copies[1].contains("The hives face south.")
            && copies[1].contains("result: OK"),
        "{}",
        copies[1]
    );
    assert_eq!(copies[2], rt.app.core[rt.app.core_selected].value);
    assert_eq!(copies[3], "The hives face south.");
    assert!(copies[4].contains("step 2"), "{}", copies[4]);
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn m_gives_the_mouse_to_the_terminal_and_takes_it_back() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let (mut rt, tty) = runtime(&server, &path).await;
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('m'));
    // Mouse reporting off (the terminal's own selection works) ...
    assert!(tty.text().contains("\x1b[?1000l"), "{:?}", tty.text());
    assert!(screen(&rt).contains("MOUSE FREE"), "{}", screen(&rt));
    press(&mut rt, KeyCode::Char('m'));
    // ... and on again.
    assert!(tty.text().contains("\x1b[?1000h"), "{:?}", tty.text());
    assert!(!screen(&rt).contains("MOUSE FREE"));
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn slash_export_writes_a_file_without_the_key() {
    let server = Server::start(vec![say("Your key sk-test-secret-9876 is safe with me.")]).await;
    let (_d, path) = temp_store();
    let out = tempfile::tempdir().unwrap();
    let (mut rt, _tty) = runtime(&server, &path).await;
    rt.jobs.secret = Some("sk-test-secret-9876".into());
    rt.until(|a| a.budget.total > 0).await.unwrap();
    chat_once(&mut rt, "my key is sk-test-secret-9876").await;
    for (format, name) in [("md", "a.md"), ("json", "a.json"), ("af", "a.af")] {
        let file = out.path().join(name);
        type_line(&mut rt, &format!("/export {format} {}", file.display()));
        rt.until(|a| {
            a.notice
                .as_deref()
                .is_some_and(|n| n.starts_with("exported"))
        })
        .await
        .unwrap();
        press(&mut rt, KeyCode::Esc);
        rt.app.notice = None;
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("is safe with me"), "{format}: {text}");
        assert!(
            !text.contains("sk-test-secret-9876"),
            "{format} holds the key"
        );
        assert!(text.contains("[redacted]"), "{format}");
    }
    // A format that does not exist is refused in the status bar, and nothing is written.
    type_line(&mut rt, "/export pdf x.pdf");
    assert!(screen(&rt).contains("md, json or af"), "{}", screen(&rt));
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn slash_load_shows_progress_and_the_passages_arrive() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("a.md"),
        "# Bees\n\nThey dance to say where food is.\n",
    )
    .unwrap();
    std::fs::write(docs.path().join("b.pdf"), "%PDF-1.4").unwrap();
    let (mut rt, _tty) = runtime(&server, &path).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();

    // Progress as the engine reports it is in the status bar, with how to stop it.
    rt.apply(AppEvent::Engine(Event {
        step: 0,
        time: chrono::Utc::now(),
        kind: EventKind::LoadProgress(memscope::transfer::load::Progress {
            files: 10,
            files_done: 3,
            passages: 42,
            current: Some("notes/plan.md".into()),
            ..Default::default()
        }),
    }));
    rt.draw().unwrap();
    let s = screen(&rt);
    assert!(
        s.contains("loading 3/10 files · 42 passages · notes/plan.md · Ctrl-x stops"),
        "{s}"
    );
    rt.app.loading = None;

    type_line(&mut rt, &format!("/load {}", docs.path().display()));
    rt.until(|a| a.notice.as_deref().is_some_and(|n| n.starts_with("loaded")))
        .await
        .unwrap();
    rt.until(|a| a.stores.archival.rows.len() == 1)
        .await
        .unwrap();
    let row = &rt.app.stores.archival.rows[0];
    assert_eq!(row.tag, "document");
    assert!(
        row.origin.as_deref().unwrap().contains("a.md:1-3 (1/1)"),
        "{row:?}"
    );
    assert!(rt.app.loading.is_none());
    // The skipped PDF is in the function log with its reason.
    assert!(
        rt.app
            .log
            .iter()
            .any(|l| l.name == "load" && l.message.contains("PDF is not supported")),
        "{:?}",
        rt.app.log
    );
    // The passage's detail says where it came from.
    press(&mut rt, KeyCode::Esc);
    press(&mut rt, KeyCode::Char('4'));
    press(&mut rt, KeyCode::Enter);
    assert!(screen(&rt).contains("from "), "{}", screen(&rt));
    rt.shutdown().await.unwrap();
}
