//! Keys inside modals: help and detail views, the core-memory editor, search, insert, delete.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;

impl App {
    pub(super) fn on_modal_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match self.modal {
            Some(Modal::Steps(_)) => return self.on_steps_key(k),
            Some(Modal::Agents(_)) => return self.on_agents_key(k),
            Some(Modal::EditInstructions { .. }) => return self.on_instructions_key(k),
            _ => {}
        }
        let Some(modal) = self.modal.as_mut() else {
            return Vec::new();
        };
        match modal {
            Modal::Detail { .. } if k.code == KeyCode::Char('y') => return self.copy(),
            Modal::Help { scroll } | Modal::Detail { scroll, .. } => match k.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?') => {
                    self.modal = None
                }
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                KeyCode::PageDown => *scroll = scroll.saturating_add(10),
                KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
                // Kept within the text by the next frame's layout.
                KeyCode::End | KeyCode::Char('G') => *scroll = u16::MAX,
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
            Modal::Steps(_) | Modal::Agents(_) | Modal::EditInstructions { .. } => {
                unreachable!("handled above")
            }
        }
        Vec::new()
    }
}
