//! Snapshots (insta, TestBackend) of every pane and state of the TUI: idle, waiting for the
//! model, paused in step mode, editing core memory, help, details, search, a small terminal,
//! tabs, and each theme (with styles).

mod common;

use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};

use memscope::engine::{EditSource, EventKind, Trigger};
use memscope::tui::app::{AppEvent, Loaded, Row};
use memscope::tui::theme::Theme;

use common::fixture::*;

#[test]
fn idle_full_layout() {
    let mut f = Fixture::new("dark");
    insta::assert_snapshot!(f.screen(120, 35));
}

#[test]
fn waiting_for_the_model() {
    let mut f = Fixture::new("dark");
    f.send(ev(
        4,
        EventKind::UserMessage {
            id: 30,
            text: "What's my sister's name?".into(),
        },
    ));
    f.send(ev(
        4,
        EventKind::ModelCall {
            trigger: Trigger::UserMessage,
        },
    ));
    f.app.update(AppEvent::Tick, f.t0 + Duration::from_secs(3));
    insta::assert_snapshot!(f.screen(120, 35));
}

#[test]
fn paused_in_step_mode() {
    let mut f = Fixture::new("dark");
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('s')));
    f.send(ev(
        4,
        EventKind::Paused {
            trigger: Trigger::Heartbeat {
                function: "archival_memory_search".into(),
            },
            budget: budget(1300),
        },
    ));
    insta::assert_snapshot!(f.screen(120, 35));
}

#[test]
fn editing_core_memory() {
    let mut f = Fixture::new("dark");
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('3')));
    f.send(key(KeyCode::Down));
    f.send(key(KeyCode::Char('e')));
    for c in " Plays chess on Tuesdays.".chars() {
        f.send(key(KeyCode::Char(c)));
    }
    insta::assert_snapshot!(f.screen(120, 35));
    // Over the limit: the count turns into a warning and a save is refused with a message.
    for _ in 0..150 {
        f.send(key(KeyCode::Char('x')));
    }
    f.send(ctrl('s'));
    insta::assert_snapshot!("editing_core_memory_over_limit", f.screen(120, 35));
}

#[test]
fn help_open() {
    let mut f = Fixture::new("dark");
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('?')));
    insta::assert_snapshot!(f.screen(120, 35));
}

#[test]
fn function_log_detail_and_expanded_call() {
    let mut f = Fixture::new("dark");
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('5')));
    f.send(key(KeyCode::Up));
    f.send(key(KeyCode::Enter));
    insta::assert_snapshot!(f.screen(120, 35));
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('1')));
    for _ in 0..5 {
        f.send(key(KeyCode::Up));
    }
    f.send(key(KeyCode::Enter));
    insta::assert_snapshot!("conversation_call_expanded", f.screen(120, 35));
}

#[test]
fn stores_search_results_and_delete_confirmation() {
    let mut f = Fixture::new("dark");
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('4')));
    f.send(AppEvent::Loaded(Loaded::Search {
        tab: memscope::tui::app::StoreTab::Archival,
        query: "Lisbon".into(),
        rows: vec![Row {
            id: 8,
            time: "2026-11-24 09:30".into(),
            tag: "agent".into(),
            text: "Priya's sister Meera lives in Lisbon.".into(),
            origin: None,
        }],
        total: 1,
        note: None,
    }));
    insta::assert_snapshot!(f.screen(120, 35));
    f.send(key(KeyCode::Char('d')));
    insta::assert_snapshot!("stores_delete_confirmation", f.screen(120, 35));
}

#[test]
fn small_terminal_says_so() {
    let mut f = Fixture::new("dark");
    insta::assert_snapshot!(f.screen(50, 12));
}

#[test]
fn tabs_on_a_medium_terminal_show_every_pane() {
    let mut f = Fixture::new("dark");
    insta::assert_snapshot!("tabs_conversation", f.screen(90, 24));
    f.send(key(KeyCode::Esc));
    for (k, name) in [
        ('2', "tabs_budget"),
        ('3', "tabs_core"),
        ('4', "tabs_stores"),
        ('5', "tabs_log"),
    ] {
        f.send(key(KeyCode::Char(k)));
        insta::assert_snapshot!(name, f.screen(90, 24));
    }
}

#[test]
fn budget_counted_by_the_servers_tokenizer() {
    let mut f = Fixture::new("dark");
    let mut b = budget(1200);
    b.encoding = "llama.cpp tokenizer".into();
    b.approximate = false;
    b.window_source = "server".into();
    b.server_prompt_tokens = Some(b.total + 12);
    f.send(ev(5, EventKind::Budget(b)));
    let screen = f.screen(120, 35);
    assert!(screen.contains("llama.cpp tokenizer · server"));
    assert!(!screen.contains("approx."));
    insta::assert_snapshot!(screen);
}

#[test]
fn budget_with_a_scaled_decision_a_cache_break_and_a_pending_core_edit() {
    let mut f = Fixture::new("dark");
    let mut b = budget(1200);
    b.server_prompt_tokens = Some(b.total * 5 / 4);
    b.deciding = b.total * 5 / 4;
    b.core_edits_pending = 1;
    let mut meter = b.cache.clone().unwrap();
    meter.record(memscope::tokens::CacheStat {
        prompt_tokens: b.total,
        shared_tokens: 1500,
        broke: Some(memscope::tokens::CacheBreak {
            section: "core memory <human>".into(),
            cause: "the system message was compiled again".into(),
        }),
        ..Default::default()
    });
    b.cache = Some(meter);
    let decides = format!("decides {}", b.deciding);
    f.send(ev(5, EventKind::Budget(b)));
    let screen = f.screen(120, 35);
    assert!(screen.contains(&decides), "{screen}");
    assert!(
        screen.contains("cache (estimate): broke at core memory <human>"),
        "{screen}"
    );
    assert!(screen.contains("(2 blocks · 1 edit pending)"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn each_theme_with_styles() {
    for theme in ["dark", "light", "high-contrast"] {
        let mut f = Fixture::new(theme);
        insta::assert_snapshot!(format!("theme_{theme}"), f.styled(120, 35));
    }
}

#[test]
fn hostile_text_is_shown_as_text() {
    let mut f = Fixture::new("dark");
    f.send(ev(5, EventKind::AssistantMessage { text: "clipboard \x1b]52;c;ZXZpbA==\x07 link \x1b]8;;http://x\x1b\\y\x1b]8;;\x1b\\ clear \x1b[2J bidi \u{202e}txt csi \u{9b}31m".into() }));
    let screen = f.screen(120, 35);
    assert!(
        !screen.chars().any(|c| c.is_control() && c != '\n'),
        "{screen}"
    );
    assert!(!screen.contains('\u{202e}'));
    insta::assert_snapshot!(screen);
}

#[test]
fn manual_edits_appear_in_the_function_log() {
    let mut f = Fixture::new("dark");
    f.send(ev(
        3,
        EventKind::CoreMemoryUpdated {
            label: "human".into(),
            value: "Name: Priya.".into(),
            chars: 12,
            limit: 200,
            source: EditSource::User,
        },
    ));
    let s = f.screen(120, 35);
    assert!(
        s.contains("edit human") && s.contains("(manual edit in memscope)"),
        "{s}"
    );
    assert!(s.contains("human 12/200"));
}

#[test]
fn without_a_model_the_status_bar_says_how_to_configure_one() {
    let mut f = Fixture::new("dark");
    f.app.model = None;
    f.app.endpoint = None;
    let s = f.screen(120, 35);
    // The status bar takes a second row rather than cut what it has to say.
    let lines: Vec<&str> = s.lines().collect();
    let status = lines[lines.len() - 2..].join(" ");
    let status = status.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        status.contains(
            "no model yet: /endpoint URL (or start with --base-url); memory can be browsed and edited"
        ),
        "{s}"
    );
}

#[test]
fn mouse_clicks_move_focus_and_the_wheel_scrolls_the_conversation() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut f = Fixture::new("dark");
    f.screen(120, 35); // lays out the panes
    let click = |col, row| {
        AppEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    f.send(click(100, 15)); // core memory, on the right
    assert_eq!(f.app.focus, memscope::tui::app::Focus::Core);
    f.send(click(60, 30)); // function log, at the bottom
    assert_eq!(f.app.focus, memscope::tui::app::Focus::Log);
    let wheel = AppEvent::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 10,
        row: 5,
        modifiers: KeyModifiers::NONE,
    });
    f.send(wheel);
    assert_eq!(f.app.convo.scroll, 3);
    assert!(f.screen(120, 35).contains("↑ 3 lines"));
}

#[test]
fn user_themes_come_from_the_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mine = memscope::tui::theme::BUILT_IN[0]
        .1
        .replace("name = \"dark\"", "name = \"mine\"")
        .replace("#5fafff", "#ff00ff");
    std::fs::write(dir.path().join("mine.toml"), mine).unwrap();
    let t = Theme::load("mine", Some(dir.path())).unwrap();
    assert_eq!(t.accent, ratatui::style::Color::Rgb(255, 0, 255));
    std::fs::write(dir.path().join("broken.toml"), "name = \"broken\"").unwrap();
    assert!(
        Theme::load("broken", Some(dir.path()))
            .unwrap_err()
            .contains("broken.toml")
    );
}
