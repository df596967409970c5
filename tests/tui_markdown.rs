//! Snapshots of model replies rendered as Markdown in the conversation pane: headings,
//! emphasis, lists, links as text, code set apart, a reply half streamed, and Markdown that
//! carries control characters (still shown as text).

use std::time::Instant;

use chrono::{TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use memscope::engine::{Event, EventKind};
use memscope::memory::CoreMemory;
use memscope::tokens::Budget;
use memscope::tui::app::{App, AppEvent, AppInit};
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::view;

const REPLY: &str = "## Your hives\n\nYou told me **three** things about them:\n\n1. They face *south*, out of the wind.\n2. The second one swarmed in May; see [the notes](https://example.com/bees).\n   - inspect it weekly\n\n> A quoted line from your log.\n\n```python\ndef count(frames):\n    return len(frames)\n```\n\nUse `count()` before the ~~autumn~~ winter feed.";

fn app() -> App {
    let core = CoreMemory::with_defaults("I am Sam.", "Name: Ada.");
    App::new(AppInit {
        history_before: 1,
        agent: "default".into(),
        model: Some("qwen2.5-7b-instruct".into()),
        endpoint: Some("http://127.0.0.1:8080/v1".into()),
        read_only: false,
        theme: Theme::load("dark", None).unwrap(),
        keymap: Keymap::default(),
        core: core.blocks,
        budget: Budget {
            context_window: 8192,
            ..Default::default()
        },
        policy: "native tools · text is thought".into(),
        step: 0,
        now: Instant::now(),
        instructions: memscope::engine::BASE_INSTRUCTIONS.into(),
        instructions_custom: false,
    })
}

fn send(app: &mut App, kind: EventKind) {
    let ev = Event {
        step: 1,
        time: Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
        kind,
    };
    app.update(AppEvent::Engine(ev), Instant::now());
}

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut drawn = view::Drawn::default();
    t.draw(|f| drawn = view::draw(f, app)).unwrap();
    app.layout(drawn);
    t
}

#[test]
fn a_markdown_reply() {
    let mut a = app();
    send(
        &mut a,
        EventKind::UserMessage {
            id: 1,
            text: "what do you know about my **hives**?".into(),
        },
    );
    send(&mut a, EventKind::AssistantMessage { text: REPLY.into() });
    let t = draw(&mut a, 120, 40);
    let screen = view::buffer_text(t.backend().buffer());
    // The markup is gone, its text is there.
    assert!(
        !screen.contains("## Your") && !screen.contains("**three**"),
        "{screen}"
    );
    assert!(screen.contains("see the notes"), "{screen}");
    assert!(screen.contains("(https://example.com/bees)"), "{screen}");
    // What the user typed is theirs, shown as typed.
    assert!(screen.contains("**hives**"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_markdown_reply_with_styles() {
    let mut a = app();
    send(
        &mut a,
        EventKind::AssistantMessage {
            text: "# Title\n\nSome **bold**, *italic* and `code`.".into(),
        },
    );
    let t = draw(&mut a, 80, 20);
    let buf = t.backend().buffer();
    // Find the cells of "bold" and "italic" and check their modifiers.
    let text = view::buffer_text(buf);
    let row = text.lines().position(|l| l.contains("Some bold")).unwrap() as u16;
    let line: String = (0..80)
        .map(|x| buf[(x, row)].symbol().to_string())
        .collect();
    let col = |word: &str| {
        line.find(word)
            .map(|i| line[..i].chars().count() as u16)
            .unwrap()
    };
    use ratatui::style::Modifier;
    assert!(buf[(col("bold"), row)].modifier.contains(Modifier::BOLD));
    assert!(
        buf[(col("italic"), row)]
            .modifier
            .contains(Modifier::ITALIC)
    );
    assert!(!buf[(col("Some"), row)].modifier.contains(Modifier::BOLD));
    insta::assert_snapshot!(format!("{buf:?}"));
}

#[test]
fn a_reply_half_streamed_renders_as_far_as_it_goes() {
    let mut a = app();
    for piece in [
        "Here is the plan:\n\n- **first",
        "**, then\n- second\n\n```\nlet x",
        " = 1;",
    ] {
        send(&mut a, EventKind::ThoughtDelta { text: piece.into() });
    }
    let t = draw(&mut a, 100, 24);
    let screen = view::buffer_text(t.backend().buffer());
    assert!(screen.contains("• first, then"), "{screen}");
    assert!(screen.contains("│ let x = 1;"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn markdown_never_brings_control_characters_back() {
    let mut a = app();
    send(
        &mut a,
        EventKind::AssistantMessage {
            text: "# \x1b]52;c;ZXZpbA==\x07 title\n\n- `\x1b[2J` item\n\n```\n\u{9b}31m red\n```\n\n[link](\x1b]8;;http://evil\x07)".into(),
        },
    );
    let t = draw(&mut a, 100, 24);
    let screen = view::buffer_text(t.backend().buffer());
    assert!(
        !screen.chars().any(|c| c.is_control() && c != '\n'),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}
