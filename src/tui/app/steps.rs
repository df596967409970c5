//! The steps view's side of the app: opening it, its keys, its reads arriving.
//!
//! Contract: pure like the rest of `App`: reads are asked for as effects (a page of the list,
//! one call's detail, a diff), changes as engine commands (fork, rewind); a read that arrives
//! when the view has moved on is dropped. Watch mode can look but not change.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::engine::history::view::StepRow;

impl StepsView {
    fn selected_row(&self) -> Option<&StepRow> {
        self.rows.get(self.selected)
    }

    /// The step call before the selected one (older rows come after it).
    fn previous_step(&self) -> Option<&StepRow> {
        self.rows[self.selected + 1..]
            .iter()
            .find(|r| r.kind == "step")
    }
}

impl App {
    /// Opens the steps view and asks for its newest page.
    pub(super) fn open_steps(&mut self) -> Vec<Effect> {
        self.modal = Some(Modal::Steps(Box::new(StepsView {
            rows: Vec::new(),
            selected: 0,
            loaded: false,
            more: false,
            screen: StepsScreen::List,
        })));
        vec![Effect::Load(Load::Steps { before: None })]
    }

    /// Puts `command` and the agent's last entry of `kind` in the input box, to edit and send.
    pub(super) fn prefill_edit(&mut self, command: &str, kind: crate::tui::convo::EntryKind) {
        if self.read_only {
            self.notice = Some("watch mode is read-only".into());
            return;
        }
        let last = self.convo.entries.iter().rev().find(|e| e.kind == kind);
        let Some(text) = last.map(|e| e.text.clone()) else {
            self.notice = Some(format!("nothing of the agent's to {}", &command[1..]));
            return;
        };
        let mut area = new_area(INPUT_HINT);
        area.insert_str(format!("{command} {text}"));
        self.input = area;
        self.set_focus(Focus::Input);
        self.notice = Some("edit it, then Enter replaces it (Esc leaves it as it is)".into());
    }

    /// New calls were made: a steps list on screen is read again from its newest page (a
    /// detail or diff being read stays as it is).
    pub(super) fn refresh_steps(&mut self) -> Vec<Effect> {
        match self.modal.as_mut() {
            Some(Modal::Steps(v)) if matches!(v.screen, StepsScreen::List) => {
                v.rows.clear();
                v.selected = 0;
                v.loaded = false;
                v.more = false;
                vec![Effect::Load(Load::Steps { before: None })]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn on_steps_loaded(&mut self, l: Loaded) {
        let Some(Modal::Steps(v)) = self.modal.as_mut() else {
            return;
        };
        match l {
            Loaded::Steps { before, rows } => {
                // A page that follows what is shown (or the first), never twice.
                let follows = match before {
                    None => v.rows.is_empty(),
                    Some(k) => v.rows.last().map(|r| r.key) == Some(k),
                };
                if !follows {
                    return;
                }
                v.more = rows.len() >= crate::tui::data::STEPS_PAGE;
                v.rows.extend(rows);
                v.loaded = true;
            }
            Loaded::StepDetail(detail) => {
                if matches!(v.screen, StepsScreen::List | StepsScreen::Detail { .. }) {
                    v.screen = StepsScreen::Detail {
                        detail,
                        raw: false,
                        scroll: 0,
                    };
                }
            }
            Loaded::StepDiff(diff) => {
                v.screen = StepsScreen::Diff { diff, scroll: 0 };
            }
            _ => {}
        }
    }

    pub(super) fn on_steps_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if k.code == KeyCode::Char('y') && self.copy_target().is_some() {
            return self.copy();
        }
        let read_only = self.read_only;
        let agent = self.agent.clone();
        let Some(Modal::Steps(v)) = self.modal.as_mut() else {
            return Vec::new();
        };
        let mut fx = Vec::new();
        let mut notice = None;
        let mut close = false;
        let change_refused = "watch mode is read-only: fork and rewind from the writing memscope";
        // Keys that act on the selected call work where calls are browsed, not in a prompt
        // that the same key just answered.
        let browsing = matches!(v.screen, StepsScreen::List | StepsScreen::Detail { .. });
        match &mut v.screen {
            StepsScreen::List => match k.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('t') => close = true,
                KeyCode::Up | KeyCode::Char('k') => v.selected = v.selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => v.selected += 1,
                KeyCode::PageUp => v.selected = v.selected.saturating_sub(10),
                KeyCode::PageDown => v.selected += 10,
                KeyCode::Home | KeyCode::Char('g') => v.selected = 0,
                KeyCode::End | KeyCode::Char('G') => v.selected = usize::MAX,
                KeyCode::Enter => {
                    if let Some(r) = v.selected_row() {
                        fx.push(Effect::Load(Load::StepDetail { key: r.key }));
                    }
                }
                _ => {}
            },
            StepsScreen::Detail { raw, scroll, .. } => match k.code {
                KeyCode::Esc | KeyCode::Char('q') => v.screen = StepsScreen::List,
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                KeyCode::PageUp => *scroll = scroll.saturating_sub(20),
                KeyCode::PageDown => *scroll = scroll.saturating_add(20),
                KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
                // Kept within the text by the next frame's layout.
                KeyCode::End | KeyCode::Char('G') => *scroll = u16::MAX,
                KeyCode::Char('v') => {
                    *raw = !*raw;
                    *scroll = 0;
                }
                _ => {}
            },
            StepsScreen::Diff { scroll, .. } => match k.code {
                KeyCode::Esc | KeyCode::Char('q') => v.screen = StepsScreen::List,
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                KeyCode::PageUp => *scroll = scroll.saturating_sub(20),
                KeyCode::PageDown => *scroll = scroll.saturating_add(20),
                KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
                KeyCode::End | KeyCode::Char('G') => *scroll = u16::MAX,
                _ => {}
            },
            StepsScreen::Fork { step, area } => match k.code {
                KeyCode::Esc => {
                    v.screen = StepsScreen::List;
                    notice = Some("no fork was made".to_string());
                }
                // Ctrl-U clears the field, as in a shell (not the text area's undo).
                KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    **area = new_area("name of the new agent");
                }
                KeyCode::Enter => {
                    let name = area.lines().join(" ").trim().to_string();
                    if !name.is_empty() {
                        fx.push(Effect::Engine(Command::Fork { step: *step, name }));
                        v.screen = StepsScreen::List;
                    }
                }
                _ => {
                    area.input(k);
                }
            },
            StepsScreen::ConfirmRewind { step } => {
                if matches!(k.code, KeyCode::Char('y') | KeyCode::Enter) {
                    fx.push(Effect::Engine(Command::Rewind(*step)));
                    close = true;
                } else {
                    v.screen = StepsScreen::List;
                    notice = Some("nothing was rewound".to_string());
                }
            }
        }
        // Keys that act on the selected call, from the list or its detail.
        let on_call = browsing
            && matches!(v.screen, StepsScreen::List | StepsScreen::Detail { .. })
            && fx.is_empty()
            && !close;
        if on_call && let Some(r) = v.selected_row().cloned() {
            match k.code {
                KeyCode::Char('d') => match v.previous_step() {
                    Some(p) => fx.push(Effect::Load(Load::StepDiff {
                        from: p.key,
                        to: r.key,
                    })),
                    None => notice = Some("there is no earlier step loaded to compare with".into()),
                },
                KeyCode::Char('f') | KeyCode::Char('r') if read_only => {
                    notice = Some(change_refused.into())
                }
                KeyCode::Char('f') | KeyCode::Char('r') if !r.forkable => {
                    notice = Some(format!(
                        "step {} has no snapshot to go back to (a summary call, or recorded \
                         by an older memscope)",
                        r.step
                    ))
                }
                KeyCode::Char('f') => {
                    let mut area = new_area("name of the new agent");
                    area.insert_str(format!("{agent}-step{}", r.step));
                    // A suggestion: what is typed replaces it, Enter keeps it.
                    area.select_all();
                    v.screen = StepsScreen::Fork {
                        step: r.step,
                        area: Box::new(area),
                    };
                }
                KeyCode::Char('r') => v.screen = StepsScreen::ConfirmRewind { step: r.step },
                _ => {}
            }
        }
        v.selected = v.selected.min(v.rows.len().saturating_sub(1));
        // Near the end of what is loaded: the next page.
        if v.more && v.loaded && v.selected + 20 >= v.rows.len() {
            v.more = false;
            fx.push(Effect::Load(Load::Steps {
                before: v.rows.last().map(|r| r.key),
            }));
        }
        if close {
            self.modal = None;
        }
        if notice.is_some() {
            self.notice = notice;
        }
        fx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_commands_are_read_from_the_input_box() {
        assert_eq!(slash("/retry"), Slash::Engine(Command::Retry));
        assert_eq!(slash(" /pop "), Slash::Engine(Command::Pop));
        assert_eq!(
            slash("/rethink I should ask first"),
            Slash::Engine(Command::Rethink("I should ask first".into()))
        );
        assert_eq!(slash("/rewind 12"), Slash::Engine(Command::Rewind(12)));
        assert_eq!(
            slash("/fork 3 trial run"),
            Slash::Engine(Command::Fork {
                step: 3,
                name: "trial run".into()
            })
        );
        assert!(matches!(slash("/rewind soon"), Slash::Refused(_)));
        assert!(matches!(slash("/rewrite"), Slash::Refused(_)));
        // Anything else is a message, and // sends a leading slash.
        assert_eq!(
            slash("/etc/hosts is odd"),
            Slash::Message("/etc/hosts is odd".into())
        );
        assert_eq!(slash("//retry"), Slash::Message("/retry".into()));
    }
}
