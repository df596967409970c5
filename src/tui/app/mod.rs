//! The TUI's state and its one update function: events in, effects out.
//!
//! Contract: [`App::update`] is pure apart from the clock value it is given: it never touches
//! the terminal, the network or the disk. What must happen outside is returned as [`Effect`]s
//! (a command for the engine, a background load, quitting) for the runtime to carry out. The
//! views in `view/` only read an `App`.

use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use tui_textarea::{TextArea, WrapMode};

use super::convo::{Conversation, Entry, EntryKind};
use super::keymap::Keymap;
use super::theme::Theme;
use crate::engine::Command;
use crate::memory::Block;
use crate::text;
use crate::tokens::Budget;

mod agents;
mod copy;
mod events;
mod keys;
mod modal;
pub mod slash;
mod steps;
mod types;

pub use agents::{AgentForm, AgentOp, AgentRow, AgentsScreen, AgentsView, FORM_FIELDS, NewAgent};
pub use slash::{Slash, slash};

pub use types::*;
pub struct App {
    pub agent: String,
    pub model: Option<String>,
    pub endpoint: Option<String>,
    /// `watch` mode: nothing can be changed from here.
    pub read_only: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    pub focus: Focus,
    pub modal: Option<Modal>,
    pub convo: Conversation,
    pub input: TextArea<'static>,
    pub sent: Vec<String>,
    sent_pos: Option<usize>,
    pub budget: Budget,
    pub core: Vec<Block>,
    pub core_selected: usize,
    pub stores: Stores,
    pub log: Vec<LogEntry>,
    pub log_selected: usize,
    pub run: RunState,
    pub step_mode: bool,
    /// How the agent talks to its model (tool mode, no-tool replies).
    pub policy: String,
    pub step: u64,
    /// The last thing that went wrong, shown in the status bar until the next message.
    pub error: Option<String>,
    /// A one-off note for the status bar; it goes after [`NOTICE_FOR`].
    pub notice: Option<String>,
    /// When the notice shown was set.
    notice_since: Instant,
    pub now: Instant,
    /// Where each pane was last drawn (for the mouse); set by the view.
    pub areas: Vec<(Focus, Rect)>,
    /// What a click selects where (rows, the stores' tabs), as last drawn.
    pub hits: Vec<(Rect, crate::tui::view::Hit)>,
    /// Lines the conversation pane showed last frame (for paging).
    pub convo_height: u16,
    pub convo_width: u16,
    pub quit: bool,
    /// The engine task has ended; nothing can be sent any more.
    pub engine_stopped: bool,
    /// Messages sent whose commit the engine has not reported yet (its `user_message`
    /// event), oldest first: if the engine stops first, the text goes back in the input box.
    pub unconfirmed: Vec<String>,
    /// Journal entries below this sequence number are history (the rest arrive live).
    pub history_before: u64,
    /// A `/load` under way: how far it is.
    pub loading: Option<crate::transfer::load::Progress>,
    /// The terminal has the mouse (its own selection works; memscope's clicks do not).
    pub mouse_released: bool,
    /// Messages saved while no model was configured, waiting for one.
    pub unanswered: u32,
    /// The agent's system instructions as the model reads them.
    pub instructions: String,
    /// They are the agent's own (not memscope's default).
    pub instructions_custom: bool,
}

/// The most earlier inputs ↑ brings back from the journal.
pub const SENT_KEPT: usize = 1000;

/// How long a notice stays in the status bar (errors stay until the next message).
pub const NOTICE_FOR: Duration = Duration::from_secs(6);

pub(super) const INPUT_HINT: &str =
    "Type a message · Enter sends · Alt-Enter new line · Esc to the panes";

pub(super) fn new_area(placeholder: &str) -> TextArea<'static> {
    area_with(Vec::new(), placeholder)
}

/// An input area holding `lines`, the cursor at their start (so the start shows).
pub(super) fn area_with(lines: Vec<String>, placeholder: &str) -> TextArea<'static> {
    let mut t = if lines.is_empty() {
        TextArea::default()
    } else {
        TextArea::from(lines)
    };
    t.move_cursor(tui_textarea::CursorMove::Top);
    t.move_cursor(tui_textarea::CursorMove::Head);
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

pub struct AppInit {
    /// The journal's next sequence number when the app starts.
    pub history_before: u64,
    pub agent: String,
    pub model: Option<String>,
    pub endpoint: Option<String>,
    pub read_only: bool,
    pub theme: Theme,
    pub keymap: Keymap,
    pub core: Vec<Block>,
    pub budget: Budget,
    pub policy: String,
    pub step: u64,
    pub now: Instant,
    /// The agent's system instructions, and whether they are its own.
    pub instructions: String,
    pub instructions_custom: bool,
}

impl App {
    pub fn new(init: AppInit) -> App {
        let placeholder = if init.read_only {
            "watching another memscope process (read-only)"
        } else {
            INPUT_HINT
        };
        App {
            agent: init.agent,
            model: init.model,
            endpoint: init.endpoint,
            read_only: init.read_only,
            theme: init.theme,
            keymap: init.keymap,
            focus: if init.read_only {
                Focus::Conversation
            } else {
                Focus::Input
            },
            modal: None,
            convo: Conversation::default(),
            input: new_area(placeholder),
            sent: Vec::new(),
            sent_pos: None,
            budget: init.budget,
            core: init.core,
            core_selected: 0,
            stores: Stores {
                tab: StoreTab::Archival,
                archival: StoreList::default(),
                recall: StoreList::default(),
                search: None,
            },
            log: Vec::new(),
            log_selected: 0,
            run: RunState::Idle,
            step_mode: false,
            step: init.step,
            policy: init.policy,
            error: None,
            notice: None,
            notice_since: init.now,
            now: init.now,
            areas: Vec::new(),
            hits: Vec::new(),
            convo_height: 20,
            convo_width: 60,
            quit: false,
            engine_stopped: false,
            unconfirmed: Vec::new(),
            history_before: init.history_before,
            loading: None,
            mouse_released: false,
            unanswered: 0,
            instructions: init.instructions,
            instructions_custom: init.instructions_custom,
        }
    }

    /// Puts text the engine did not save back in the input box, before whatever is typed there
    /// now.
    pub(super) fn give_back(&mut self, text: &str) {
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        if !self.input.is_empty() {
            lines.extend(self.input.lines().iter().cloned());
        }
        self.input = area_with(lines, INPUT_HINT);
    }

    /// Effects to run once at start: fill the stores pane.
    pub fn start_effects(&self) -> Vec<Effect> {
        vec![Effect::Load(Load::Archival), Effect::Load(Load::Recall)]
    }

    /// Applies one event; a notice that has been shown for [`NOTICE_FOR`] goes.
    pub fn update(&mut self, ev: AppEvent, now: Instant) -> Vec<Effect> {
        let before = self.notice.clone();
        let fx = self.update_inner(ev, now);
        if self.notice != before {
            self.notice_since = now;
        } else if self.notice.is_some() && now >= self.notice_since + NOTICE_FOR {
            self.notice = None;
        }
        fx
    }

    /// When the notice shown goes (the runtime wakes then to redraw).
    pub fn notice_expires(&self) -> Option<Instant> {
        self.notice.as_ref().map(|_| self.notice_since + NOTICE_FOR)
    }

    fn update_inner(&mut self, ev: AppEvent, now: Instant) -> Vec<Effect> {
        self.now = now;
        match ev {
            AppEvent::Tick => Vec::new(),
            AppEvent::Engine(e) => self.on_engine(e),
            AppEvent::Loaded(l) => self.on_loaded(l),
            AppEvent::Signal(name) => {
                self.notice = Some(format!("{name}: quitting"));
                self.quit()
            }
            AppEvent::EngineStopped(why) => {
                let why = text::visible(&why);
                super::transcript::drop_streaming(&mut self.convo);
                self.run = RunState::Idle;
                self.loading = None;
                self.engine_stopped = true;
                // A message the engine never reported saved is not lost: it is typed again.
                let restored = !self.unconfirmed.is_empty();
                if restored {
                    let text = std::mem::take(&mut self.unconfirmed).join("\n");
                    self.give_back(&text);
                }
                self.convo.push(Entry::new(
                    EntryKind::Error,
                    &format!(
                        "engine_stopped: {why}{}",
                        if restored {
                            " — your unsaved message is back in the input box"
                        } else {
                            ""
                        }
                    ),
                ));
                self.error = Some(format!(
                    "the engine stopped ({why}); what was committed is safe · Ctrl-C quits"
                ));
                Vec::new()
            }
            AppEvent::Paste(s) => {
                // Terminals send line ends of pasted text as CR (or CR LF).
                let s = s.replace("\r\n", "\n").replace('\r', "\n");
                match (&mut self.modal, self.focus) {
                    (
                        Some(
                            Modal::EditCore { area, .. }
                            | Modal::Insert { area }
                            | Modal::Search { area }
                            | Modal::EditInstructions { area, .. },
                        ),
                        _,
                    ) => {
                        area.insert_str(&s);
                    }
                    (Some(Modal::Agents(v)), _) => match &mut v.screen {
                        AgentsScreen::Create(form) => {
                            let focus = form.focus;
                            form.fields[focus].insert_str(&s);
                        }
                        AgentsScreen::Rename { area, .. } => {
                            area.insert_str(s.replace('\n', " "));
                        }
                        _ => {}
                    },
                    (None, Focus::Input) if !self.read_only => {
                        self.input.insert_str(&s);
                    }
                    _ => {}
                }
                Vec::new()
            }
            AppEvent::Mouse(m) => self.on_mouse(m),
            AppEvent::Key(k) => self.on_key(k),
        }
    }

    pub(super) fn quit(&mut self) -> Vec<Effect> {
        self.quit = true;
        let mut fx = Vec::new();
        // A load stops too; what it committed stays.
        if self.waiting() {
            fx.push(Effect::Engine(Command::Interrupt));
        }
        fx.push(Effect::Quit);
        fx
    }

    /// Takes in where the last frame put things: pane areas for the mouse, the conversation's
    /// size for paging, and a scroll kept within what there is to scroll.
    pub fn layout(&mut self, drawn: crate::tui::view::Drawn) {
        self.areas = drawn.areas;
        self.hits = drawn.hits;
        // A pop-up never stays scrolled past its end (End, PageDown, j held down).
        if let Some(max) = drawn.modal_scroll_max {
            match self.modal.as_mut() {
                Some(Modal::Help { scroll } | Modal::Detail { scroll, .. }) => {
                    *scroll = (*scroll).min(max)
                }
                Some(Modal::Steps(v)) => {
                    if let StepsScreen::Detail { scroll, .. } | StepsScreen::Diff { scroll, .. } =
                        &mut v.screen
                    {
                        *scroll = (*scroll).min(max)
                    }
                }
                _ => {}
            }
        }
        if let Some((w, h)) = drawn.convo {
            self.convo_width = w;
            self.convo_height = h;
            self.convo.scroll = self.convo.scroll.min(self.convo.max_scroll(w, h));
        }
    }

    /// Seconds the model call has been running.
    pub fn elapsed(&self) -> Option<Duration> {
        match &self.run {
            RunState::Waiting { since, .. } => Some(self.now.saturating_duration_since(*since)),
            _ => None,
        }
    }
}

pub(super) fn set_rows(list: &mut StoreList, rows: Vec<Row>, total: usize) {
    list.selected = list.selected.min(rows.len().saturating_sub(1));
    list.total = total.max(rows.len());
    list.rows = rows;
    list.loaded = true;
}

pub(super) fn pretty(args: &str) -> String {
    serde_json::from_str::<serde_json::Value>(args)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .map(|s| text::visible(&s))
        .unwrap_or_else(|| args.to_string())
}
