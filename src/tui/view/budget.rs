//! The budget pane: the main context by section as a stacked bar and a table, the thresholds,
//! which counter made the figures (and the figure pressure decisions use), and the prompt-cache
//! meter.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::panes::pane_block;
use crate::tui::app::{App, Focus};
use crate::tui::view::Drawn;

fn pct(n: u32, of: u32) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

pub fn budget(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    drawn.areas.push((Focus::Budget, area));
    let b = &app.budget;
    let th = &app.theme;
    let title = format!(
        " {} · {}/{} tokens ({:.0}%) ",
        Focus::Budget.title(),
        b.total,
        b.context_window,
        b.percent()
    );
    let block = pane_block(app, Focus::Budget, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let w = inner.width as usize;
    let sections = [
        ("system", b.system),
        ("functions", b.functions),
        ("core memory", b.core_memory),
        ("summary", b.summary),
        ("FIFO queue", b.messages),
        ("free", b.free()),
    ];
    // Stacked bar: each section gets its share of the width (at least one cell when non-zero).
    let window = b.context_window.max(b.total).max(1) as f64;
    let mut bar: Vec<Span> = Vec::new();
    let mut used = 0usize;
    for (i, (_, n)) in sections.iter().enumerate() {
        let mut cells = ((*n as f64 / window) * w as f64).round() as usize;
        if *n > 0 && cells == 0 {
            cells = 1;
        }
        if i == sections.len() - 1 {
            cells = w.saturating_sub(used);
        }
        cells = cells.min(w.saturating_sub(used));
        used += cells;
        let glyph = th.section_glyphs()[i];
        bar.push(Span::styled(
            glyph.repeat(cells),
            Style::default().fg(th.sections[i]),
        ));
    }
    let mut marks = vec![' '; w];
    let warn = ((b.warn_at as f64 / window) * w as f64) as usize;
    let flush = ((b.flush_at as f64 / window) * w as f64) as usize;
    if warn < w {
        marks[warn] = '▲';
    }
    if flush < w {
        marks[flush] = '▲';
    }
    let marks: String = marks.into_iter().collect();
    let mut lines = vec![
        Line::from(bar),
        Line::from(vec![Span::styled(marks, Style::default().fg(th.warning))]),
    ];
    for (i, (name, n)) in sections.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(
                if th.mono {
                    format!("{} ", th.section_glyphs()[i])
                } else {
                    "■ ".to_string()
                },
                Style::default().fg(th.sections[i]),
            ),
            Span::styled(format!("{name:<12}"), Style::default().fg(th.fg)),
            Span::styled(format!("{n:>7}"), Style::default().fg(th.fg)),
            Span::styled(format!(" {:>5.1}%", pct(*n, b.context_window)), th.dimmed()),
        ]));
    }
    lines.push(Line::from(Span::styled(
        format!(
            "▲ warn {} · flush {} · window: {}",
            b.warn_at,
            b.flush_at,
            if b.window_source.is_empty() {
                "default"
            } else {
                b.window_source.as_str()
            },
        ),
        th.dimmed(),
    )));
    // Which counter made these figures, and how far they were from the server's own count of
    // the last prompt.
    let counter = format!(
        "{}{}",
        b.encoding,
        if b.approximate { " (approx.)" } else { "" }
    );
    // When pressure decisions scale the local total up, the figure they use takes the place of
    // the difference from the server's count (the pane is narrow).
    lines.push(Line::from(Span::styled(
        match b.server_prompt_tokens {
            Some(s) if b.deciding > b.total => {
                format!("{counter} · server {s} · decides {}", b.deciding)
            }
            Some(s) => format!(
                "{counter} · server {s} (local {:+})",
                b.total as i64 - s as i64
            ),
            None => format!("{counter} · no server count yet"),
        },
        th.dimmed(),
    )));
    lines.push(cache_line(b, th));
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The prompt cache: the server's own figure for the last prompt where it gives one, else
/// memscope's estimate (the prefix shared with the last prompt the server saw), marked as one;
/// then the session's rate.
fn cache_line(b: &crate::tokens::Budget, th: &crate::tui::theme::Theme) -> Line<'static> {
    let Some(c) = &b.cache else {
        return Line::from(Span::styled("cache: no call yet", th.dimmed()));
    };
    let text = match (c.last.server_cached, c.server_hit_rate()) {
        (Some(n), Some(session)) => {
            let of = c.last.server_prompt.unwrap_or(c.last.prompt_tokens).max(n);
            format!(
                "cache: server reused {n} of {of} · session {:.0}%",
                session * 100.0
            )
        }
        _ => {
            let last = match &c.last.broke {
                Some(br) => format!("broke at {}", br.section),
                None => format!("≈{:.0}% reusable", c.last.share() * 100.0),
            };
            format!(
                "cache (estimate): {last} · session ≈{:.0}%",
                c.hit_rate() * 100.0
            )
        }
    };
    let style = if c.last.broke.is_some() {
        Style::default().fg(th.warning)
    } else {
        th.dimmed()
    };
    Line::from(Span::styled(text, style))
}
