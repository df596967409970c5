//! `NO_COLOR`: memscope draws no colour at all, and the budget bar's sections stay apart
//! without it (each has its own glyph), both in a drawn frame and in a real terminal.

mod common;

use common::*;
use ratatui::style::Color;

use memscope::tui::theme::Theme;

/// The SGR parameters of every escape sequence in `s` that sets a colour.
fn colour_codes(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    for part in s.split("\x1b[").skip(1) {
        let Some(end) = part.find('m') else { continue };
        let params = &part[..end];
        if !params.chars().all(|c| c.is_ascii_digit() || c == ';') {
            continue;
        }
        let sets_colour = params.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=38 | 40..=48 | 90..=97 | 100..=107)
            )
        });
        if sets_colour {
            found.push(params.to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mono_theme_draws_no_colour_and_keeps_the_budget_sections_apart() {
    let server = Server::start(vec![say("hello")]).await;
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_on(&path, Some(client(&server))).await;
    rt.app.theme = Theme::load("mono", None).unwrap();
    rt.until(|a| a.budget.total > 0).await.unwrap();
    rt.draw().unwrap();
    let buf = rt.terminal.backend().buffer().clone();
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "a coloured cell: {cell:?}");
        assert_eq!(cell.bg, Color::Reset, "a coloured cell: {cell:?}");
    }
    // The bar: system, functions and core memory (all non-empty here) each in a glyph of its
    // own, and the free part in another.
    let text = memscope::tui::view::buffer_text(&buf);
    let bar = text
        .lines()
        .find(|l| l.contains('█') && l.contains('▓'))
        .unwrap_or_else(|| panic!("no budget bar with distinct glyphs:\n{text}"));
    for g in ['█', '▓', '▒', '·'] {
        assert!(bar.contains(g), "{g} missing from {bar}");
    }
    // The legend names each glyph.
    assert!(text.contains("▓ functions"), "{text}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn no_color_in_a_real_terminal_sends_no_colour_codes() {
    let server = Server::start(vec![say("hello")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let cmd = format!(
        "NO_COLOR=1 {}",
        common::tmux::tui_command(&store, &server.base_url)
    );
    let t = common::tmux::Tmux::start(&cmd, home.path());
    t.wait_for("Context budget").await;
    t.wait_for("▓").await;
    let styled = t.screen_styled();
    assert_eq!(colour_codes(&styled), Vec::<String>::new(), "{styled}");
    // Selection and focus still show, by attributes (reverse, bold), not colour.
    assert!(
        styled.contains("\x1b[1m") || styled.contains(";1m"),
        "{styled}"
    );
    t.keys(&["C-c"]);
    t.wait_for("MEMSCOPE-EXITED-0").await;

    // The same screen without NO_COLOR has colours: the check above can see them.
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let cmd = format!(
        "env -u NO_COLOR {}",
        common::tmux::tui_command(&store, &server.base_url)
    );
    let t = common::tmux::Tmux::start(&cmd, home.path());
    t.wait_for("Context budget").await;
    assert!(!colour_codes(&t.screen_styled()).is_empty());
    t.keys(&["C-c"]);
}
