//! The panes (the status bar is in `status.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Cell, Paragraph, Row, Table};

use crate::engine::Status;
use crate::text;
use crate::tui::app::{App, Focus, StoreTab};
use crate::tui::view::{Drawn, Hit};

pub(super) fn pane_block<'a>(app: &App, focus: Focus, title: String) -> Block<'a> {
    let focused = app.focus == focus;
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(app.theme.border(focused))
        .title(Span::styled(title, app.theme.title(focused)))
}

/// Visible window of a list of `len` rows with `selected` in view.
fn window(len: usize, selected: usize, height: usize) -> std::ops::Range<usize> {
    if height == 0 || len == 0 {
        return 0..0;
    }
    let start = if selected < height {
        0
    } else {
        selected + 1 - height
    };
    start..(start + height).min(len)
}

pub fn conversation(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    drawn.areas.push((Focus::Conversation, area));
    let mut title = format!(
        " {} ({}) ",
        Focus::Conversation.title(),
        app.convo.entries.len()
    );
    if app.convo.scroll > 0 {
        title.push_str(&format!("↑ {} lines ", app.convo.scroll));
    }
    let block = pane_block(app, Focus::Conversation, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    drawn.convo = Some((inner.width, inner.height));
    if app.convo.entries.is_empty() {
        let hint = if app.read_only {
            "Nothing yet: waiting for the other process."
        } else {
            "No messages yet. Type below and press Enter."
        };
        frame.render_widget(Paragraph::new(hint).style(app.theme.dimmed()), inner);
        return;
    }
    let lines = app.convo.visible(inner.width, inner.height, &app.theme);
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn input(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    drawn.areas.push((Focus::Input, area));
    let focused = app.focus == Focus::Input && app.modal.is_none();
    let title = if app.read_only {
        " Input (read-only) ".to_string()
    } else {
        " Input ".to_string()
    };
    let block = pane_block(app, Focus::Input, title);
    // Styling a text area changes it: style a copy (what is being typed is small).
    let mut input = app.input.clone();
    input.set_block(block);
    input.set_style(Style::default().fg(app.theme.fg));
    input.set_placeholder_style(app.theme.dimmed());
    input.set_cursor_style(if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    });
    frame.render_widget(&input, area);
}

pub fn core(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    drawn.areas.push((Focus::Core, area));
    let block = pane_block(
        app,
        Focus::Core,
        match app.budget.core_edits_pending {
            0 => format!(" {} ({} blocks) ", Focus::Core.title(), app.core.len()),
            // Append mode: edits the system message does not show until the next flush.
            1 => format!(
                " {} ({} blocks · 1 edit pending) ",
                Focus::Core.title(),
                app.core.len()
            ),
            n => format!(
                " {} ({} blocks · {n} edits pending) ",
                Focus::Core.title(),
                app.core.len()
            ),
        },
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = core_lines(app, inner.width);
    // Whole blocks when they fit. When they do not: in focus, the selected block from its head
    // (moving the selection scrolls); out of focus, the start of every block, so none is hidden.
    let height = inner.height as usize;
    if lines.len() > height && app.focus != Focus::Core && !app.core.is_empty() {
        let per = (height / app.core.len()).max(1);
        let mut taken = vec![0usize; app.core.len()];
        lines.retain(|(block, _, _)| {
            taken[*block] += 1;
            taken[*block] <= per
        });
        // A block cut short says so at its last line shown.
        for (i, n) in taken.iter().enumerate() {
            if *n > per
                && let Some((_, _, l)) = lines.iter_mut().rfind(|(b, _, _)| *b == i)
            {
                l.spans.push(Span::styled(" …", app.theme.dimmed()));
            }
        }
    }
    let head = lines
        .iter()
        .position(|(block, first, _)| *block == app.core_selected && *first)
        .unwrap_or(0);
    let top = if lines.len() <= height {
        0
    } else {
        head.min(lines.len() - height)
    };
    for (k, (block, _, _)) in lines.iter().skip(top).take(height).enumerate() {
        drawn.hits.push((
            Rect::new(inner.x, inner.y + k as u16, inner.width, 1),
            Hit::Row(Focus::Core, *block),
        ));
    }
    let more_below = lines.len() > top + height;
    let mut shown: Vec<Line> = lines
        .into_iter()
        .skip(top)
        .take(height)
        .map(|(_, _, l)| l)
        .collect();
    if top > 0
        && let Some(first) = shown.first_mut()
    {
        first
            .spans
            .insert(0, Span::styled("↑ ", app.theme.dimmed()));
    }
    // What the pane cannot show below says it is there.
    if more_below && let Some(last) = shown.last_mut() {
        last.spans.insert(0, Span::styled("↓ ", app.theme.dimmed()));
    }
    frame.render_widget(Paragraph::new(shown), inner);
}

/// The core pane's lines for `width` columns, each block whole: (block index, is the block's
/// head, line).
pub(super) fn core_lines(app: &App, width: u16) -> Vec<(usize, bool, Line<'static>)> {
    let th = &app.theme;
    let mut lines = Vec::new();
    for (i, b) in app.core.iter().enumerate() {
        let sel = i == app.core_selected && app.focus == Focus::Core;
        let used = b.chars();
        let over = used as f64 / b.limit.max(1) as f64;
        let count_style = Style::default().fg(if over > 0.9 { th.warning } else { th.dim });
        let mut head = vec![
            Span::styled(format!("{} ", text::visible(&b.label)), th.title(sel)),
            Span::styled(format!("{used}/{}", b.limit), count_style),
        ];
        if b.read_only {
            head.push(Span::styled(" read-only", th.dimmed()));
        }
        let mut line = Line::from(head);
        if sel {
            line = line.style(th.selected());
        }
        lines.push((i, true, line));
        let body_w = width.saturating_sub(2) as usize;
        for l in crate::tui::convo::wrap(&text::visible(&b.value), body_w) {
            lines.push((
                i,
                false,
                Line::from(Span::styled(format!("  {l}"), Style::default().fg(th.fg))),
            ));
        }
    }
    lines
}

pub fn stores(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    drawn.areas.push((Focus::Stores, area));
    let s = &app.stores;
    let th = &app.theme;
    let (a, r) = (s.archival.total, s.recall.total);
    let title = format!(" {} ", Focus::Stores.title());
    let block = pane_block(app, Focus::Stores, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let tab = |name: &str, n: usize, on: bool| {
        let style = if on {
            th.title(true).add_modifier(Modifier::UNDERLINED)
        } else {
            th.dimmed()
        };
        Span::styled(format!(" {name} ({n}) "), style)
    };
    let header = vec![
        tab("Archival", a, s.tab == StoreTab::Archival),
        Span::raw(" "),
        tab("Recall", r, s.tab == StoreTab::Recall),
    ];
    let archival_w = header[0].width() as u16;
    drawn.hits.push((
        Rect::new(inner.x, inner.y, archival_w, 1),
        Hit::StoreTab(StoreTab::Archival),
    ));
    drawn.hits.push((
        Rect::new(
            inner.x + archival_w + 1,
            inner.y,
            header[2].width() as u16,
            1,
        ),
        Hit::StoreTab(StoreTab::Recall),
    ));
    let mut lines = vec![Line::from(header)];
    if let Some((q, l)) = &s.search {
        lines.push(Line::from(Span::styled(
            format!(
                "/{} · {} found{} (Esc clears)",
                text::visible(q),
                l.total,
                if l.total > l.rows.len() {
                    format!(", best {} shown", l.rows.len())
                } else {
                    String::new()
                }
            ),
            Style::default().fg(th.accent),
        )));
        if let Some(n) = &l.note {
            lines.push(Line::from(Span::styled(n.clone(), th.dimmed())));
        }
    }
    let list = s.shown();
    if s.search.is_none() && list.total > list.rows.len() {
        lines.push(Line::from(Span::styled(
            format!("newest {} of {}", list.rows.len(), list.total),
            th.dimmed(),
        )));
    }
    let height = (inner.height as usize).saturating_sub(lines.len());
    if !list.loaded && s.search.is_none() {
        lines.push(Line::from(Span::styled("loading…", th.dimmed())));
    } else if list.rows.is_empty() {
        lines.push(Line::from(Span::styled(
            if s.search.is_some() {
                "no results"
            } else {
                "empty"
            },
            th.dimmed(),
        )));
    }
    let w = inner.width as usize;
    for i in window(list.rows.len(), list.selected, height) {
        let row = &list.rows[i];
        let head = format!("#{:<5} {} {:<9} ", row.id, row.time, row.tag);
        let room = w.saturating_sub(head.chars().count());
        let mut line = Line::from(vec![
            Span::styled(head, th.dimmed()),
            Span::styled(text::one_line(&row.text, room), Style::default().fg(th.fg)),
        ]);
        if i == list.selected && app.focus == Focus::Stores {
            line = line.style(th.selected());
        }
        let y = inner.y + lines.len() as u16;
        if y < inner.bottom() {
            drawn.hits.push((
                Rect::new(inner.x, y, inner.width, 1),
                Hit::Row(Focus::Stores, i),
            ));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn log(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    drawn.areas.push((Focus::Log, area));
    let th = &app.theme;
    let block = pane_block(
        app,
        Focus::Log,
        format!(" {} ({}) ", Focus::Log.title(), app.log.len()),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height.saturating_sub(1) as usize;
    let range = window(app.log.len(), app.log_selected, height);
    // Columns follow the width: the function column as wide as its longest name, the time and
    // heartbeat only where there is room, and arguments and message share the rest.
    let name_w = app.log[range.clone()]
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 28) as u16;
    let roomy = inner.width >= 90;
    let fixed = 4 + name_w + 6 + if roomy { 2 + 8 + 2 } else { 0 } + 4;
    let rest = inner.width.saturating_sub(fixed) as usize;
    let shown = &app.log[range.clone()];
    let need = |f: fn(&crate::tui::app::LogEntry) -> &str| {
        shown
            .iter()
            .map(|l| {
                f(l).split_whitespace()
                    .map(|w| w.chars().count() + 1)
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0)
    };
    let (args_need, msg_need) = (need(|l| &l.args), need(|l| &l.message));
    // Each gets what it needs when both fit; else the arguments at least two fifths.
    let args_w = if args_need + msg_need <= rest {
        args_need
    } else {
        (rest * 2 / 5)
            .max(rest.saturating_sub(msg_need))
            .min(args_need)
    }
    .max("arguments".len());
    let msg_w = rest.saturating_sub(args_w).max("message".len());
    for (k, i) in range.clone().enumerate() {
        let y = inner.y + 1 + k as u16;
        if y < inner.bottom() {
            drawn.hits.push((
                Rect::new(inner.x, y, inner.width, 1),
                Hit::Row(Focus::Log, i),
            ));
        }
    }
    let rows: Vec<Row> = range
        .map(|i| {
            let l = &app.log[i];
            let (status, style) = match l.status {
                Some(Status::Ok) => ("OK", Style::default().fg(th.ok)),
                Some(Status::Failed) => ("Failed", Style::default().fg(th.failed)),
                None => ("…", th.dimmed()),
            };
            let name_style = if l.manual {
                Style::default().fg(th.accent)
            } else {
                Style::default().fg(th.function)
            };
            let mut cells = vec![
                Cell::from(Span::styled(l.step.to_string(), th.dimmed())),
                Cell::from(Span::styled(l.name.clone(), name_style)),
                Cell::from(Span::styled(
                    text::one_line(&l.args, args_w),
                    Style::default().fg(th.fg),
                )),
                Cell::from(Span::styled(status, style)),
                Cell::from(Span::styled(text::one_line(&l.message, msg_w), th.dimmed())),
            ];
            if roomy {
                cells.push(Cell::from(match l.heartbeat {
                    Some(true) => "♥",
                    _ => "",
                }));
                cells.push(Cell::from(Span::styled(
                    l.duration_ms
                        .map(|d| format!("{d:.1}ms"))
                        .unwrap_or_default(),
                    th.dimmed(),
                )));
            }
            let mut row = Row::new(cells);
            if i == app.log_selected && app.focus == Focus::Log {
                row = row.style(th.selected());
            }
            row
        })
        .collect();
    let mut titles = vec!["step", "function", "arguments", "result", "message"];
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(name_w),
        Constraint::Length(args_w as u16),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    if roomy {
        titles.extend(["hb", "time"]);
        widths.extend([Constraint::Length(2), Constraint::Length(8)]);
    }
    let header = Row::new(titles).style(th.dimmed().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths).header(header);
    frame.render_widget(table, inner);
}
