//! Drawing the steps view: the list of model calls, one call in detail (by section, or the raw
//! request), a diff, and the fork and rewind prompts.
//!
//! Contract: reads `&App` only. Every text comes from `engine::history::lines` (the command
//! line prints the same lines) and is made printable before it is drawn.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use crate::engine::history::lines::{
    detail_lines, diff_lines, pretty_exact, row_header, row_line_in, step_columns,
};
use crate::text;
use crate::tui::app::{App, StepsScreen, StepsView};
use crate::tui::theme::Theme;

fn frame_block(title: String, hint: &str, theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.border(true))
        .title(Span::styled(format!(" {title} "), theme.title(true)))
        .title_bottom(Line::from(Span::styled(
            format!(" {hint} "),
            theme.dimmed(),
        )))
        .style(theme.base())
}

/// The view over (almost) the whole screen.
/// Returns how far the open detail or diff can scroll.
pub fn draw(frame: &mut Frame, app: &App, v: &StepsView, area: Rect) -> Option<u16> {
    let r = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    frame.render_widget(Clear, r);
    let theme = &app.theme;
    match &v.screen {
        StepsScreen::List => list(frame, app, v, r),
        StepsScreen::Detail {
            detail,
            raw,
            scroll,
        } => {
            let lines: Vec<Line> = if *raw {
                pretty_exact(&detail.request)
                    .lines()
                    .map(|l| Line::from(text::visible(l)))
                    .collect()
            } else {
                detail_lines(detail)
                    .iter()
                    .map(|l| styled(l, theme))
                    .collect()
            };
            let title = format!(
                "Step {} · {}",
                detail.row.step,
                if *raw {
                    "the request as sent (raw JSON)"
                } else {
                    "as the model saw it"
                }
            );
            let hint = "↑↓ scroll · v raw/sections · d diff · f fork · r rewind · Esc list";
            return Some(scrolled(frame, lines, *scroll, title, hint, theme, r));
        }
        StepsScreen::Diff { diff, scroll } => {
            let lines: Vec<Line> = diff_lines(diff).iter().map(|l| styled(l, theme)).collect();
            let title = format!("Diff · step {} → step {}", diff.from_step, diff.to_step);
            return Some(scrolled(
                frame,
                lines,
                *scroll,
                title,
                "↑↓ scroll · Esc list",
                theme,
                r,
            ));
        }
        StepsScreen::Fork { step, area: ta } => {
            list(frame, app, v, r);
            let p = prompt_area(r);
            frame.render_widget(Clear, p);
            let mut ta = (**ta).clone();
            ta.set_block(frame_block(
                format!("Fork a new agent from step {step}"),
                "Enter makes it · Esc cancels · the original is not changed",
                theme,
            ));
            ta.set_style(Style::default().fg(theme.fg));
            ta.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
            frame.render_widget(&ta, p);
        }
        StepsScreen::ConfirmRewind { step } => {
            list(frame, app, v, r);
            let p = prompt_area(r);
            frame.render_widget(Clear, p);
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(
                    format!(
                        "Take '{}' back to right after step {step}? What it drops is kept whole \
                         as a backup agent.",
                        text::visible(&app.agent)
                    ),
                    Style::default().fg(theme.fg),
                )))
                .wrap(Wrap { trim: true })
                .block(frame_block(
                    "Rewind".into(),
                    "y / Enter rewinds · any other key keeps it",
                    theme,
                )),
                p,
            );
        }
    }
    None
}

/// Lines that scroll, wrapped, in the view's frame, never past their end; the frame says when
/// there is more below. Returns how far they can scroll.
fn scrolled(
    frame: &mut Frame,
    lines: Vec<Line<'static>>,
    scroll: u16,
    title: String,
    hint: &str,
    theme: &Theme,
    r: Rect,
) -> u16 {
    let p = Paragraph::new(lines)
        .style(Style::default().fg(theme.fg))
        .wrap(Wrap { trim: false });
    let total = p.line_count(r.width.saturating_sub(2));
    let shown = r.height.saturating_sub(2);
    let max = total.saturating_sub(shown as usize) as u16;
    let at = scroll.min(max);
    let mut block = frame_block(title, hint, theme);
    if at < max {
        block = block.title_bottom(Line::from(Span::styled(
            format!(" ↓ more ({} of {total} lines) · g G top / end ", at + shown),
            theme.dimmed(),
        )));
    }
    frame.render_widget(p.scroll((at, 0)).block(block), r);
    max
}

fn prompt_area(r: Rect) -> Rect {
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(4),
        Constraint::Fill(1),
    ])
    .areas(r);
    let [_, c, _] = Layout::horizontal([
        Constraint::Percentage(15),
        Constraint::Percentage(70),
        Constraint::Fill(1),
    ])
    .areas(mid);
    c
}

fn list(frame: &mut Frame, app: &App, v: &StepsView, r: Rect) {
    let theme = &app.theme;
    let inner_h = r.height.saturating_sub(3) as usize;
    // The trigger and the function take the width the pop-up has, not a fixed share of it.
    let (trigger_w, function_w) = step_columns(r.width.saturating_sub(2) as usize);
    let mut lines = vec![Line::from(Span::styled(
        row_header(trigger_w, function_w),
        theme.title(false),
    ))];
    if !v.loaded {
        lines.push(Line::from(Span::styled("reading…", theme.dimmed())));
    } else if v.rows.is_empty() {
        lines.push(Line::from(Span::styled(
            "no model calls yet",
            theme.dimmed(),
        )));
    }
    // The selected row stays in sight.
    let first = v.selected.saturating_sub(inner_h.saturating_sub(2));
    for (i, row) in v.rows.iter().enumerate().skip(first).take(inner_h) {
        let style = if i == v.selected {
            theme.selected()
        } else if row.kind == "summary" {
            theme.dimmed()
        } else {
            Style::default().fg(theme.fg)
        };
        lines.push(Line::from(Span::styled(
            row_line_in(row, trigger_w, function_w),
            style,
        )));
    }
    let title = format!(
        "Steps · {} · {} call(s){}",
        text::visible(&app.agent),
        v.rows.len(),
        if v.more { " so far" } else { "" }
    );
    frame.render_widget(
        Paragraph::new(lines).block(frame_block(
            title,
            "↑↓ select · Enter detail · d diff with the step before · f fork · r rewind · Esc close",
            theme,
        )),
        r,
    );
}

/// A line of a detail or diff, coloured by what it is.
fn styled(l: &str, theme: &Theme) -> Line<'static> {
    let shown = text::visible(l);
    let style = if l.starts_with("==") || l.starts_with("step ") {
        theme.title(true)
    } else if l.starts_with("--") || l.starts_with("~ ") {
        Style::default().fg(theme.accent)
    } else if l.starts_with("+ ") || l.starts_with("  + ") {
        Style::default().fg(theme.ok)
    } else if l.starts_with("- ") || l.starts_with("  - ") {
        Style::default().fg(theme.failed)
    } else {
        Style::default().fg(theme.fg)
    };
    Line::from(Span::styled(shown, style))
}
