//! Colour themes: `themes/*.toml` (dark, light, high-contrast) are built in; users add their own
//! as `<config dir>/memscope/themes/NAME.toml`.
//!
//! Contract: [`Theme::load`] finds a theme by name (user themes first), and every field must
//! parse as a colour, so a bad theme is a clear error at start rather than a garbled screen.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    fg: String,
    bg: String,
    dim: String,
    accent: String,
    border: String,
    border_focus: String,
    user: String,
    agent: String,
    thought: String,
    system: String,
    function: String,
    ok: String,
    failed: String,
    warning: String,
    error: String,
    selected_bg: String,
    section_system: String,
    section_functions: String,
    section_core: String,
    section_summary: String,
    section_messages: String,
    section_free: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub fg: Color,
    pub bg: Color,
    pub dim: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focus: Color,
    pub user: Color,
    pub agent: Color,
    pub thought: Color,
    pub system: Color,
    pub function: Color,
    pub ok: Color,
    pub failed: Color,
    pub warning: Color,
    pub error: Color,
    pub selected_bg: Color,
    /// Budget bar colours: system, functions, core, summary, messages, free.
    pub sections: [Color; 6],
}

fn color(field: &str, v: &str) -> Result<Color, String> {
    v.parse::<Color>()
        .map_err(|_| format!("{field} = \"{v}\" is not a colour (use a name or #rrggbb)"))
}

impl Theme {
    pub fn parse(text: &str) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Theme {
            name: f.name.clone(),
            fg: color("fg", &f.fg)?,
            bg: color("bg", &f.bg)?,
            dim: color("dim", &f.dim)?,
            accent: color("accent", &f.accent)?,
            border: color("border", &f.border)?,
            border_focus: color("border_focus", &f.border_focus)?,
            user: color("user", &f.user)?,
            agent: color("agent", &f.agent)?,
            thought: color("thought", &f.thought)?,
            system: color("system", &f.system)?,
            function: color("function", &f.function)?,
            ok: color("ok", &f.ok)?,
            failed: color("failed", &f.failed)?,
            warning: color("warning", &f.warning)?,
            error: color("error", &f.error)?,
            selected_bg: color("selected_bg", &f.selected_bg)?,
            sections: [
                color("section_system", &f.section_system)?,
                color("section_functions", &f.section_functions)?,
                color("section_core", &f.section_core)?,
                color("section_summary", &f.section_summary)?,
                color("section_messages", &f.section_messages)?,
                color("section_free", &f.section_free)?,
            ],
        })
    }

    pub fn default_theme() -> Theme {
        Theme::parse(BUILT_IN[0].1).expect("the built-in theme parses")
    }

    /// A theme by name: `<user_dir>/NAME.toml` first, then the built-in ones.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, String> {
        if let Some(dir) = user_dir {
            let p = dir.join(format!("{name}.toml"));
            if let Ok(text) = std::fs::read_to_string(&p) {
                return Theme::parse(&text).map_err(|e| format!("theme {}: {e}", p.display()));
            }
        }
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| Theme::parse(t).expect("built-in themes parse"))
            .ok_or_else(|| {
                let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
                format!(
                    "there is no theme named '{name}' (built in: {})",
                    names.join(", ")
                )
            })
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }

    pub fn dimmed(&self) -> Style {
        Style::default().fg(self.dim)
    }

    pub fn border(&self, focused: bool) -> Style {
        Style::default().fg(if focused {
            self.border_focus
        } else {
            self.border
        })
    }

    pub fn title(&self, focused: bool) -> Style {
        let s = Style::default().fg(if focused { self.accent } else { self.fg });
        if focused {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }

    pub fn selected(&self) -> Style {
        Style::default()
            .bg(self.selected_bg)
            .add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_parse_and_bad_colours_are_named() {
        for (name, _) in BUILT_IN {
            assert_eq!(&Theme::load(name, None).unwrap().name, name);
        }
        let bad = BUILT_IN[0]
            .1
            .replace("fg = \"#d0d0d0\"", "fg = \"blurple\"");
        assert!(Theme::parse(&bad).unwrap_err().contains("fg = \"blurple\""));
        assert!(Theme::load("nope", None).is_err());
    }
}
