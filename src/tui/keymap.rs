//! Keys as data: every action the panes understand, its default keys, and rebinding from the
//! config file's `[keys]` table (`action = "key"` or `action = ["key", "key"]`).
//!
//! Contract: [`Keymap::action`] maps a key press outside the input box to an [`Action`]; the
//! help screen is generated from [`Keymap::help`], so it always shows the keys in force. Typing
//! in the input box and the editors is not rebindable, except the keys named there.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    FocusInput,
    FocusConversation,
    FocusBudget,
    FocusCore,
    FocusStores,
    FocusLog,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    ToggleStepMode,
    Step,
    Continue,
    Escape,
    Edit,
    Search,
    Insert,
    Delete,
    SwitchTab,
    Steps,
    Retry,
    Pop,
    Rethink,
    Rewrite,
    Copy,
    ReleaseMouse,
    Interrupt,
    Agents,
    Instructions,
}

impl Action {
    /// Whether the action changes the agent or drives its engine: none of these is offered in
    /// `watch`, which only follows another process's writer.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::FocusInput
                | Action::ToggleStepMode
                | Action::Step
                | Action::Continue
                | Action::Edit
                | Action::Insert
                | Action::Delete
                | Action::Retry
                | Action::Pop
                | Action::Rethink
                | Action::Rewrite
                | Action::Interrupt
                | Action::Agents
                | Action::Instructions
        )
    }
}

/// (action, config name, description, default keys)
const TABLE: &[(Action, &str, &str, &[&str])] = &[
    (
        Action::FocusInput,
        "focus_input",
        "type a message (input box)",
        &["i"],
    ),
    (
        Action::FocusConversation,
        "focus_conversation",
        "conversation pane",
        &["1"],
    ),
    (
        Action::FocusBudget,
        "focus_budget",
        "context budget pane",
        &["2"],
    ),
    (Action::FocusCore, "focus_core", "core memory pane", &["3"]),
    (
        Action::FocusStores,
        "focus_stores",
        "archival / recall stores",
        &["4"],
    ),
    (Action::FocusLog, "focus_log", "function log pane", &["5"]),
    (Action::FocusNext, "focus_next", "next pane", &["tab"]),
    (
        Action::FocusPrev,
        "focus_prev",
        "previous pane",
        &["backtab"],
    ),
    (Action::Up, "up", "move up / scroll up", &["up", "k"]),
    (
        Action::Down,
        "down",
        "move down / scroll down",
        &["down", "j"],
    ),
    (Action::PageUp, "page_up", "page up", &["pageup"]),
    (Action::PageDown, "page_down", "page down", &["pagedown"]),
    (Action::Top, "top", "first item / oldest", &["home", "g"]),
    (
        Action::Bottom,
        "bottom",
        "last item / newest",
        &["end", "G"],
    ),
    (
        Action::Open,
        "open",
        "expand / read the selected item whole",
        &["enter"],
    ),
    (
        Action::ToggleStepMode,
        "step_mode",
        "toggle step mode (pause before each model call)",
        &["s"],
    ),
    (
        Action::Step,
        "step",
        "step mode: run exactly one model call",
        &["n", "space"],
    ),
    (
        Action::Continue,
        "continue",
        "step mode: run to the end of the chain",
        &["c"],
    ),
    (
        Action::Escape,
        "escape",
        "close / clear a search / leave the selection",
        &["esc"],
    ),
    (
        Action::Interrupt,
        "interrupt",
        "interrupt the model call, the paused chain or a load (also in the input box)",
        &["ctrl-x"],
    ),
    (
        Action::Edit,
        "edit",
        "edit the selected core memory block",
        &["e"],
    ),
    (Action::Search, "search", "search the store shown", &["/"]),
    (
        Action::Insert,
        "insert",
        "insert an archival passage",
        &["a"],
    ),
    (
        Action::Delete,
        "delete",
        "delete the selected archival passage",
        &["d"],
    ),
    (
        Action::SwitchTab,
        "switch_tab",
        "switch archival / recall",
        &["left", "right", "h", "l"],
    ),
    (
        Action::Agents,
        "agents",
        "agents: switch, new, rename, delete",
        &["A"],
    ),
    (
        Action::Instructions,
        "instructions",
        "the agent's system instructions (read, change)",
        &["I"],
    ),
    (
        Action::Steps,
        "steps",
        "steps view: every model call, detail, diff, fork, rewind",
        &["t"],
    ),
    (
        Action::Retry,
        "retry",
        "send your last message again from the state before it",
        &["R"],
    ),
    (
        Action::Pop,
        "pop",
        "drop your last message and what followed (kept in a backup agent)",
        &["P"],
    ),
    (
        Action::Rethink,
        "rethink",
        "edit the agent's last inner thought (in the input box)",
        &["T"],
    ),
    (
        Action::Rewrite,
        "rewrite",
        "edit what the agent last said (in the input box)",
        &["W"],
    ),
    (
        Action::Copy,
        "copy",
        "copy the selected item (or the open detail) to the clipboard",
        &["y"],
    ),
    (
        Action::ReleaseMouse,
        "release_mouse",
        "give the mouse to the terminal to select text (again: take it back)",
        &["m"],
    ),
    (Action::Help, "help", "this help", &["?"]),
    (Action::Quit, "quit", "quit", &["q"]),
];

/// An action's name in the config file.
fn name_of(action: Action) -> &'static str {
    TABLE
        .iter()
        .find(|(a, ..)| *a == action)
        .map(|t| t.1)
        .unwrap_or("?")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeySpec {
    /// Ctrl-C (in either case), which always quits.
    pub fn is_ctrl_c(&self) -> bool {
        self.mods.contains(KeyModifiers::CONTROL)
            && matches!(self.code, KeyCode::Char('c') | KeyCode::Char('C'))
    }

    pub fn parse(s: &str) -> Result<KeySpec, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if let Some(r) = lower.strip_prefix("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("alt-") {
                mods |= KeyModifiers::ALT;
                rest = &rest[rest.len() - r.len()..];
            } else if let Some(r) = lower.strip_prefix("shift-").filter(|r| r.len() > 1) {
                mods |= KeyModifiers::SHIFT;
                rest = &rest[rest.len() - r.len()..];
            } else {
                break;
            }
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse().unwrap())
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => {
                        return Err(format!(
                            "'{s}' is not a key (try \"q\", \"ctrl-x\", \"f2\", \"enter\")"
                        ));
                    }
                }
            }
        };
        Ok(KeySpec { code, mods })
    }

    pub fn matches(&self, key: &KeyEvent) -> bool {
        // Terminals report shifted characters with or without SHIFT; compare the character only.
        let mods = key.modifiers - KeyModifiers::SHIFT;
        match (self.code, key.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => {
                a == b && mods == self.mods - KeyModifiers::SHIFT
            }
            (KeyCode::BackTab, KeyCode::BackTab) => true,
            (a, b) => a == b && key.modifiers == self.mods,
        }
    }

    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            s.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            s.push_str("Alt-");
        }
        s.push_str(&match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        });
        s
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Action, Vec<KeySpec>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            bindings: TABLE
                .iter()
                .map(|(a, _, _, keys)| {
                    (
                        *a,
                        keys.iter()
                            .map(|k| KeySpec::parse(k).expect("default keys parse"))
                            .collect(),
                    )
                })
                .collect(),
        }
    }
}

impl Keymap {
    /// The defaults with the config file's overrides applied.
    pub fn with_overrides(overrides: &HashMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        for (name, keys) in overrides {
            let Some((action, ..)) = TABLE.iter().find(|(_, n, _, _)| n == name) else {
                let names: Vec<&str> = TABLE.iter().map(|t| t.1).collect();
                return Err(format!(
                    "[keys] {name}: no such action (actions: {})",
                    names.join(", ")
                ));
            };
            let specs = keys
                .iter()
                .map(|k| KeySpec::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("[keys] {name}: {e}"))?;
            // Ctrl-C quits from anywhere, before any binding is looked at.
            if let Some(k) = specs.iter().find(|k| k.is_ctrl_c()) {
                return Err(format!(
                    "[keys] {name}: {} always quits and cannot be bound to anything else",
                    k.label()
                ));
            }
            if let Some(b) = map.bindings.iter_mut().find(|(a, _)| a == action) {
                b.1 = specs;
            }
        }
        map.check_conflicts()?;
        Ok(map)
    }

    /// A key bound to two actions would leave one of them dead: refused, naming both.
    fn check_conflicts(&self) -> Result<(), String> {
        let mut seen: HashMap<KeySpec, Action> = HashMap::new();
        for (action, keys) in &self.bindings {
            for k in keys {
                if let Some(other) = seen.insert(*k, *action)
                    && other != *action
                {
                    return Err(format!(
                        "[keys] {} is bound to both {} and {}: give one of them another key",
                        k.label(),
                        name_of(other),
                        name_of(*action)
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(_, keys)| keys.iter().any(|k| k.matches(key)))
            .map(|(a, _)| *a)
    }

    /// The first key bound to `action`, for hints.
    pub fn key_for(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .and_then(|(_, k)| k.first())
            .map(KeySpec::label)
            .unwrap_or_else(|| "(unbound)".into())
    }

    /// (keys, description) for every action, in a stable order.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        self.help_where(|_| true)
    }

    /// Like [`Keymap::help`], for the actions `keep` accepts (`watch` leaves out the writer's).
    pub fn help_where(&self, keep: impl Fn(Action) -> bool) -> Vec<(String, &'static str)> {
        TABLE
            .iter()
            .filter(|(a, ..)| keep(*a))
            .map(|(a, _, desc, _)| {
                let keys = self
                    .bindings
                    .iter()
                    .find(|(b, _)| b == a)
                    .map(|(_, k)| k.iter().map(KeySpec::label).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                (keys, *desc)
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "keymap_tests.rs"]
mod tests;
