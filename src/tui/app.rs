//! The TUI's state and its one update function: events in, effects out.
//!
//! Contract: [`App::update`] is pure apart from the clock value it is given: it never touches
//! the terminal, the network or the disk. What must happen outside is returned as [`Effect`]s
//! (a command for the engine, a background load, quitting) for the runtime to carry out. The
//! views in `view/` only read an `App`.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use tui_textarea::{TextArea, WrapMode};

use super::convo::{Conversation, Entry, EntryKind};
use super::keymap::{Action, Keymap};
use super::theme::Theme;
use crate::engine::{Command, EditSource, Event, EventKind, Status};
use crate::memory::Block;
use crate::text;
use crate::tokens::Budget;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Focus {
    Input,
    Conversation,
    Budget,
    Core,
    Stores,
    Log,
}

impl Focus {
    pub const PANES: [Focus; 6] = [
        Focus::Input,
        Focus::Conversation,
        Focus::Budget,
        Focus::Core,
        Focus::Stores,
        Focus::Log,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Focus::Input => "Input",
            Focus::Conversation => "1 Conversation",
            Focus::Budget => "2 Context budget",
            Focus::Core => "3 Core memory",
            Focus::Stores => "4 Stores",
            Focus::Log => "5 Function log",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreTab {
    Archival,
    Recall,
}

/// One row of the archival or recall list.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: u64,
    pub time: String,
    /// Role for recall rows, source for archival rows.
    pub tag: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct StoreList {
    /// Newest first.
    pub rows: Vec<Row>,
    pub selected: usize,
    pub loaded: bool,
}

#[derive(Debug)]
pub struct Stores {
    pub tab: StoreTab,
    pub archival: StoreList,
    pub recall: StoreList,
    /// Search results for the tab shown, with the query.
    pub search: Option<(String, StoreList)>,
}

impl Stores {
    pub fn shown(&self) -> &StoreList {
        match (&self.search, self.tab) {
            (Some((_, l)), _) => l,
            (None, StoreTab::Archival) => &self.archival,
            (None, StoreTab::Recall) => &self.recall,
        }
    }

    fn shown_mut(&mut self) -> &mut StoreList {
        match (&mut self.search, self.tab) {
            (Some((_, l)), _) => l,
            (None, StoreTab::Archival) => &mut self.archival,
            (None, StoreTab::Recall) => &mut self.recall,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub step: u64,
    pub name: String,
    pub args: String,
    pub status: Option<Status>,
    pub message: String,
    pub heartbeat: Option<bool>,
    pub duration_ms: Option<f64>,
    pub manual: bool,
    pub repairs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Idle,
    Waiting { since: Instant, trigger: String },
    Paused { trigger: String },
}

pub enum Modal {
    Help {
        scroll: u16,
    },
    EditCore {
        label: String,
        limit: usize,
        read_only: bool,
        area: TextArea<'static>,
        error: Option<String>,
    },
    Detail {
        title: String,
        text: String,
        scroll: u16,
    },
    Search {
        area: TextArea<'static>,
    },
    Insert {
        area: TextArea<'static>,
    },
    ConfirmDelete {
        id: u64,
        preview: String,
    },
}

/// Background reads the runtime performs for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Archival,
    Recall,
    Search { tab: StoreTab, query: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Engine(Command),
    Load(Load),
    Quit,
}

/// Results of background reads.
#[derive(Debug, Clone)]
pub enum Loaded {
    History {
        entries: Vec<Entry>,
        log: Vec<LogEntry>,
    },
    Archival(Vec<Row>),
    Recall(Vec<Row>),
    Search {
        tab: StoreTab,
        query: String,
        rows: Vec<Row>,
    },
    /// Watch mode: what the other process changed.
    Watched {
        entries: Vec<Entry>,
        log: Vec<LogEntry>,
        core: Vec<Block>,
        budget: Budget,
        step: u64,
    },
    Failed(String),
    /// A model server found on this machine (nothing was configured).
    Found {
        provider: &'static crate::providers::Provider,
        config: crate::model::ClientConfig,
    },
}

#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Engine(Event),
    Loaded(Loaded),
    /// Time passes (redraws the elapsed time while waiting).
    Tick,
    /// A signal asks memscope to stop (SIGTERM, SIGHUP, SIGINT).
    Signal(&'static str),
    /// The engine task ended on its own, with the reason.
    EngineStopped(String),
}

impl AppEvent {
    /// Events from the user (or on the user's behalf): a frame follows them at once.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            AppEvent::Key(_) | AppEvent::Mouse(_) | AppEvent::Paste(_) | AppEvent::Signal(_)
        )
    }
}

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
    /// A one-off note for the status bar.
    pub notice: Option<String>,
    pub now: Instant,
    /// Where each pane was last drawn (for the mouse); set by the view.
    pub areas: Vec<(Focus, Rect)>,
    /// Lines the conversation pane showed last frame (for paging).
    pub convo_height: u16,
    pub convo_width: u16,
    pub quit: bool,
    /// The conversation entry a streamed reply is being written into.
    pub streaming: Option<usize>,
    /// The engine task has ended; nothing can be sent any more.
    pub engine_stopped: bool,
}

const INPUT_HINT: &str = "Type a message · Enter sends · Alt-Enter new line · Esc to the panes";

fn new_area(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(ratatui::style::Style::default());
    t
}

pub struct AppInit {
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
            now: init.now,
            areas: Vec::new(),
            convo_height: 20,
            convo_width: 60,
            quit: false,
            streaming: None,
            engine_stopped: false,
        }
    }

    /// Effects to run once at start: fill the stores pane.
    pub fn start_effects(&self) -> Vec<Effect> {
        vec![Effect::Load(Load::Archival), Effect::Load(Load::Recall)]
    }

    pub fn update(&mut self, ev: AppEvent, now: Instant) -> Vec<Effect> {
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
                if self.streaming.take().is_some() {
                    self.convo.pop();
                }
                self.run = RunState::Idle;
                self.convo.push(Entry::new(
                    EntryKind::Error,
                    &format!("engine_stopped: {why}"),
                ));
                self.error = Some(format!(
                    "the engine stopped ({why}); what was committed is safe · Ctrl-C quits"
                ));
                self.engine_stopped = true;
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
                            | Modal::Search { area },
                        ),
                        _,
                    ) => {
                        area.insert_str(&s);
                    }
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

    // ----- engine events -------------------------------------------------------------------

    fn on_engine(&mut self, e: Event) -> Vec<Effect> {
        self.step = e.step;
        let mut fx = Vec::new();
        match e.kind {
            EventKind::Ready {
                model,
                base_url,
                policy,
                ..
            } => {
                self.model = model;
                self.endpoint = base_url;
                self.policy = policy;
            }
            EventKind::UserMessage { text, .. } => {
                self.convo.push(Entry::new(EntryKind::User, &text));
                self.convo.scroll = 0;
            }
            EventKind::ModelCall { trigger } => {
                self.run = RunState::Waiting {
                    since: self.now,
                    trigger: trigger.to_string(),
                };
            }
            EventKind::Retry {
                message,
                attempt,
                wait_ms,
                ..
            } => {
                // The stream starts over.
                if self.streaming.take().is_some() {
                    self.convo.pop();
                }
                self.notice = Some(format!(
                    "retry {attempt} in {:.1}s: {}",
                    wait_ms as f64 / 1000.0,
                    text::visible(&message)
                ));
            }
            EventKind::Paused { trigger, budget } => {
                self.run = RunState::Paused {
                    trigger: trigger.to_string(),
                };
                self.budget = budget;
            }
            EventKind::ThoughtDelta { text } => match self.streaming {
                Some(i) => self.convo.append(i, &text),
                None => {
                    self.convo.push(Entry::new(EntryKind::Thought, &text));
                    self.streaming = Some(self.convo.entries.len() - 1);
                }
            },
            EventKind::Thought { text } => match self.streaming.take() {
                Some(i) => self.convo.set(i, EntryKind::Thought, &text),
                None => self.convo.push(Entry::new(EntryKind::Thought, &text)),
            },
            EventKind::FunctionCall {
                name,
                arguments,
                call_id,
                repairs,
            } => {
                let args = match &arguments {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                self.convo.push(Entry::new(
                    EntryKind::Call {
                        name: text::visible(&name),
                        args: text::visible(&args),
                        call_id: text::visible(&call_id),
                        result: None,
                    },
                    "",
                ));
                self.log.push(LogEntry {
                    step: e.step,
                    name: text::visible(&name),
                    args: text::visible(&args),
                    status: None,
                    message: String::new(),
                    heartbeat: None,
                    duration_ms: None,
                    manual: false,
                    repairs: repairs.iter().map(|r| text::visible(r)).collect(),
                });
                self.log_selected = self.log.len() - 1;
            }
            EventKind::FunctionReturn {
                name,
                status,
                message,
                heartbeat,
                duration_ms,
            } => {
                if let Some(id) = self
                    .convo
                    .entries
                    .iter()
                    .rev()
                    .find_map(|en| match &en.kind {
                        EntryKind::Call {
                            name: n,
                            call_id,
                            result: None,
                            ..
                        } if *n == text::visible(&name) => Some(call_id.clone()),
                        _ => None,
                    })
                {
                    self.convo.complete_call(&id, status, &message);
                }
                if let Some(l) = self
                    .log
                    .iter_mut()
                    .rev()
                    .find(|l| l.status.is_none() && l.name == text::visible(&name))
                {
                    l.status = Some(status);
                    l.message = text::visible(&message);
                    l.heartbeat = Some(heartbeat);
                    l.duration_ms = Some(duration_ms);
                }
            }
            EventKind::AssistantMessage { text } => match self.streaming.take() {
                // Under the "message" policy the streamed text was the message itself.
                Some(i)
                    if self
                        .convo
                        .entries
                        .get(i)
                        .is_some_and(|e| e.kind == EntryKind::Thought) =>
                {
                    self.convo.set(i, EntryKind::Agent, &text)
                }
                _ => self.convo.push(Entry::new(EntryKind::Agent, &text)),
            },
            EventKind::Heartbeat { reason } => self
                .convo
                .push(Entry::new(EntryKind::System("heartbeat"), &reason)),
            EventKind::MemoryWarning { message, .. } => self
                .convo
                .push(Entry::new(EntryKind::System("memory warning"), &message)),
            EventKind::Summary { evicted, summary } => {
                self.convo.push(Entry::new(
                    EntryKind::System("summary"),
                    &format!(
                        "{evicted} messages evicted from the context into the summary: {summary}"
                    ),
                ));
                fx.push(Effect::Load(Load::Recall));
            }
            EventKind::CoreMemoryUpdated {
                label,
                value,
                chars,
                limit,
                source,
            } => {
                match self.core.iter_mut().find(|b| b.label == label) {
                    Some(b) => {
                        b.value = value;
                        b.limit = limit;
                    }
                    None => self.core.push(Block {
                        limit,
                        ..Block::new(&label, &value)
                    }),
                }
                if source == EditSource::User {
                    self.log.push(LogEntry {
                        step: e.step,
                        name: format!("edit {label}"),
                        args: "(manual edit in memscope)".into(),
                        status: Some(Status::Ok),
                        message: format!("block '{label}' now holds {chars}/{limit} characters"),
                        heartbeat: Some(false),
                        duration_ms: None,
                        manual: true,
                        repairs: Vec::new(),
                    });
                    self.log_selected = self.log.len() - 1;
                    self.notice = Some(format!("saved {label} ({chars}/{limit})"));
                }
            }
            EventKind::ArchivalEdited { message, .. } => {
                self.notice = Some(text::visible(&message));
                fx.push(Effect::Load(Load::Archival));
            }
            EventKind::Budget(b) => self.budget = b,
            EventKind::Error { kind, message } => {
                let message = text::visible(&message);
                if self.streaming.take().is_some() {
                    self.convo.pop();
                }
                if kind == "edit_refused" {
                    self.notice = Some(message.clone());
                } else {
                    self.convo
                        .push(Entry::new(EntryKind::Error, &format!("{kind}: {message}")));
                    self.error = Some(message);
                }
            }
            EventKind::ChainEnded { .. } => {
                self.run = RunState::Idle;
                fx.push(Effect::Load(Load::Recall));
                fx.push(Effect::Load(Load::Archival));
            }
        }
        fx
    }

    fn on_loaded(&mut self, l: Loaded) -> Vec<Effect> {
        match l {
            Loaded::History { entries, log } => {
                let live = std::mem::take(&mut self.convo.entries);
                for e in entries.into_iter().chain(live) {
                    self.convo.push(e);
                }
                let live_log = std::mem::take(&mut self.log);
                self.log = log.into_iter().chain(live_log).collect();
                self.log_selected = self.log.len().saturating_sub(1);
            }
            Loaded::Archival(rows) => set_rows(&mut self.stores.archival, rows),
            Loaded::Recall(rows) => set_rows(&mut self.stores.recall, rows),
            Loaded::Search { tab, query, rows } => {
                self.stores.tab = tab;
                let mut list = StoreList::default();
                set_rows(&mut list, rows);
                self.stores.search = Some((query, list));
            }
            Loaded::Watched {
                entries,
                log,
                core,
                budget,
                step,
            } => {
                let at_bottom = self.convo.scroll == 0;
                for e in entries {
                    self.convo.push(e);
                }
                if at_bottom {
                    self.convo.scroll = 0;
                }
                self.log.extend(log);
                self.core = core;
                self.budget = budget;
                self.step = step;
                return vec![Effect::Load(Load::Archival), Effect::Load(Load::Recall)];
            }
            Loaded::Failed(e) => self.error = Some(text::visible(&e)),
            Loaded::Found { provider, config } => {
                // Shown at once; the engine's `ready` confirms (or corrects the model name).
                self.model = Some(config.model.clone());
                self.endpoint = Some(config.base_url.clone());
                self.notice = Some(format!(
                    "no endpoint was configured; connected to the {} found at {}",
                    provider.label, config.base_url
                ));
                return vec![Effect::Engine(Command::Connect {
                    client: config,
                    provider: Some(provider),
                })];
            }
        }
        Vec::new()
    }

    // ----- input ---------------------------------------------------------------------------

    fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        let pos = Position::new(m.column, m.row);
        let over = self
            .areas
            .iter()
            .find(|(_, r)| r.contains(pos))
            .map(|(f, _)| *f);
        match m.kind {
            MouseEventKind::ScrollUp if over == Some(Focus::Conversation) || over.is_none() => {
                self.convo.scroll += 3
            }
            MouseEventKind::ScrollDown if over == Some(Focus::Conversation) || over.is_none() => {
                self.convo.scroll = self.convo.scroll.saturating_sub(3)
            }
            MouseEventKind::ScrollUp => self.move_selection(-1),
            MouseEventKind::ScrollDown => self.move_selection(1),
            MouseEventKind::Down(_) if self.modal.is_none() => {
                if let Some(f) = over {
                    self.set_focus(f);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn set_focus(&mut self, f: Focus) {
        if f == Focus::Input && self.read_only {
            self.notice = Some("watch mode is read-only".into());
            return;
        }
        self.focus = f;
        if f == Focus::Conversation
            && self.convo.selected.is_none()
            && !self.convo.entries.is_empty()
        {
            self.convo.selected = Some(self.convo.entries.len() - 1);
        }
    }

    fn cycle_focus(&mut self, delta: isize) {
        let panes: Vec<Focus> = Focus::PANES
            .iter()
            .copied()
            .filter(|f| !(self.read_only && *f == Focus::Input))
            .collect();
        let i = panes.iter().position(|f| *f == self.focus).unwrap_or(0) as isize;
        let n = panes.len() as isize;
        self.set_focus(panes[((i + delta) % n + n) as usize % n as usize]);
    }

    fn waiting(&self) -> bool {
        matches!(self.run, RunState::Waiting { .. } | RunState::Paused { .. })
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.kind == crossterm::event::KeyEventKind::Release {
            return Vec::new();
        }
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return self.quit();
        }
        if self.modal.is_some() {
            return self.on_modal_key(k);
        }
        if self.focus == Focus::Input {
            return self.on_input_key(k);
        }
        let Some(action) = self.keymap.action(&k) else {
            return Vec::new();
        };
        self.on_action(action)
    }

    fn quit(&mut self) -> Vec<Effect> {
        self.quit = true;
        let mut fx = Vec::new();
        if matches!(self.run, RunState::Waiting { .. } | RunState::Paused { .. }) {
            fx.push(Effect::Engine(Command::Interrupt));
        }
        fx.push(Effect::Quit);
        fx
    }

    fn on_input_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        match k.code {
            KeyCode::Esc => {
                self.set_focus(Focus::Conversation);
                if matches!(self.run, RunState::Waiting { .. }) {
                    return vec![Effect::Engine(Command::Interrupt)];
                }
            }
            KeyCode::Enter if alt || k.modifiers.contains(KeyModifiers::SHIFT) => {
                self.input.insert_newline()
            }
            KeyCode::Enter => {
                let text = self.input.lines().join("\n");
                if text.trim().is_empty() {
                    return Vec::new();
                }
                if self.engine_stopped {
                    self.notice = Some(
                        "the engine has stopped: the message was not sent · Ctrl-C quits".into(),
                    );
                    return Vec::new();
                }
                self.input = new_area(INPUT_HINT);
                self.sent.push(text.clone());
                self.sent_pos = None;
                self.error = None;
                self.notice = None;
                return vec![Effect::Engine(Command::UserMessage(text))];
            }
            KeyCode::Up | KeyCode::Down if self.input.is_empty() || self.sent_pos.is_some() => {
                if self.sent.is_empty() {
                    return Vec::new();
                }
                let last = self.sent.len() - 1;
                let pos = match (k.code, self.sent_pos) {
                    (KeyCode::Up, None) => Some(last),
                    (KeyCode::Up, Some(p)) => Some(p.saturating_sub(1)),
                    (KeyCode::Down, Some(p)) if p < last => Some(p + 1),
                    _ => None,
                };
                self.sent_pos = pos;
                let mut area = new_area(INPUT_HINT);
                if let Some(p) = pos {
                    area.insert_str(&self.sent[p]);
                }
                self.input = area;
            }
            KeyCode::Tab => self.cycle_focus(1),
            KeyCode::BackTab => self.cycle_focus(-1),
            _ => {
                self.sent_pos = None;
                self.input.input(k);
            }
        }
        Vec::new()
    }

    fn move_selection(&mut self, delta: isize) {
        let step = |i: usize, n: usize| -> usize {
            if n == 0 {
                0
            } else {
                (i as isize + delta).clamp(0, n as isize - 1) as usize
            }
        };
        match self.focus {
            Focus::Conversation => {
                let n = self.convo.entries.len();
                if n == 0 {
                    return;
                }
                let cur = self.convo.selected.unwrap_or(n - 1);
                let next = step(cur, n);
                self.convo.selected = Some(next);
                self.convo
                    .scroll_to(next, self.convo_width, self.convo_height);
            }
            Focus::Core => self.core_selected = step(self.core_selected, self.core.len()),
            Focus::Stores => {
                let l = self.stores.shown_mut();
                l.selected = step(l.selected, l.rows.len());
            }
            Focus::Log => self.log_selected = step(self.log_selected, self.log.len()),
            Focus::Budget | Focus::Input => {}
        }
    }

    fn on_action(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::Quit => return self.quit(),
            Action::Help => self.modal = Some(Modal::Help { scroll: 0 }),
            Action::FocusInput => self.set_focus(Focus::Input),
            Action::FocusConversation => self.set_focus(Focus::Conversation),
            Action::FocusBudget => self.set_focus(Focus::Budget),
            Action::FocusCore => self.set_focus(Focus::Core),
            Action::FocusStores => self.set_focus(Focus::Stores),
            Action::FocusLog => self.set_focus(Focus::Log),
            Action::FocusNext => self.cycle_focus(1),
            Action::FocusPrev => self.cycle_focus(-1),
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp if self.focus == Focus::Conversation => {
                self.convo.scroll += self.convo_height.max(2) as usize - 1;
                self.convo.selected = None;
            }
            Action::PageDown if self.focus == Focus::Conversation => {
                self.convo.scroll = self
                    .convo
                    .scroll
                    .saturating_sub(self.convo_height.max(2) as usize - 1);
                self.convo.selected = None;
            }
            Action::PageUp => self.move_selection(-10),
            Action::PageDown => self.move_selection(10),
            Action::Top => self.move_selection(isize::MIN / 2),
            Action::Bottom => {
                self.move_selection(isize::MAX / 2);
                if self.focus == Focus::Conversation {
                    self.convo.scroll = 0;
                }
            }
            Action::Open => self.open(),
            Action::ToggleStepMode => {
                if self.read_only {
                    self.notice = Some("watch mode is read-only".into());
                } else {
                    self.step_mode = !self.step_mode;
                    self.notice = Some(if self.step_mode {
                        "step mode on: the agent pauses before every model call".into()
                    } else {
                        "step mode off".into()
                    });
                    return vec![Effect::Engine(Command::SetStepMode(self.step_mode))];
                }
            }
            Action::Step if matches!(self.run, RunState::Paused { .. }) => {
                self.run = RunState::Idle;
                return vec![Effect::Engine(Command::Step)];
            }
            Action::Continue if matches!(self.run, RunState::Paused { .. }) => {
                self.run = RunState::Idle;
                return vec![Effect::Engine(Command::Continue)];
            }
            Action::Step | Action::Continue => {
                self.notice = Some("nothing is paused (press s for step mode)".into())
            }
            Action::Escape => {
                if self.stores.search.is_some() && self.focus == Focus::Stores {
                    self.stores.search = None;
                } else if self.waiting() {
                    return vec![Effect::Engine(Command::Interrupt)];
                } else {
                    self.convo.selected = None;
                }
            }
            Action::Edit => self.open_editor(),
            Action::Search if self.focus == Focus::Stores => {
                self.modal = Some(Modal::Search {
                    area: new_area("search words, then Enter"),
                });
            }
            Action::Insert if self.focus == Focus::Stores && !self.read_only => {
                self.stores.tab = StoreTab::Archival;
                self.stores.search = None;
                self.modal = Some(Modal::Insert {
                    area: new_area("text of the new passage · Ctrl-S saves · Esc cancels"),
                });
            }
            Action::Delete
                if self.focus == Focus::Stores
                    && !self.read_only
                    && self.stores.tab == StoreTab::Archival =>
            {
                if let Some(r) = self.stores.shown().rows.get(self.stores.shown().selected) {
                    self.modal = Some(Modal::ConfirmDelete {
                        id: r.id,
                        preview: text::one_line(&r.text, 60),
                    });
                }
            }
            Action::SwitchTab if self.focus == Focus::Stores => {
                self.stores.search = None;
                self.stores.tab = match self.stores.tab {
                    StoreTab::Archival => StoreTab::Recall,
                    StoreTab::Recall => StoreTab::Archival,
                };
            }
            Action::Search | Action::Insert | Action::Delete | Action::SwitchTab => {}
        }
        Vec::new()
    }

    fn open(&mut self) {
        match self.focus {
            Focus::Conversation => {
                if let Some(i) = self.convo.selected {
                    if matches!(self.convo.entries[i].kind, EntryKind::Call { .. }) {
                        self.convo.toggle(i);
                    } else {
                        let e = &self.convo.entries[i];
                        self.modal = Some(Modal::Detail {
                            title: "Message".into(),
                            text: e.text.clone(),
                            scroll: 0,
                        });
                    }
                }
            }
            Focus::Core => self.open_editor(),
            Focus::Stores => {
                let l = self.stores.shown();
                if let Some(r) = l.rows.get(l.selected) {
                    let what = if self.stores.tab == StoreTab::Archival {
                        "Passage"
                    } else {
                        "Message"
                    };
                    self.modal = Some(Modal::Detail {
                        title: format!("{what} #{} · {} · {}", r.id, r.tag, r.time),
                        text: r.text.clone(),
                        scroll: 0,
                    });
                }
            }
            Focus::Log => {
                if let Some(l) = self.log.get(self.log_selected) {
                    let mut text = format!(
                        "step {} · {}\n\narguments:\n{}\n",
                        l.step,
                        l.name,
                        pretty(&l.args)
                    );
                    if !l.repairs.is_empty() {
                        text.push_str(&format!("\nrepairs: {}\n", l.repairs.join("; ")));
                    }
                    text.push_str(&format!(
                        "\nresult: {}\n{}\n\nheartbeat followed: {}{}",
                        l.status.map(|s| s.as_str()).unwrap_or("(running)"),
                        l.message,
                        match l.heartbeat {
                            Some(true) => "yes",
                            Some(false) => "no",
                            None => "-",
                        },
                        l.duration_ms
                            .map(|d| format!("\nduration: {d:.1} ms"))
                            .unwrap_or_default()
                    ));
                    self.modal = Some(Modal::Detail {
                        title: format!("Function call: {}", l.name),
                        text,
                        scroll: 0,
                    });
                }
            }
            Focus::Budget | Focus::Input => {}
        }
    }

    fn open_editor(&mut self) {
        if self.read_only {
            self.notice = Some("watch mode is read-only".into());
            return;
        }
        self.focus = Focus::Core;
        let Some(b) = self.core.get(self.core_selected) else {
            return;
        };
        let mut area = TextArea::new(b.value.split('\n').map(String::from).collect());
        area.set_wrap_mode(WrapMode::WordOrGlyph);
        area.set_cursor_line_style(ratatui::style::Style::default());
        area.move_cursor(tui_textarea::CursorMove::Bottom);
        area.move_cursor(tui_textarea::CursorMove::End);
        self.modal = Some(Modal::EditCore {
            label: b.label.clone(),
            limit: b.limit,
            read_only: b.read_only,
            area,
            error: None,
        });
    }

    fn on_modal_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let Some(modal) = self.modal.as_mut() else {
            return Vec::new();
        };
        match modal {
            Modal::Help { scroll } | Modal::Detail { scroll, .. } => match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?') => {
                    self.modal = None
                }
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll += 1,
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                KeyCode::PageDown => *scroll += 10,
                _ => {}
            },
            Modal::EditCore {
                label,
                limit,
                read_only,
                area,
                error,
            } => match k.code {
                KeyCode::Esc => {
                    self.modal = None;
                    self.notice = Some("edit cancelled".into());
                }
                KeyCode::Char('s') if ctrl => {
                    let value = area.lines().join("\n");
                    let chars = value.chars().count();
                    if *read_only {
                        *error = Some(format!("'{label}' is read-only; nothing was saved"));
                    } else if chars > *limit {
                        *error = Some(format!(
                            "{chars} characters is over the limit of {limit}; shorten the text to save"
                        ));
                    } else {
                        let cmd = Command::EditCore {
                            label: label.clone(),
                            value,
                        };
                        self.modal = None;
                        return vec![Effect::Engine(cmd)];
                    }
                }
                _ => {
                    area.input(k);
                    *error = None;
                }
            },
            Modal::Search { area } => match k.code {
                KeyCode::Esc => self.modal = None,
                KeyCode::Enter => {
                    let query = area.lines().join(" ");
                    self.modal = None;
                    if !query.trim().is_empty() {
                        return vec![Effect::Load(Load::Search {
                            tab: self.stores.tab,
                            query,
                        })];
                    }
                }
                _ => {
                    area.input(k);
                }
            },
            Modal::Insert { area } => match k.code {
                KeyCode::Esc => self.modal = None,
                KeyCode::Char('s') if ctrl => {
                    let text = area.lines().join("\n");
                    self.modal = None;
                    if !text.trim().is_empty() {
                        return vec![Effect::Engine(Command::InsertPassage(text))];
                    }
                }
                _ => {
                    area.input(k);
                }
            },
            Modal::ConfirmDelete { id, .. } => match k.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    let id = *id;
                    self.modal = None;
                    return vec![Effect::Engine(Command::DeletePassage(id))];
                }
                _ => {
                    self.modal = None;
                    self.notice = Some("nothing was deleted".into());
                }
            },
        }
        Vec::new()
    }

    /// Seconds the model call has been running.
    pub fn elapsed(&self) -> Option<Duration> {
        match &self.run {
            RunState::Waiting { since, .. } => Some(self.now.saturating_duration_since(*since)),
            _ => None,
        }
    }
}

fn set_rows(list: &mut StoreList, rows: Vec<Row>) {
    list.selected = list.selected.min(rows.len().saturating_sub(1));
    list.rows = rows;
    list.loaded = true;
}

fn pretty(args: &str) -> String {
    serde_json::from_str::<serde_json::Value>(args)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .map(|s| text::visible(&s))
        .unwrap_or_else(|| args.to_string())
}
