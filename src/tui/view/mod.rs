//! Drawing: pure functions from an [`App`] to a frame.
//!
//! Contract: drawing only reads the app (a conversation's wrap-height cache aside) and reports
//! the layout back as [`Drawn`], which the runtime hands to [`App::layout`] for the mouse and
//! for paging. Nothing here waits on anything; each pane builds only what is visible. At 120×35 or
//! larger all panes show at once; smaller terminals get one pane at a time with a tab bar; below
//! [`MIN_WIDTH`]×[`MIN_HEIGHT`] a message says so instead of drawing garbage.

mod agents;
mod budget;
mod modal;
mod panes;
mod status;
mod steps;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::app::{App, Focus};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
pub const FULL_WIDTH: u16 = 120;
pub const FULL_HEIGHT: u16 = 35;

/// The text of a drawn buffer, one line per row (for tests, benchmarks and snapshots).
pub fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::with_capacity((buf.area.width as usize + 1) * buf.area.height as usize);
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Where a frame put things, for the app to know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drawn {
    /// Each pane's area (for the mouse).
    pub areas: Vec<(Focus, Rect)>,
    /// The conversation's text area, width × height, when it was drawn.
    pub convo: Option<(u16, u16)>,
    /// How far the open help or detail pop-up can scroll (its text less what fits).
    pub modal_scroll_max: Option<u16>,
    /// What a click at a place selects: list rows, the stores' tabs.
    pub hits: Vec<(Rect, Hit)>,
}

/// Something a mouse click picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Row `index` of a pane's list (a core block, a stored row, a log row).
    Row(Focus, usize),
    StoreTab(crate::tui::app::StoreTab),
}

pub fn draw(frame: &mut Frame, app: &App) -> Drawn {
    let mut drawn = Drawn::default();
    let area = frame.area();
    frame.render_widget(Block::default().style(app.theme.base()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "memscope needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}. Enlarge it, or press Ctrl-C to quit.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(msg)
                .style(app.theme.base())
                .wrap(Wrap { trim: true }),
            area,
        );
        return drawn;
    }
    let [main, status] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(status::status_height(app, area.width)),
    ])
    .areas(area);
    if area.width >= FULL_WIDTH && area.height >= FULL_HEIGHT {
        draw_full(frame, app, &mut drawn, main);
    } else {
        draw_tabs(frame, app, &mut drawn, main);
    }
    status::status(frame, app, status);
    if app.modal.is_some() {
        drawn.modal_scroll_max = modal::draw(frame, app, area);
    }
    drawn
}

/// The input box's height for `width` columns: every row of what is typed, as wrapped, up to
/// six (then it scrolls with the cursor), plus its borders.
fn input_height(app: &App, width: u16) -> u16 {
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = app
        .input
        .lines()
        .iter()
        .map(|l| {
            let w = unicode_width::UnicodeWidthStr::width(l.as_str()) + 1;
            w.div_ceil(inner).max(1)
        })
        .sum();
    (rows as u16).clamp(1, 6) + 2
}

/// The core pane's height: every block whole when that fits in `room` beside a stores pane of
/// at least six rows; else what is left (the pane scrolls to the block selected).
fn core_height(app: &App, width: u16, room: u16) -> u16 {
    let need = panes::core_lines(app, width.saturating_sub(2)).len() as u16 + 2;
    need.clamp(5, room.saturating_sub(6).max(5))
}

fn draw_full(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    let [top, log] = Layout::vertical([Constraint::Fill(1), Constraint::Length(8)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)]).areas(top);
    let [convo, input] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(input_height(app, left.width)),
    ])
    .areas(left);
    let core_h = core_height(app, right.width, right.height.saturating_sub(13));
    let [budget, core, stores] = Layout::vertical([
        Constraint::Length(13),
        Constraint::Length(core_h),
        Constraint::Fill(1),
    ])
    .areas(right);
    panes::conversation(frame, app, drawn, convo);
    panes::input(frame, app, drawn, input);
    budget::budget(frame, app, drawn, budget);
    panes::core(frame, app, drawn, core);
    panes::stores(frame, app, drawn, stores);
    panes::log(frame, app, drawn, log);
}

fn draw_tabs(frame: &mut Frame, app: &App, drawn: &mut Drawn, area: Rect) {
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let shown = if app.focus == Focus::Input {
        Focus::Conversation
    } else {
        app.focus
    };
    let mut spans = Vec::new();
    for f in &Focus::PANES[1..] {
        let style = if *f == shown {
            app.theme.title(true).patch(app.theme.selected())
        } else {
            app.theme.dimmed()
        };
        // A click on a tab's label shows that pane.
        let x = bar.x + Line::from(spans.clone()).width() as u16;
        let label = format!(" {} ", f.title());
        let w = (label.chars().count() as u16).min(bar.right().saturating_sub(x));
        drawn.areas.push((*f, Rect::new(x, bar.y, w, 1)));
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::default()),
        bar,
    );
    match shown {
        Focus::Conversation | Focus::Input => {
            let [convo, input] = Layout::vertical([
                Constraint::Fill(1),
                Constraint::Length(input_height(app, body.width)),
            ])
            .areas(body);
            panes::conversation(frame, app, drawn, convo);
            panes::input(frame, app, drawn, input);
        }
        Focus::Budget => budget::budget(frame, app, drawn, body),
        Focus::Core => panes::core(frame, app, drawn, body),
        Focus::Stores => panes::stores(frame, app, drawn, body),
        Focus::Log => panes::log(frame, app, drawn, body),
    }
}
