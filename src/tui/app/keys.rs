//! Keys and the mouse outside modals: focus, selection, pane actions, the input box.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Position;
use tui_textarea::{TextArea, WrapMode};

use super::copy::log_detail;
use super::*;
use crate::tui::convo::EntryKind;
use crate::tui::keymap::Action;
use crate::tui::view::Hit;

impl App {
    pub(super) fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
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
                let hit = self
                    .hits
                    .iter()
                    .find(|(r, _)| r.contains(pos))
                    .map(|(_, h)| *h);
                match hit {
                    Some(Hit::Row(Focus::Core, i)) => self.core_selected = i,
                    Some(Hit::Row(Focus::Log, i)) => self.log_selected = i,
                    Some(Hit::Row(Focus::Stores, i)) => self.stores.shown_mut().selected = i,
                    Some(Hit::StoreTab(tab)) if tab != self.stores.tab => {
                        self.stores.search = None;
                        self.stores.tab = tab;
                        return vec![Effect::Load(Load::list(tab))];
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Vec::new()
    }

    pub(super) fn set_focus(&mut self, f: Focus) {
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

    pub(super) fn cycle_focus(&mut self, delta: isize) {
        let panes: Vec<Focus> = Focus::PANES
            .iter()
            .copied()
            .filter(|f| !(self.read_only && *f == Focus::Input))
            .collect();
        let i = panes.iter().position(|f| *f == self.focus).unwrap_or(0) as isize;
        let n = panes.len() as isize;
        self.set_focus(panes[((i + delta) % n + n) as usize % n as usize]);
    }

    /// A model call, a paused chain or a load that the interrupt key would stop.
    pub(super) fn waiting(&self) -> bool {
        matches!(self.run, RunState::Waiting { .. } | RunState::Paused { .. })
            || self.loading.is_some()
    }

    /// The interrupt key: stops what is running, or says there is nothing to stop.
    pub(super) fn interrupt(&mut self) -> Vec<Effect> {
        if self.waiting() {
            return vec![Effect::Engine(Command::Interrupt)];
        }
        self.notice = Some("nothing is running to interrupt".into());
        Vec::new()
    }

    pub(super) fn on_key(&mut self, k: KeyEvent) -> Vec<Effect> {
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

    pub(super) fn on_input_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let alt = k.modifiers.contains(KeyModifiers::ALT);
        match k.code {
            // Esc only leaves the box, as its hint says; interrupting is a key of its own.
            KeyCode::Esc => self.set_focus(Focus::Conversation),
            _ if self.keymap.action(&k) == Some(Action::Interrupt) => return self.interrupt(),
            KeyCode::Enter if alt || k.modifiers.contains(KeyModifiers::SHIFT) => {
                self.input.insert_newline()
            }
            KeyCode::Enter => {
                let mut text = self.input.lines().join("\n");
                if text.trim().is_empty() {
                    return Vec::new();
                }
                match slash(&text) {
                    Slash::Message(t) => text = t,
                    Slash::Refused(why) => {
                        // Kept to mend, selected so that what is typed next replaces it.
                        self.notice = Some(why);
                        self.input.select_all();
                        return Vec::new();
                    }
                    Slash::OpenSteps => {
                        self.input = new_area(INPUT_HINT);
                        return self.open_steps();
                    }
                    Slash::OpenAgents => {
                        self.input = new_area(INPUT_HINT);
                        return self.open_agents();
                    }
                    Slash::OpenInstructions => {
                        self.input = new_area(INPUT_HINT);
                        self.open_instructions();
                        return Vec::new();
                    }
                    Slash::SwitchAgent(name) => {
                        let fx = self.switch_agent(&name);
                        if !fx.is_empty() {
                            self.input = new_area(INPUT_HINT);
                        }
                        return fx;
                    }
                    Slash::NewAgent(name) => {
                        self.input = new_area(INPUT_HINT);
                        return self.open_new_agent(&name);
                    }
                    Slash::RenameAgent(to) => {
                        if let Some(why) = self.switch_refused() {
                            self.notice = Some(why);
                            return Vec::new();
                        }
                        if let Err(e) = crate::engine::history::check_name(&to) {
                            self.notice = Some(e.to_string());
                            return Vec::new();
                        }
                        self.input = new_area(INPUT_HINT);
                        self.notice = Some("renaming…".into());
                        return vec![Effect::Agent(AgentOp::Rename {
                            from: self.agent.clone(),
                            to,
                        })];
                    }
                    Slash::Model { endpoint, model } => {
                        if self.read_only || self.engine_stopped {
                            self.notice = Some("nothing can be changed here".into());
                            return Vec::new();
                        }
                        self.input = new_area(INPUT_HINT);
                        return vec![Effect::Model { endpoint, model }];
                    }
                    Slash::Export { format, path } => {
                        self.input = new_area(INPUT_HINT);
                        self.notice = Some(format!("exporting as {}…", format.extension()));
                        return vec![Effect::Export { format, path }];
                    }
                    Slash::Engine(cmd) => {
                        if self.engine_stopped {
                            self.notice =
                                Some("the engine has stopped: nothing can be changed".into());
                            return Vec::new();
                        }
                        self.input = new_area(INPUT_HINT);
                        self.notice = None;
                        return vec![Effect::Engine(cmd)];
                    }
                }
                if self.engine_stopped {
                    self.notice = Some(
                        "the engine has stopped: the message was not sent · Ctrl-C quits".into(),
                    );
                    return Vec::new();
                }
                self.input = new_area(INPUT_HINT);
                self.sent.push(text.clone());
                self.unconfirmed.push(text.clone());
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

    pub(super) fn move_selection(&mut self, delta: isize) {
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

    pub(super) fn on_action(&mut self, a: Action) -> Vec<Effect> {
        match a {
            Action::Quit => return self.quit(),
            Action::Help => self.modal = Some(Modal::Help { scroll: 0 }),
            Action::Steps => return self.open_steps(),
            Action::Agents => return self.open_agents(),
            Action::Instructions => self.open_instructions(),
            Action::Retry | Action::Pop if self.read_only => {
                self.notice = Some("watch mode is read-only".into())
            }
            Action::Retry => return vec![Effect::Engine(Command::Retry)],
            Action::Pop => return vec![Effect::Engine(Command::Pop)],
            Action::Rethink => self.prefill_edit("/rethink", EntryKind::Thought),
            Action::Rewrite => self.prefill_edit("/rewrite", EntryKind::Agent),
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
            Action::Interrupt => return self.interrupt(),
            Action::Copy => return self.copy(),
            Action::ReleaseMouse => return self.toggle_mouse(),
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
            Action::Step | Action::Continue if self.read_only => {
                self.notice = Some(
                    "watch mode is read-only: the writer steps (n) and continues (c) itself".into(),
                )
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
                // The tab shown is read again, so it is never older than the store.
                return vec![Effect::Load(Load::list(self.stores.tab))];
            }
            Action::Insert | Action::Delete if self.focus == Focus::Stores && self.read_only => {
                self.notice = Some("watch mode is read-only".into())
            }
            Action::Delete if self.focus == Focus::Stores => {
                self.notice = Some(
                    "recall keeps every message for good; only archival passages can be deleted"
                        .into(),
                )
            }
            Action::Search | Action::Insert | Action::Delete | Action::SwitchTab => {}
        }
        Vec::new()
    }

    pub(super) fn open(&mut self) {
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
                    let from = r
                        .origin
                        .as_ref()
                        .map(|o| format!(" · from {o}"))
                        .unwrap_or_default();
                    self.modal = Some(Modal::Detail {
                        title: format!("{what} #{} · {} · {}{from}", r.id, r.tag, r.time),
                        text: r.text.clone(),
                        scroll: 0,
                    });
                }
            }
            Focus::Log => {
                if let Some(l) = self.log.get(self.log_selected) {
                    let text = log_detail(l);
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

    pub(super) fn open_editor(&mut self) {
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
}
