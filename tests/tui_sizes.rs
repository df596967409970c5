//! The newcomer's views at the three sizes people run memscope in (80×24, 120×35, 200×60):
//! the main screen (panes using their space: core blocks whole, log columns widening, a long
//! input on several rows), the agents view, the new-agent form, the instructions editor, and
//! the monochrome theme.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use common::fixture::*;
use memscope::tui::app::{AgentRow, AppEvent, Loaded};
use memscope::tui::theme::Theme;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 35), (200, 60)];

fn shift(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT))
}

fn agents() -> Vec<AgentRow> {
    ["default", "work", "research-notes"]
        .iter()
        .enumerate()
        .map(|(i, n)| AgentRow {
            name: n.to_string(),
            steps: 12 * i as u64 + 3,
            messages: 40 * i as u64 + 9,
            passages: 7 * i as u64,
            created: format!("2026-11-2{i} 10:0{i}"),
        })
        .collect()
}

fn each_size(name: &str, mut f: impl FnMut(u16, u16) -> String) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), f(w, h));
    }
}

#[test]
fn main_screen() {
    each_size("main", |w, h| {
        let mut f = Fixture::new("dark");
        // A long message typed but not sent: the input box shows all of it.
        for c in "Tell me everything you remember about my sister Meera, her city, and when she visits; then save it to archival memory so it is never lost".chars() {
            f.send(key(KeyCode::Char(c)));
        }
        f.screen(w, h)
    });
}

#[test]
fn agents_view() {
    each_size("agents", |w, h| {
        let mut f = Fixture::new("dark");
        f.send(key(KeyCode::Esc));
        f.send(shift('A'));
        f.send(AppEvent::Loaded(Loaded::Agents(agents())));
        f.send(key(KeyCode::Down));
        f.screen(w, h)
    });
}

#[test]
fn new_agent_form() {
    each_size("new_agent", |w, h| {
        let mut f = Fixture::new("dark");
        f.send(key(KeyCode::Esc));
        f.send(shift('A'));
        f.send(AppEvent::Loaded(Loaded::Agents(agents())));
        f.send(key(KeyCode::Char('n')));
        for c in "work".chars() {
            f.send(key(KeyCode::Char(c)));
        }
        f.send(key(KeyCode::Tab));
        f.send(AppEvent::Paste("I am a careful assistant for work.".into()));
        f.send(key(KeyCode::Tab));
        f.send(key(KeyCode::Tab));
        f.send(AppEvent::Paste("project: memscope".into()));
        // Creating with a name that is taken says so in the form.
        f.send(key(KeyCode::BackTab));
        f.send(key(KeyCode::BackTab));
        f.send(key(KeyCode::BackTab));
        for _ in 0..4 {
            f.send(key(KeyCode::Backspace));
        }
        for c in "default".chars() {
            f.send(key(KeyCode::Char(c)));
        }
        f.send(ctrl('s'));
        f.screen(w, h)
    });
}

#[test]
fn instructions_editor() {
    each_size("instructions", |w, h| {
        let mut f = Fixture::new("dark");
        f.send(key(KeyCode::Esc));
        f.send(shift('I'));
        f.screen(w, h)
    });
}

#[test]
fn monochrome_keeps_the_budget_sections_apart() {
    each_size("mono", |w, h| {
        let mut f = Fixture::new("mono");
        f.app.theme = Theme::load("mono", None).unwrap();
        f.send(key(KeyCode::Esc));
        f.send(key(KeyCode::Char('2')));
        f.screen(w, h)
    });
}
