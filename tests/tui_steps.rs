//! The steps view in the TUI, over a real store made with the scripted server: the list, a
//! step's detail by section and raw, a diff (insta snapshots), and its keys: fork, rewind,
//! and the history commands typed in the input box.

mod common;

use std::time::Instant;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::engine::Command;
use memscope::engine::history::{diff, view as steps};
use memscope::store::Store;
use memscope::tui::app::{App, AppEvent, AppInit, Effect, Load, Loaded, Modal, StepsScreen};
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::view;

/// Every date and time of day (`2026-12-02`, `14:36:41`) in `s` made one fixed value, so a
/// snapshot of real data stays the same from run to run (widths are unchanged, so is the
/// layout, even where a time is wrapped over two lines).
fn fixed_times(s: &str) -> String {
    let mut out: Vec<char> = s.chars().collect();
    for (shape, fixed) in [("dddd-dd-dd", "2026-01-01"), ("dd:dd:dd", "00:00:00")] {
        let shape: Vec<char> = shape.chars().collect();
        let fixed: Vec<char> = fixed.chars().collect();
        let mut i = 0;
        while i + shape.len() <= out.len() {
            let fits = shape.iter().enumerate().all(|(k, p)| match p {
                'd' => out[i + k].is_ascii_digit(),
                other => out[i + k] == *other,
            });
            if fits {
                out[i..i + shape.len()].copy_from_slice(&fixed);
                i += shape.len();
            } else {
                i += 1;
            }
        }
    }
    out.into_iter().collect()
}

/// A store with three calls: a greeting, a core edit with a heartbeat, and the answer after it.
async fn store_with_steps() -> (tempfile::TempDir, std::path::PathBuf) {
    let server = Server::start(vec![
        say("Hello! I'm glad you're here."),
        think_call(
            "The user likes tea; keep it.",
            "core_memory_append",
            json!({"name": "human", "content": "Likes green tea", "request_heartbeat": true}),
        ),
        say("Noted: green tea."),
    ])
    .await;
    let (dir, path) = temp_store();
    let mut h = start(open_agent(&path, 8000), &server).await;
    chat(&mut h, "hi").await;
    chat(&mut h, "I like green tea").await;
    shutdown(h).await;
    (dir, path)
}

fn app(read_only: bool) -> App {
    App::new(AppInit {
        history_before: 0,
        agent: "default".into(),
        model: Some("scripted-model".into()),
        endpoint: Some("http://127.0.0.1:8080/v1".into()),
        read_only,
        theme: Theme::load("dark", None).unwrap(),
        keymap: Keymap::default(),
        core: vec![],
        budget: Default::default(),
        policy: "native tools · text is thought".into(),
        step: 3,
        now: Instant::now(),
        instructions: memscope::engine::BASE_INSTRUCTIONS.into(),
        instructions_custom: false,
    })
}

fn key(c: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut drawn = view::Drawn::default();
    t.draw(|f| drawn = view::draw(f, app)).unwrap();
    app.layout(drawn);
    fixed_times(&view::buffer_text(t.backend().buffer()))
}

/// Carries out the reads the app asks for against `store`, with latencies fixed.
fn serve(app: &mut App, store: &Store, fx: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for e in fx {
        let loaded = match &e {
            Effect::Load(Load::Steps { before }) => {
                let mut rows = steps::rows(store, "default", *before, 200).unwrap();
                for r in &mut rows {
                    r.model_ms = 12.0;
                }
                Loaded::Steps {
                    before: *before,
                    rows,
                }
            }
            Effect::Load(Load::StepDetail { key }) => {
                let mut d = steps::detail(store, "default", *key).unwrap().unwrap();
                d.row.model_ms = 12.0;
                Loaded::StepDetail(Box::new(d))
            }
            Effect::Load(Load::StepDiff { from, to }) => {
                // Compared with their times fixed: whether two calls fell in the same second
                // is not what the snapshot is about.
                let untimed = |key: u64| {
                    let mut d = steps::detail(store, "default", key).unwrap().unwrap();
                    for s in &mut d.sections {
                        s.text = fixed_times(&s.text);
                    }
                    d
                };
                let (a, b) = (untimed(*from), untimed(*to));
                Loaded::StepDiff(Box::new(diff::diff(&a, &b)))
            }
            _ => {
                rest.push(e);
                continue;
            }
        };
        rest.extend(app.update(AppEvent::Loaded(loaded), Instant::now()));
    }
    rest
}

fn press(app: &mut App, store: &Store, c: KeyCode) -> Vec<Effect> {
    let fx = app.update(key(c), Instant::now());
    serve(app, store, fx)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_steps_view_lists_calls_opens_one_and_diffs_it() {
    let (_dir, path) = store_with_steps().await;
    let store = Store::open_read_only(&path).unwrap();
    let mut a = app(false);
    press(&mut a, &store, KeyCode::Esc); // out of the input box
    press(&mut a, &store, KeyCode::Char('t'));
    insta::assert_snapshot!("steps_list", screen(&mut a, 120, 20));
    // A chain that ends while the list is open reads it again, newest first.
    let ended = AppEvent::Engine(memscope::engine::Event {
        step: 3,
        time: chrono::Utc::now(),
        kind: memscope::engine::EventKind::ChainEnded { steps: 1 },
    });
    let fx = a.update(ended, Instant::now());
    assert!(
        fx.contains(&Effect::Load(Load::Steps { before: None })),
        "{fx:?}"
    );
    serve(&mut a, &store, fx);

    // The newest call is selected; the one before it made the core edit.
    press(&mut a, &store, KeyCode::Down);
    press(&mut a, &store, KeyCode::Enter);
    let Some(Modal::Steps(v)) = &a.modal else {
        panic!("the steps view is open")
    };
    let StepsScreen::Detail { detail, .. } = &v.screen else {
        panic!("the detail is shown")
    };
    assert_eq!(detail.row.step, 2);
    insta::assert_snapshot!("step_detail_sections", screen(&mut a, 120, 90));
    press(&mut a, &store, KeyCode::Char('v'));
    insta::assert_snapshot!("step_detail_raw", screen(&mut a, 120, 40));
    press(&mut a, &store, KeyCode::Char('v'));

    // The diff of the newest call against the one before: the append reached the block.
    press(&mut a, &store, KeyCode::Esc);
    press(&mut a, &store, KeyCode::Up);
    press(&mut a, &store, KeyCode::Char('d'));
    let shown = screen(&mut a, 120, 30);
    assert!(shown.contains("Likes green tea"), "{shown}");
    insta::assert_snapshot!("step_diff", shown);
}

#[tokio::test(flavor = "multi_thread")]
async fn fork_and_rewind_from_the_steps_view_are_engine_commands() {
    let (_dir, path) = store_with_steps().await;
    let store = Store::open_read_only(&path).unwrap();
    let mut a = app(false);
    press(&mut a, &store, KeyCode::Esc);
    press(&mut a, &store, KeyCode::Char('t'));
    press(&mut a, &store, KeyCode::Down); // step 2
    press(&mut a, &store, KeyCode::Char('f'));
    // The name offered can be changed before it is taken.
    for _ in 0.."default-step2".len() {
        press(&mut a, &store, KeyCode::Backspace);
    }
    for c in "trial".chars() {
        press(&mut a, &store, KeyCode::Char(c));
    }
    let fx = press(&mut a, &store, KeyCode::Enter);
    assert_eq!(
        fx,
        [Effect::Engine(Command::Fork {
            step: 2,
            name: "trial".into()
        })]
    );
    // Any key but y keeps it, the one that asked included.
    press(&mut a, &store, KeyCode::Char('r'));
    press(&mut a, &store, KeyCode::Char('r'));
    assert!(!screen(&mut a, 120, 20).contains("Take 'default' back"));
    press(&mut a, &store, KeyCode::Char('r'));
    assert!(screen(&mut a, 120, 20).contains("Take 'default' back to right after step 2?"));
    let fx = press(&mut a, &store, KeyCode::Char('y'));
    assert_eq!(fx, [Effect::Engine(Command::Rewind(2))]);
    assert!(a.modal.is_none());

    // Watch mode looks but does not change.
    let mut w = app(true);
    press(&mut w, &store, KeyCode::Char('t'));
    let fx = press(&mut w, &store, KeyCode::Char('r'));
    assert!(fx.is_empty());
    assert!(w.notice.as_deref().unwrap_or("").contains("read-only"));
}

#[test]
fn history_commands_typed_in_the_input_box_go_to_the_engine() {
    let mut a = app(false);
    let mut typed = |text: &str| {
        a.update(AppEvent::Paste(text.into()), Instant::now());
        a.update(key(KeyCode::Enter), Instant::now())
    };
    assert_eq!(typed("/retry"), [Effect::Engine(Command::Retry)]);
    assert_eq!(
        typed("/rewrite Let me put that better."),
        [Effect::Engine(Command::Rewrite(
            "Let me put that better.".into()
        ))]
    );
    // A refused command keeps what was typed and says why.
    assert!(typed("/rewind later").is_empty());
    assert!(a.notice.as_deref().unwrap().contains("/rewind N"));
    assert_eq!(a.input.lines().join(""), "/rewind later");
    // `/steps` opens the view and asks for its first page.
    a.input = tui_textarea::TextArea::default();
    a.update(AppEvent::Paste("/steps".into()), Instant::now());
    let fx = a.update(key(KeyCode::Enter), Instant::now());
    assert_eq!(fx, [Effect::Load(Load::Steps { before: None })]);
    assert!(matches!(a.modal, Some(Modal::Steps(_))));
}

#[test]
fn keys_retry_pop_and_put_the_last_thought_in_the_input_box_to_rethink() {
    let mut a = app(false);
    a.update(key(KeyCode::Esc), Instant::now());
    let shift = |c: char| AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT));
    assert_eq!(
        a.update(shift('R'), Instant::now()),
        [Effect::Engine(Command::Retry)]
    );
    assert_eq!(
        a.update(shift('P'), Instant::now()),
        [Effect::Engine(Command::Pop)]
    );
    a.update(
        AppEvent::Engine(memscope::engine::Event {
            step: 1,
            time: chrono::Utc::now(),
            kind: memscope::engine::EventKind::Thought {
                text: "They want tea.".into(),
            },
        }),
        Instant::now(),
    );
    a.update(shift('T'), Instant::now());
    assert_eq!(a.input.lines().join(""), "/rethink They want tea.");
    // Enter sends it as the command.
    assert_eq!(
        a.update(key(KeyCode::Enter), Instant::now()),
        [Effect::Engine(Command::Rethink("They want tea.".into()))]
    );
}
