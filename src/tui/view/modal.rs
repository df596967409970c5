//! Pop-ups: help, the core memory editor, details, search, insert and delete confirmation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::text;
use crate::tui::app::{App, Modal};
use crate::tui::theme::Theme;

pub(super) fn centered(area: Rect, w_pct: u16, h_pct: u16) -> Rect {
    let [_, mid, _] = Layout::vertical([
        Constraint::Percentage((100 - h_pct) / 2),
        Constraint::Percentage(h_pct),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, c, _] = Layout::horizontal([
        Constraint::Percentage((100 - w_pct) / 2),
        Constraint::Percentage(w_pct),
        Constraint::Fill(1),
    ])
    .areas(mid);
    c
}

pub(super) fn frame_block(title: String, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.border(true))
        .title(Span::styled(format!(" {title} "), theme.title(true)))
        .style(theme.base())
}

/// Draws `p` in `r` scrolled by `scroll`, kept within its text; says when there is more below.
/// Returns how far it can scroll.
fn scrolled(
    frame: &mut Frame,
    p: Paragraph<'_>,
    block: Block<'static>,
    scroll: u16,
    r: Rect,
    theme: &Theme,
) -> u16 {
    let total = p.line_count(r.width.saturating_sub(2));
    let max = total.saturating_sub(r.height.saturating_sub(2) as usize) as u16;
    let at = scroll.min(max);
    let block = if at < max {
        block.title_bottom(Line::from(Span::styled(
            format!(
                " ↓ more ({} of {total} lines) · g G top / end ",
                at + r.height.saturating_sub(2)
            ),
            theme.dimmed(),
        )))
    } else {
        block
    };
    frame.render_widget(p.block(block).scroll((at, 0)), r);
    max
}

/// A small yes-or-no box: the question, what it is about, and which key does what.
pub(super) fn confirm(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    question: String,
    detail: String,
    keys: &str,
) {
    let r = centered(area, 60, 20);
    let r = Rect {
        height: r.height.max(5),
        ..r
    };
    frame.render_widget(Clear, r);
    let lines = vec![
        Line::from(Span::styled(question, theme.title(true))),
        Line::from(Span::styled(detail, Style::default().fg(theme.fg))),
        Line::from(Span::styled(keys.to_string(), theme.dimmed())),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(frame_block("Confirm".into(), theme)),
        r,
    );
}

/// Draws the open pop-up; for help and details, how far they can scroll.
pub fn draw(frame: &mut Frame, app: &App, area: Rect) -> Option<u16> {
    let theme = app.theme.clone();
    let modal = app.modal.as_ref()?;
    match modal {
        Modal::Steps(v) => return super::steps::draw(frame, app, v, area),
        Modal::Agents(v) => super::agents::draw(frame, app, v, area),
        Modal::EditInstructions { area: ta, custom } => {
            super::agents::draw_instructions(frame, app, ta, *custom, area)
        }
        Modal::Help { scroll } => {
            let r = centered(area, 70, 80);
            frame.render_widget(Clear, r);
            let lines = help_text(app, &theme);
            return Some(scrolled(
                frame,
                Paragraph::new(lines).wrap(Wrap { trim: false }),
                frame_block("Help".into(), &theme),
                *scroll,
                r,
                &theme,
            ));
        }
        Modal::Detail {
            title,
            text: body,
            scroll,
        } => {
            let r = centered(area, 80, 80);
            frame.render_widget(Clear, r);
            return Some(scrolled(
                frame,
                Paragraph::new(text::visible(body))
                    .style(Style::default().fg(theme.fg))
                    .wrap(Wrap { trim: false }),
                frame_block(format!("{title} · Esc closes"), &theme),
                *scroll,
                r,
                &theme,
            ));
        }
        Modal::EditCore {
            label,
            limit,
            read_only,
            area: ta,
            error,
        } => {
            let r = centered(area, 80, 70);
            frame.render_widget(Clear, r);
            let chars = ta.lines().iter().map(|l| l.chars().count()).sum::<usize>()
                + ta.lines().len().saturating_sub(1);
            let over = chars > *limit;
            let title = format!(
                "Edit {} · {chars}/{limit} characters{} · Ctrl-S saves · Esc cancels",
                text::visible(label),
                if *read_only { " · read-only" } else { "" }
            );
            let msg = match (error, over) {
                (Some(e), _) => Span::styled(format!(" {e} "), Style::default().fg(theme.error)),
                (None, true) => Span::styled(
                    format!(" over the limit by {} characters ", chars - *limit),
                    Style::default().fg(theme.warning),
                ),
                (None, false) => Span::styled(
                    " the agent sees the change on its next step ",
                    theme.dimmed(),
                ),
            };
            let mut block = frame_block(title, &theme).title_bottom(Line::from(msg));
            if over {
                block = block.border_style(Style::default().fg(theme.error));
            }
            // Styling a text area changes it: style a copy (a modal's text is small).
            let mut ta = ta.clone();
            ta.set_block(block);
            ta.set_style(Style::default().fg(theme.fg));
            ta.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
            frame.render_widget(&ta, r);
        }
        Modal::Search { area: ta } => {
            let mut ta = ta.clone();
            let r = centered(area, 60, 20);
            let r = Rect {
                height: r.height.clamp(3, 3),
                ..r
            };
            frame.render_widget(Clear, r);
            ta.set_block(frame_block(
                "Search (same ranking as the agent) · Enter · Esc".into(),
                &theme,
            ));
            ta.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
            frame.render_widget(&ta, r);
        }
        Modal::Insert { area: ta } => {
            let mut ta = ta.clone();
            let r = centered(area, 70, 50);
            frame.render_widget(Clear, r);
            ta.set_block(frame_block(
                "New archival passage · Ctrl-S saves · Esc cancels".into(),
                &theme,
            ));
            ta.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
            frame.render_widget(&ta, r);
        }
        Modal::ConfirmDelete { id, preview } => confirm(
            frame,
            area,
            &theme,
            format!("Delete passage #{id}?"),
            text::visible(preview),
            "y / Enter deletes · any other key keeps it",
        ),
    }
    None
}

/// The help pop-up's lines: the keys (in `watch`, only those that do not write), then, where
/// the input box can be used, its keys and the `/` commands.
fn help_text(app: &App, theme: &crate::tui::theme::Theme) -> Vec<Line<'static>> {
    let row = |keys: String, desc: String, width: usize| {
        Line::from(vec![
            Span::styled(
                format!("{keys:>width$}  "),
                Style::default().fg(theme.accent),
            ),
            Span::styled(desc, Style::default().fg(theme.fg)),
        ])
    };
    let mut lines = vec![Line::from(Span::styled(
        "Outside the input box",
        theme.title(true),
    ))];
    for (keys, desc) in app.keymap.help_where(|a| !app.read_only || !a.writes()) {
        lines.push(row(keys, desc.to_string(), 22));
    }
    lines.push(Line::from(""));
    if app.read_only {
        lines.push(Line::from(Span::styled(
            "watch follows another memscope process: nothing can be changed from here.",
            theme.dimmed(),
        )));
        return lines;
    }
    lines.push(Line::from(Span::styled(
        "In the input box",
        theme.title(true),
    )));
    for (keys, desc) in [
        ("Enter", "send the message"),
        ("Alt-Enter", "new line"),
        ("↑ ↓", "earlier inputs (when the box is empty)"),
        ("Esc", "to the panes"),
        ("Ctrl-C", "quit, from anywhere"),
    ] {
        lines.push(row(keys.to_string(), desc.to_string(), 22));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Typed in the input box",
        theme.title(true),
    )));
    for (usage, desc) in crate::tui::app::slash::COMMANDS {
        lines.push(row(usage.to_string(), desc.to_string(), 30));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "In the core memory editor: Ctrl-S saves, Esc cancels.",
        theme.dimmed(),
    )));
    lines.push(Line::from(Span::styled(
        "Keys can be rebound in the config file's [keys] table.",
        theme.dimmed(),
    )));
    lines
}
