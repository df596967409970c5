//! The TUI's data types: panes, rows, the run state, modals, and what crosses between the app
//! and its runtime (events in, effects out, background reads).

use std::time::Instant;

use crossterm::event::{KeyEvent, MouseEvent};
use tui_textarea::TextArea;

use super::super::convo::Entry;
use crate::engine::history::diff::StepDiff;
use crate::engine::history::view::{StepDetail, StepRow};
use crate::engine::{Command, Event, Status};
use crate::memory::Block;
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
    /// Where a loaded passage came from (`notes.md:3-9 (1/4)`).
    pub origin: Option<String>,
}

#[derive(Debug, Default)]
pub struct StoreList {
    /// Newest first.
    pub rows: Vec<Row>,
    pub selected: usize,
    pub loaded: bool,
    /// How many there are in all: more than `rows` when only the newest (or best) were read.
    pub total: usize,
    /// What a search said of itself (its index still being built).
    pub note: Option<String>,
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

    pub(super) fn shown_mut(&mut self) -> &mut StoreList {
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
    /// The call's id (empty for manual edits).
    pub call_id: String,
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
    /// The steps view: every model call, one in detail, diffs, fork and rewind.
    Steps(Box<StepsView>),
    /// The agents in the store: switch, create, rename, delete (see `agents.rs`).
    Agents(Box<super::agents::AgentsView>),
    /// The current agent's system instructions, to read and change.
    EditInstructions {
        area: TextArea<'static>,
        /// They are the agent's own (not memscope's default).
        custom: bool,
    },
}

/// The steps view's state (see `steps.rs`).
pub struct StepsView {
    /// Newest first, a page at a time.
    pub rows: Vec<StepRow>,
    pub selected: usize,
    pub loaded: bool,
    /// Older calls are still to read.
    pub more: bool,
    pub screen: StepsScreen,
}

pub enum StepsScreen {
    List,
    Detail {
        detail: Box<StepDetail>,
        /// The request as raw JSON instead of by section.
        raw: bool,
        scroll: u16,
    },
    Diff {
        diff: Box<StepDiff>,
        scroll: u16,
    },
    /// Naming the agent a fork from `step` makes.
    Fork {
        step: u64,
        area: Box<TextArea<'static>>,
    },
    ConfirmRewind {
        step: u64,
    },
}

/// Background reads the runtime performs for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Archival,
    Recall,
    Search {
        tab: StoreTab,
        query: String,
    },
    /// A page of the steps list: calls with keys below `before` (the newest when none).
    Steps {
        before: Option<u64>,
    },
    /// One call in full, by trace key.
    StepDetail {
        key: u64,
    },
    /// What changed from one call to another, by trace keys.
    StepDiff {
        from: u64,
        to: u64,
    },
    /// The agents in the store.
    Agents,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Engine(Command),
    Load(Load),
    /// Read the transcript again from the journal entries below this sequence number.
    History(u64),
    /// Write the agent out (`/export`); no path: a file named after the agent and the time.
    Export {
        format: crate::transfer::Format,
        path: Option<std::path::PathBuf>,
    },
    /// Put this text on the clipboard (OSC 52, and the system clipboard where there is one).
    Copy(String),
    /// Let the terminal have the mouse (true: its own selection works) or take it back.
    ReleaseMouse(bool),
    /// Switch, create, rename or delete an agent (the runtime restarts the engine on a switch).
    Agent(super::agents::AgentOp),
    /// Talk to another endpoint (a URL or a provider preset's name) or model from now on.
    Model {
        endpoint: Option<String>,
        model: Option<String>,
    },
    Quit,
}

impl Load {
    /// The read that fills a stores tab's list.
    pub fn list(tab: StoreTab) -> Load {
        match tab {
            StoreTab::Archival => Load::Archival,
            StoreTab::Recall => Load::Recall,
        }
    }
}

/// Results of background reads.
#[derive(Debug, Clone)]
pub enum Loaded {
    History {
        entries: Vec<Entry>,
        log: Vec<LogEntry>,
    },
    /// The newest passages (or messages), and how many there are in all.
    Archival(Vec<Row>, usize),
    Recall(Vec<Row>, usize),
    /// The best results, and how many match in all.
    Search {
        tab: StoreTab,
        query: String,
        rows: Vec<Row>,
        total: usize,
        /// Said when the ranking is not over everything yet.
        note: Option<String>,
    },
    /// Watch mode: what the other process did (its journal since the last look) and memory as
    /// it now is.
    Watched {
        events: Vec<Event>,
        core: Vec<Block>,
        budget: Budget,
        step: u64,
    },
    Steps {
        before: Option<u64>,
        rows: Vec<StepRow>,
    },
    StepDetail(Box<StepDetail>),
    StepDiff(Box<StepDiff>),
    Agents(Vec<super::agents::AgentRow>),
    Failed(String),
    /// Something done in the background that the status bar reports (an export written).
    Done(String),
    /// A read that left out records it could not read: the rows, and what to say about it.
    Partial(Box<Loaded>, String),
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
