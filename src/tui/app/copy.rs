//! Copying what is on screen, and letting the terminal have the mouse.
//!
//! Contract: [`App::copy`] picks the text of what is selected or open (the conversation entry,
//! the function-log row, the core block, the passage or message, the open detail, the step
//! detail or diff) and returns it as an [`Effect::Copy`]; the runtime writes it to the
//! clipboard (`tui/control.rs`). The text is what the screen shows (already made printable),
//! whole, not as wrapped. Pure like the rest of `App`.

use super::*;
use crate::engine::history::lines::{detail_lines, diff_lines, pretty_exact};
use crate::tui::keymap::Action;

/// A function-log row in full: what its detail view shows and what a copy takes.
pub(super) fn log_detail(l: &LogEntry) -> String {
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
    text
}

impl App {
    /// What a copy takes now, and what to call it in the notice.
    pub(super) fn copy_target(&self) -> Option<(String, String)> {
        match &self.modal {
            Some(Modal::Detail { title, text, .. }) => return Some((title.clone(), text.clone())),
            Some(Modal::Steps(v)) => {
                return match &v.screen {
                    StepsScreen::Detail { detail, raw, .. } => Some((
                        format!("step {}", detail.row.step),
                        if *raw {
                            pretty_exact(&detail.request)
                        } else {
                            detail_lines(detail).join("\n")
                        },
                    )),
                    StepsScreen::Diff { diff, .. } => Some((
                        format!("the diff of steps {} and {}", diff.from_step, diff.to_step),
                        diff_lines(diff).join("\n"),
                    )),
                    _ => None,
                };
            }
            Some(_) => return None,
            None => {}
        }
        match self.focus {
            Focus::Conversation => {
                let e = self.convo.entries.get(self.convo.selected?)?;
                let text = match &e.kind {
                    EntryKind::Call {
                        name, args, result, ..
                    } => {
                        let mut t = format!("{name}({args})");
                        if let Some((s, m)) = result {
                            t.push_str(&format!("\n→ {} {m}", s.as_str()));
                        }
                        t
                    }
                    _ => e.text.clone(),
                };
                Some(("the entry".into(), text))
            }
            Focus::Log => {
                let l = self.log.get(self.log_selected)?;
                Some((format!("the {} row", l.name), log_detail(l)))
            }
            Focus::Core => {
                let b = self.core.get(self.core_selected)?;
                Some((format!("<{}>", b.label), b.value.clone()))
            }
            Focus::Stores => {
                let l = self.stores.shown();
                let r = l.rows.get(l.selected)?;
                let what = match self.stores.tab {
                    StoreTab::Archival => "passage",
                    StoreTab::Recall => "message",
                };
                Some((format!("{what} #{}", r.id), r.text.clone()))
            }
            Focus::Budget | Focus::Input => None,
        }
    }

    pub(super) fn copy(&mut self) -> Vec<Effect> {
        match self.copy_target() {
            Some((what, text)) if !text.is_empty() => {
                self.notice = Some(format!(
                    "copied {what} ({} characters)",
                    text.chars().count()
                ));
                vec![Effect::Copy(text)]
            }
            _ => {
                self.notice = Some("nothing selected to copy".into());
                Vec::new()
            }
        }
    }

    /// Gives the mouse to the terminal (its own selection and copy work) or takes it back.
    pub(super) fn toggle_mouse(&mut self) -> Vec<Effect> {
        self.mouse_released = !self.mouse_released;
        self.notice = Some(if self.mouse_released {
            format!(
                "the mouse is the terminal's: select text with it · {} takes it back",
                self.keymap.key_for(Action::ReleaseMouse)
            )
        } else {
            "the mouse is memscope's again".into()
        });
        vec![Effect::ReleaseMouse(self.mouse_released)]
    }
}
