//! The agents view's side of the app: the agents in the store, switching to one, making one
//! (name, persona, human, extra blocks), renaming and deleting (after a yes), and the current
//! agent's system instructions.
//!
//! Contract: pure like the rest of `App`. The list is read as an effect; what changes agents is
//! an [`AgentOp`] effect the runtime carries out (stopping the engine and starting one on the
//! agent switched to), checked here first: a name must be printable and new, the agent in use
//! is never deleted, and nothing switches while a step runs. Instructions change through the
//! engine (`SetInstructions`), so the edit is journaled and can be undone.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::{TextArea, WrapMode};

use super::*;

/// One agent in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub name: String,
    pub steps: u64,
    pub messages: u64,
    pub passages: u64,
    pub created: String,
}

/// A new agent as the form gives it (empty persona or human: memscope's defaults).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewAgent {
    pub name: String,
    pub persona: String,
    pub human: String,
    /// Extra core blocks, `(label, value)`.
    pub blocks: Vec<(String, String)>,
}

/// What the runtime is asked to do with agents.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentOp {
    Switch(String),
    /// Make the agent, then switch to it.
    Create(NewAgent),
    Rename {
        from: String,
        to: String,
    },
    Delete(String),
}

pub struct AgentsView {
    pub rows: Vec<AgentRow>,
    pub selected: usize,
    pub loaded: bool,
    pub screen: AgentsScreen,
}

pub enum AgentsScreen {
    List,
    Create(Box<AgentForm>),
    Rename {
        from: String,
        area: Box<TextArea<'static>>,
    },
    ConfirmDelete {
        name: String,
        what: String,
    },
}

/// The new-agent form: name, persona, human, extra blocks (`label: text` a line).
pub struct AgentForm {
    pub fields: [TextArea<'static>; 4],
    pub focus: usize,
    pub error: Option<String>,
}

pub const FORM_FIELDS: [&str; 4] = ["Name", "Persona", "Human", "Extra blocks"];

fn field(placeholder: &str, text: &str) -> TextArea<'static> {
    let mut a = area_with(
        if text.is_empty() {
            Vec::new()
        } else {
            vec![text.to_string()]
        },
        placeholder,
    );
    a.move_cursor(tui_textarea::CursorMove::End);
    a
}

impl AgentForm {
    pub fn new(name: &str) -> AgentForm {
        AgentForm {
            fields: [
                field("a short name, e.g. work", name),
                field("who the agent is (empty: memscope's default persona)", ""),
                field("what it knows of you (empty: the default)", ""),
                field("one block a line, as label: text (optional)", ""),
            ],
            focus: if name.is_empty() { 0 } else { 1 },
            error: None,
        }
    }

    /// The agent the form describes, or what is wrong with it.
    pub fn read(&self, existing: &[AgentRow]) -> Result<NewAgent, String> {
        let text = |i: usize| self.fields[i].lines().join("\n").trim().to_string();
        let name = text(0);
        check_new_name(&name, existing)?;
        let mut blocks: Vec<(String, String)> = Vec::new();
        for line in text(3).lines().filter(|l| !l.trim().is_empty()) {
            let Some((label, value)) = line.split_once(':') else {
                return Err(format!("extra block '{}' needs label: text", line.trim()));
            };
            let label = label.trim().to_string();
            if label.is_empty()
                || !label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "block label '{label}': use letters, digits, _ or - only"
                ));
            }
            if label == "persona" || label == "human" || blocks.iter().any(|(l, _)| *l == label) {
                return Err(format!("there is already a block named '{label}'"));
            }
            blocks.push((label, value.trim().to_string()));
        }
        Ok(NewAgent {
            name,
            persona: text(1),
            human: text(2),
            blocks,
        })
    }
}

/// A name for a new agent (or a rename): printable, not empty, not taken.
pub fn check_new_name(name: &str, existing: &[AgentRow]) -> Result<(), String> {
    crate::engine::history::check_name(name).map_err(|e| e.to_string())?;
    if existing.iter().any(|r| r.name == name) {
        return Err(format!("an agent named '{name}' already exists"));
    }
    Ok(())
}

impl App {
    /// Opens the agents view and asks for the list.
    pub(super) fn open_agents(&mut self) -> Vec<Effect> {
        self.modal = Some(Modal::Agents(Box::new(AgentsView {
            rows: Vec::new(),
            selected: 0,
            loaded: false,
            screen: AgentsScreen::List,
        })));
        vec![Effect::Load(Load::Agents)]
    }

    /// Opens the new-agent form (from `/new NAME` or the view's `n`).
    pub(super) fn open_new_agent(&mut self, name: &str) -> Vec<Effect> {
        let mut fx = Vec::new();
        if !matches!(self.modal, Some(Modal::Agents(_))) {
            fx = self.open_agents();
        }
        if let Some(Modal::Agents(v)) = self.modal.as_mut() {
            v.screen = AgentsScreen::Create(Box::new(AgentForm::new(name)));
        }
        fx
    }

    pub(super) fn on_agents_loaded(&mut self, rows: Vec<AgentRow>) {
        let current = self.agent.clone();
        if let Some(Modal::Agents(v)) = self.modal.as_mut() {
            if !v.loaded {
                v.selected = rows.iter().position(|r| r.name == current).unwrap_or(0);
            }
            v.selected = v.selected.min(rows.len().saturating_sub(1));
            v.rows = rows;
            v.loaded = true;
        }
    }

    /// Why the agent cannot be switched now, if it cannot.
    pub(super) fn switch_refused(&self) -> Option<String> {
        if self.read_only {
            return Some(
                "watch mode follows one agent: start `memscope watch --agent NAME`".into(),
            );
        }
        if self.engine_stopped {
            return Some("the engine has stopped: quit with Ctrl-C and start again".into());
        }
        if self.waiting() || !self.unconfirmed.is_empty() {
            return Some(
                "the agent is busy: wait for the step to end (or Ctrl-X), then switch".into(),
            );
        }
        None
    }

    /// Asks the runtime to switch to `name`, unless that cannot be done now.
    pub(super) fn switch_agent(&mut self, name: &str) -> Vec<Effect> {
        if name == self.agent {
            self.notice = Some(format!("already on the agent '{name}'"));
            return Vec::new();
        }
        if let Some(why) = self.switch_refused() {
            self.notice = Some(why);
            return Vec::new();
        }
        self.notice = Some(format!("switching to '{name}'…"));
        vec![Effect::Agent(AgentOp::Switch(name.to_string()))]
    }

    /// Opens the current agent's instructions to read and change.
    pub(super) fn open_instructions(&mut self) {
        let lines = self.instructions.split('\n').map(String::from).collect();
        let mut area = TextArea::new(lines);
        area.set_wrap_mode(WrapMode::WordOrGlyph);
        area.set_cursor_line_style(ratatui::style::Style::default());
        self.modal = Some(Modal::EditInstructions {
            area,
            custom: self.instructions_custom,
        });
    }

    pub(super) fn on_instructions_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let Some(Modal::EditInstructions { area, .. }) = self.modal.as_mut() else {
            return Vec::new();
        };
        match k.code {
            KeyCode::Esc => self.modal = None,
            KeyCode::Char('s') if ctrl => {
                if self.read_only {
                    self.notice = Some("watch mode is read-only".into());
                    return Vec::new();
                }
                let text = area.lines().join("\n");
                self.modal = None;
                return vec![Effect::Engine(Command::SetInstructions(Some(text)))];
            }
            KeyCode::Char('r') if ctrl => {
                if self.read_only {
                    self.notice = Some("watch mode is read-only".into());
                    return Vec::new();
                }
                self.modal = None;
                return vec![Effect::Engine(Command::SetInstructions(None))];
            }
            _ => {
                area.input(k);
            }
        }
        Vec::new()
    }

    pub(super) fn on_agents_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let refused = self.switch_refused();
        let current = self.agent.clone();
        let read_only = self.read_only;
        let Some(Modal::Agents(v)) = self.modal.as_mut() else {
            return Vec::new();
        };
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        let mut notice = None;
        let mut switch: Option<String> = None;
        let mut close = false;
        let mut instructions = false;
        match &mut v.screen {
            AgentsScreen::List => match k.code {
                KeyCode::Esc | KeyCode::Char('q') => close = true,
                KeyCode::Up | KeyCode::Char('k') => v.selected = v.selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => {
                    v.selected = (v.selected + 1).min(v.rows.len().saturating_sub(1))
                }
                KeyCode::Home | KeyCode::Char('g') => v.selected = 0,
                KeyCode::End | KeyCode::Char('G') => v.selected = v.rows.len().saturating_sub(1),
                KeyCode::Char('i') => instructions = true,
                _ if read_only && !matches!(k.code, KeyCode::Enter) => {
                    notice = Some("watch mode is read-only".to_string())
                }
                KeyCode::Enter => {
                    if let Some(r) = v.rows.get(v.selected) {
                        let name = r.name.clone();
                        close = true;
                        switch = Some(name);
                    }
                }
                KeyCode::Char('n') => v.screen = AgentsScreen::Create(Box::new(AgentForm::new(""))),
                KeyCode::Char('r') => {
                    if let Some(r) = v.rows.get(v.selected) {
                        let name = r.name.clone();
                        if name == current && refused.is_some() {
                            notice = refused.clone();
                        } else {
                            let mut area = field("the new name", &name);
                            area.move_cursor(tui_textarea::CursorMove::End);
                            v.screen = AgentsScreen::Rename {
                                from: name,
                                area: Box::new(area),
                            };
                        }
                    }
                }
                KeyCode::Char('d') => {
                    if let Some(r) = v.rows.get(v.selected) {
                        if r.name == current {
                            notice = Some(
                                "this is the agent in use: switch to another one to delete it"
                                    .to_string(),
                            );
                        } else {
                            v.screen = AgentsScreen::ConfirmDelete {
                                name: r.name.clone(),
                                what: format!(
                                    "{} messages, {} passages, {} steps",
                                    r.messages, r.passages, r.steps
                                ),
                            };
                        }
                    }
                }
                _ => {}
            },
            AgentsScreen::Create(form) => match k.code {
                KeyCode::Esc => v.screen = AgentsScreen::List,
                KeyCode::Tab => form.focus = (form.focus + 1) % FORM_FIELDS.len(),
                KeyCode::BackTab => {
                    form.focus = (form.focus + FORM_FIELDS.len() - 1) % FORM_FIELDS.len()
                }
                KeyCode::Enter if form.focus == 0 => form.focus = 1,
                KeyCode::Char('s') if ctrl => match form.read(&v.rows) {
                    Err(e) => form.error = Some(e),
                    Ok(_) if refused.is_some() => form.error = refused.clone(),
                    Ok(new) => {
                        notice = Some(format!("making the agent '{}'…", new.name));
                        close = true;
                        return self.finish_agents(
                            close,
                            notice,
                            vec![Effect::Agent(AgentOp::Create(new))],
                        );
                    }
                },
                _ => {
                    form.error = None;
                    form.fields[form.focus].input(k);
                }
            },
            AgentsScreen::Rename { from, area } => match k.code {
                KeyCode::Esc => v.screen = AgentsScreen::List,
                KeyCode::Enter => {
                    let to = area.lines().join("").trim().to_string();
                    if to == *from {
                        v.screen = AgentsScreen::List;
                    } else if let Err(e) = check_new_name(&to, &v.rows) {
                        notice = Some(e);
                    } else {
                        let op = AgentOp::Rename {
                            from: from.clone(),
                            to,
                        };
                        v.screen = AgentsScreen::List;
                        notice = Some("renaming…".into());
                        return self.finish_agents(false, notice, vec![Effect::Agent(op)]);
                    }
                }
                _ => {
                    area.input(k);
                }
            },
            AgentsScreen::ConfirmDelete { name, .. } => match k.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    let op = AgentOp::Delete(name.clone());
                    v.screen = AgentsScreen::List;
                    return self.finish_agents(false, None, vec![Effect::Agent(op)]);
                }
                _ => {
                    v.screen = AgentsScreen::List;
                    notice = Some("nothing was deleted".into());
                }
            },
        }
        if instructions {
            self.open_instructions();
            return Vec::new();
        }
        let mut out = self.finish_agents(close, notice, Vec::new());
        if let Some(name) = switch {
            out.extend(self.switch_agent(&name));
        }
        out
    }

    fn finish_agents(
        &mut self,
        close: bool,
        notice: Option<String>,
        fx: Vec<Effect>,
    ) -> Vec<Effect> {
        if close {
            self.modal = None;
        }
        if notice.is_some() {
            self.notice = notice;
        }
        fx
    }

    /// What the runtime did with an agent operation (not a switch, which starts a new app).
    pub fn agent_op_done(&mut self, result: Result<String, String>) -> Vec<Effect> {
        match result {
            Ok(said) => self.notice = Some(said),
            Err(why) => {
                // "switching to…" is over: only the reason stays.
                self.notice = None;
                self.error = Some(why);
            }
        }
        if matches!(self.modal, Some(Modal::Agents(_))) {
            return vec![Effect::Load(Load::Agents)];
        }
        Vec::new()
    }
}
