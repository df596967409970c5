//! Drawing the agents view (the list, the new-agent form, rename and delete prompts) and the
//! system instructions editor.
//!
//! Contract: reads `&App` only; names and texts are printable already (the list is made so when
//! it is read, the form holds what the user typed).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use tui_textarea::TextArea;

use super::modal::{centered, confirm, frame_block};
use crate::tui::app::{AgentsScreen, AgentsView, App, FORM_FIELDS};
use crate::tui::theme::Theme;

fn hint(
    block: ratatui::widgets::Block<'static>,
    text: &str,
    theme: &Theme,
) -> ratatui::widgets::Block<'static> {
    block.title_bottom(Line::from(Span::styled(
        format!(" {text} "),
        theme.dimmed(),
    )))
}

pub fn draw(frame: &mut Frame, app: &App, v: &AgentsView, area: Rect) {
    let theme = &app.theme;
    match &v.screen {
        AgentsScreen::List | AgentsScreen::ConfirmDelete { .. } => {
            list(frame, app, v, area);
            if let AgentsScreen::ConfirmDelete { name, what } = &v.screen {
                confirm(
                    frame,
                    area,
                    theme,
                    format!("Delete the agent '{name}' and all its memory?"),
                    what.clone(),
                    "y deletes · any other key keeps it",
                );
            }
        }
        AgentsScreen::Rename { from, area: ta } => {
            list(frame, app, v, area);
            let r = centered(area, 60, 20);
            let r = Rect { height: 3, ..r };
            frame.render_widget(Clear, r);
            let mut ta = (**ta).clone();
            ta.set_block(hint(
                frame_block(format!("Rename '{from}'"), theme),
                "Enter renames · Esc cancels",
                theme,
            ));
            ta.set_style(Style::default().fg(theme.fg));
            ta.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
            frame.render_widget(&ta, r);
        }
        AgentsScreen::Create(form) => {
            let r = centered(area, 80, 90);
            frame.render_widget(Clear, r);
            let outer = hint(
                frame_block("New agent".into(), theme),
                "Tab next field · Ctrl-S creates and switches · Esc cancels",
                theme,
            );
            let inner = outer.inner(r);
            frame.render_widget(outer, r);
            let [name, persona, human, extra, error] = Layout::vertical([
                Constraint::Length(3),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Fill(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            for (i, at) in [name, persona, human, extra].into_iter().enumerate() {
                let mut ta: TextArea = form.fields[i].clone();
                let focused = form.focus == i;
                ta.set_block(
                    ratatui::widgets::Block::bordered()
                        .border_style(theme.border(focused))
                        .title(Span::styled(
                            format!(" {} ", FORM_FIELDS[i]),
                            theme.title(focused),
                        )),
                );
                ta.set_style(Style::default().fg(theme.fg));
                ta.set_cursor_style(if focused {
                    Style::default().add_modifier(Modifier::REVERSED)
                } else {
                    Style::default()
                });
                frame.render_widget(&ta, at);
            }
            if let Some(e) = &form.error {
                frame.render_widget(
                    Paragraph::new(Span::styled(e.clone(), Style::default().fg(theme.error))),
                    error,
                );
            }
        }
    }
}

fn list(frame: &mut Frame, app: &App, v: &AgentsView, area: Rect) {
    let theme = &app.theme;
    let r = centered(area, 80, 70);
    frame.render_widget(Clear, r);
    let block = hint(
        frame_block(format!("Agents · in use: {}", app.agent), theme),
        "Enter switch · n new · r rename · d delete · i instructions · Esc close",
        theme,
    );
    let mut lines = Vec::new();
    if !v.loaded {
        lines.push(Line::from(Span::styled(
            "reading the store…",
            theme.dimmed(),
        )));
    }
    let width = v
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    let height = r.height.saturating_sub(2) as usize;
    let first = v.selected.saturating_sub(height.saturating_sub(1));
    for (i, row) in v.rows.iter().enumerate().skip(first).take(height) {
        let current = row.name == app.agent;
        let mut name = row.name.clone();
        if name.chars().count() > width {
            name = name.chars().take(width - 1).collect::<String>() + "…";
        }
        let mark = if current { "●" } else { " " };
        let mut text = format!(
            "{mark} {name:<width$}  {:>5} steps  {:>6} messages  {:>6} passages  {}",
            row.steps, row.messages, row.passages, row.created,
        );
        // Narrow: the counts in short, and no date.
        if text.chars().count() > r.width.saturating_sub(2) as usize {
            text = format!(
                "{mark} {name:<width$}  {} steps · {} msgs · {} passages",
                row.steps, row.messages, row.passages
            );
        }
        let style = if i == v.selected {
            theme.selected()
        } else if current {
            Style::default().fg(theme.accent)
        } else {
            Style::default().fg(theme.fg)
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(Paragraph::new(lines).block(block), r);
}

/// The instructions editor; says whose they are and how to go back to memscope's own.
pub fn draw_instructions(
    frame: &mut Frame,
    app: &App,
    ta: &TextArea<'static>,
    custom: bool,
    area: Rect,
) {
    let theme = &app.theme;
    let r = centered(area, 90, 85);
    frame.render_widget(Clear, r);
    let whose = if custom {
        "the agent's own"
    } else {
        "memscope's default"
    };
    let mut ta = ta.clone();
    ta.set_block(hint(
        frame_block(
            format!("System instructions of {} · {whose}", app.agent),
            theme,
        ),
        "Ctrl-S saves · Ctrl-R memscope's own · Esc cancels · /system undo reverts a change",
        theme,
    ));
    ta.set_style(Style::default().fg(theme.fg));
    ta.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
    frame.render_widget(&ta, r);
}
