//! Panes that use their space (issue #14): core blocks whole when there is room, log columns
//! that widen, a long input on as many rows as it takes, tabs shown, notices that go while
//! errors stay, and earlier inputs that come back after a restart.

mod common;

use std::time::Duration;

use common::fixture::*;
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use memscope::engine::{ErrorKind, EventKind};
use memscope::memory::Block;
use memscope::tui::app::{AppEvent, NOTICE_FOR, RunState};

#[test]
fn core_blocks_are_shown_whole_when_there_is_room() {
    let mut f = Fixture::new("dark");
    let long = "Priya grew up in Porto and moved to Lisbon for work. She plays chess on Sundays, \
                drinks green tea, and is learning the cello. Her sister Meera visits every spring \
                and they walk along the river together; the last visit ended at the aquarium.";
    f.app.core[1] = Block {
        limit: 2000,
        ..Block::new("human", long)
    };
    let big = f.screen(200, 60);
    assert!(big.contains("ended at the aquarium."), "{big}");
    // Where it cannot all fit, the block selected is shown from its head.
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('3')));
    f.send(key(KeyCode::Down));
    let small = f.screen(120, 35);
    let head = format!("human {}/2000", long.chars().count());
    assert!(small.contains(&head), "{small}");
}

#[test]
fn function_log_columns_widen_with_the_terminal() {
    let mut f = Fixture::new("dark");
    let at = |s: &str| {
        s.lines()
            .find(|l| {
                l.trim_start_matches('│').starts_with("1 ") && l.contains("archival_memory_insert")
            })
            .map(|l| l.to_string())
            .unwrap()
    };
    let narrow = at(&f.screen(120, 35));
    let wide = at(&f.screen(200, 60));
    assert!(!narrow.contains("request_heartbeat"), "{narrow}");
    assert!(wide.contains("request_heartbeat"), "{wide}");
}

#[test]
fn a_long_input_is_shown_on_as_many_rows_as_it_takes() {
    let mut f = Fixture::new("dark");
    let text = "first words of a long message that goes on well past the width of the input box \
                and ends with these last words";
    for c in text.chars() {
        f.send(key(KeyCode::Char(c)));
    }
    let s = f.screen(120, 35);
    assert!(s.contains("first words of a long message"), "{s}");
    assert!(s.contains("ends with these last words"), "{s}");
}

#[test]
fn tabs_in_text_are_shown_as_spaces() {
    let mut f = Fixture::new("dark");
    f.send(ev(
        4,
        EventKind::AssistantMessage {
            text: "name\tcity\nMeera\tLisbon".into(),
        },
    ));
    let s = f.screen(120, 35);
    assert!(s.contains("Meera    Lisbon"), "{s}");
}

#[test]
fn notices_go_after_a_while_and_errors_stay() {
    let mut f = Fixture::new("dark");
    for k in [
        KeyCode::Esc,
        KeyCode::Char('4'),
        KeyCode::Char('l'),
        KeyCode::Char('d'),
    ] {
        f.send(key(k));
    }
    let why = "only archival passages can be deleted";
    assert!(f.screen(120, 35).contains(why));
    assert_eq!(f.app.notice_expires(), Some(f.t0 + NOTICE_FOR));
    // Still there just before it is due; gone once it is.
    f.app
        .update(AppEvent::Tick, f.t0 + NOTICE_FOR - Duration::from_millis(1));
    assert!(f.screen(120, 35).contains(why));
    f.app.update(AppEvent::Tick, f.t0 + NOTICE_FOR);
    assert!(!f.screen(120, 35).contains(why));
    // An error is not a notice: it stays until the next message.
    f.send(ev(
        4,
        EventKind::Error {
            kind: ErrorKind::ServerError,
            message: "the server said 500".into(),
        },
    ));
    f.app.update(AppEvent::Tick, f.t0 + NOTICE_FOR * 10);
    assert!(f.screen(120, 35).contains("the server said 500"));
}

#[tokio::test(flavor = "multi_thread")]
async fn earlier_inputs_come_back_after_a_restart_for_their_own_agent() {
    let server = Server::start(vec![say("noted")]).await;
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_with_session(&path, Some(&server.base_url)).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    for c in "remember the milk".chars() {
        rt.apply(AppEvent::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    rt.apply(AppEvent::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    rt.until(|a| a.run == RunState::Idle && a.convo.entries.iter().any(|e| e.text == "noted"))
        .await
        .unwrap();
    rt.shutdown().await.unwrap();

    let mut rt = common::tui::runtime_with_session(&path, Some(&server.base_url)).await;
    rt.until(|a| a.convo.entries.iter().any(|e| e.text == "noted"))
        .await
        .unwrap();
    rt.apply(AppEvent::Key(KeyEvent::new(
        KeyCode::Up,
        KeyModifiers::NONE,
    )));
    assert_eq!(rt.app.input.lines().join("\n"), "remember the milk");
    rt.shutdown().await.unwrap();
}

/// The cell where `needle` is first drawn (column, row), on a screen of one-cell characters.
fn cell_of(screen: &str, needle: &str) -> (u16, u16) {
    for (y, line) in screen.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            return (line[..byte].chars().count() as u16, y as u16);
        }
    }
    panic!("{needle} is not on the screen:\n{screen}");
}

fn click(x: u16, y: u16) -> AppEvent {
    AppEvent::Mouse(crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn clicks_pick_tabs_and_rows() {
    use memscope::tui::app::{Focus, StoreTab};
    let mut f = Fixture::new("dark");
    let s = f.screen(120, 35);
    // A stored row: focus goes to the stores and the row is selected.
    let (x, y) = cell_of(&s, "#5 ");
    f.send(click(x, y));
    assert_eq!(f.app.focus, Focus::Stores);
    let shown = f.app.stores.shown();
    assert_eq!(shown.rows[shown.selected].id, 5);
    // The Recall tab's label.
    let (x, y) = cell_of(&s, "Recall (24)");
    f.send(click(x + 2, y));
    assert_eq!(f.app.stores.tab, StoreTab::Recall);
    // A function-log row.
    let s = f.screen(120, 35);
    let (x, y) = cell_of(&s, "2    core_memory_append");
    f.send(click(x + 5, y));
    assert_eq!((f.app.focus, f.app.log_selected), (Focus::Log, 1));
    // A core block's text selects its block.
    let s = f.screen(120, 35);
    let (x, y) = cell_of(&s, "Likes green tea");
    f.send(click(x, y));
    assert_eq!((f.app.focus, f.app.core_selected), (Focus::Core, 1));
    // On a small terminal the panes are tabs: a click on one shows it.
    let s = f.screen(80, 24);
    let (x, y) = cell_of(&s, "5 Function log");
    f.send(click(x + 1, y));
    assert_eq!(f.app.focus, Focus::Log);
    assert!(f.screen(80, 24).contains("5 Function log (3)"));
}

#[test]
fn before_the_server_names_its_model_none_is_shown() {
    let mut f = Fixture::new("dark");
    f.app.model = None;
    let s = f.screen(120, 35);
    assert!(
        s.contains("asking http://127.0.0.1:8080/v1 which model it serves"),
        "{s}"
    );
    assert!(
        !s.contains("gpt-4o-mini") && !s.contains("no model yet"),
        "{s}"
    );
}
