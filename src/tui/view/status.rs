//! The status bar: who and what is running, what is waiting, the last error or a notice,
//! hints, and the model and endpoint.
//!
//! Contract: reads `&App` only. What it has to say takes a second row rather than be cut; the
//! endpoint and policy at its end are what a narrow terminal loses.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::text;
use crate::tui::app::{App, Focus, RunState};
use crate::tui::keymap::Action;

/// The status bar, on two rows when what it says does not fit on one.
pub fn status(frame: &mut Frame, app: &App, area: Rect) {
    let (mut said, tail) = status_spans(app);
    said.extend(tail);
    frame.render_widget(
        Paragraph::new(Line::from(said)).wrap(ratatui::widgets::Wrap { trim: false }),
        area,
    );
}

/// Rows the status bar needs at `width` columns: two when what it has to say (a long notice
/// or error) does not fit on one; the endpoint and policy at its end are cut instead.
pub fn status_height(app: &App, width: u16) -> u16 {
    let (said, _) = status_spans(app);
    if Line::from(said).width() > width as usize {
        2
    } else {
        1
    }
}

/// What the status bar says, and the tail it can lose to a narrow terminal.
fn status_spans(app: &App) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
    let th = &app.theme;
    let k = &app.keymap;
    let mut spans = vec![Span::styled(
        format!(" {} ", text::visible(&app.agent)),
        th.title(true).patch(th.selected()),
    )];
    let endpoint = match (&app.model, &app.endpoint) {
        (Some(m), Some(e)) => Span::styled(
            format!(" {} @ {}", text::visible(m), text::visible(e)),
            th.dimmed(),
        ),
        _ if app.read_only => Span::styled(" watching (read-only)", th.dimmed()),
        // An endpoint whose model is not known yet (the engine asks its /models).
        (None, Some(e)) => Span::styled(
            format!(" asking {} which model it serves…", text::visible(e)),
            th.dimmed(),
        ),
        _ => Span::styled(
            " no model yet: /endpoint URL (or start with --base-url); memory can be browsed and edited",
            Style::default().fg(th.warning),
        ),
    };
    let state = match &app.run {
        RunState::Idle => match &app.error {
            // A newer notice is not pushed off the bar by an older error: the error shrinks.
            Some(e) if app.notice.is_some() => Span::styled(
                format!(" ✖ error: {} ", text::one_line(e, 48)),
                Style::default().fg(th.error),
            ),
            Some(e) => Span::styled(format!(" ✖ error: {e} "), Style::default().fg(th.error)),
            None => Span::styled(" ● idle ", Style::default().fg(th.ok)),
        },
        RunState::Waiting { trigger, .. } => Span::styled(
            format!(
                " ⏳ waiting for the model {:.0}s ({trigger}) · {} interrupts ",
                app.elapsed().unwrap_or_default().as_secs_f64().floor(),
                k.key_for(Action::Interrupt)
            ),
            Style::default().fg(th.warning),
        ),
        // Watch follows a writer that is paused: its keys are the writer's, not these.
        RunState::Paused { trigger } if app.read_only => Span::styled(
            format!(" ⏸ the writer is paused · next call: {trigger} "),
            Style::default().fg(th.accent).add_modifier(Modifier::BOLD),
        ),
        RunState::Paused { trigger } => Span::styled(
            format!(
                " ⏸ paused · next call: {trigger} · {}{} step · {} continue ",
                // In the input box those keys type: say how to reach them.
                if app.focus == Focus::Input {
                    "Esc, then "
                } else {
                    ""
                },
                k.key_for(Action::Step),
                k.key_for(Action::Continue)
            ),
            Style::default().fg(th.accent).add_modifier(Modifier::BOLD),
        ),
    };
    let state = match &app.loading {
        Some(p) => Span::styled(
            format!(
                " ⇪ loading {}/{} files · {} passages{} · {} stops ",
                p.files_done,
                p.files,
                p.passages,
                p.current
                    .as_deref()
                    .map(|c| format!(" · {}", text::one_line(&text::visible(c), 40)))
                    .unwrap_or_default(),
                k.key_for(Action::Interrupt)
            ),
            Style::default().fg(th.accent),
        ),
        None => state,
    };
    spans.push(state);
    if app.unanswered > 0 {
        spans.push(Span::styled(
            format!(
                " ✉ {} waiting for a model ",
                if app.unanswered == 1 {
                    "1 message".to_string()
                } else {
                    format!("{} messages", app.unanswered)
                }
            ),
            Style::default().fg(th.warning).add_modifier(Modifier::BOLD),
        ));
    }
    if app.mouse_released {
        spans.push(Span::styled(
            format!(
                " MOUSE FREE · {} takes it back ",
                k.key_for(Action::ReleaseMouse)
            ),
            Style::default().fg(th.bg).bg(th.warning),
        ));
    }
    if app.step_mode {
        spans.push(Span::styled(
            " STEP ",
            Style::default().fg(th.bg).bg(th.accent),
        ));
    }
    if let Some(n) = &app.notice {
        spans.push(Span::styled(format!(" {n} "), Style::default().fg(th.fg)));
    } else {
        let hints = if app.read_only {
            // Watch mode: only the keys that can act on a read-only view.
            format!(
                "{} help · {} next pane · {} quit",
                k.key_for(Action::Help),
                k.key_for(Action::FocusNext),
                k.key_for(Action::Quit)
            )
        } else if app.focus == Focus::Input {
            "Enter send · Esc panes · Ctrl-C quit".to_string()
        } else {
            format!(
                "{} input · {} help · {} step mode · {} quit",
                k.key_for(Action::FocusInput),
                k.key_for(Action::Help),
                k.key_for(Action::ToggleStepMode),
                k.key_for(Action::Quit)
            )
        };
        spans.push(Span::styled(format!(" {hints} "), th.dimmed()));
    }
    // The endpoint goes last: it never changes, so it is the first thing to lose to a narrow
    // terminal (unless nothing is configured, which is worth saying first, unless a load's
    // progress or a notice has something newer to say).
    let mut tail = Vec::new();
    if app.model.is_none()
        && app.endpoint.is_none()
        && !app.read_only
        && !app.engine_stopped
        && app.loading.is_none()
        && app.notice.is_none()
    {
        spans.insert(1, endpoint);
    } else {
        tail.push(endpoint);
        if !app.read_only && !app.policy.is_empty() {
            tail.push(Span::styled(format!(" · {}", app.policy), th.dimmed()));
        }
    }
    (spans, tail)
}
