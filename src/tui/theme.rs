//! Colour themes: `themes/*.toml` (dark, light, high-contrast) are built in; users add their own
//! as `<config dir>/memscope/themes/NAME.toml`.
//!
//! Contract: [`Theme::load`] finds a theme by name (user themes first), and every field must
//! parse as a colour, so a bad theme is a clear error at start rather than a garbled screen.
//! `mono` (chosen when `NO_COLOR` is set) draws no colour at all: the terminal's own colours,
//! with selection shown reversed and the budget bar's sections told apart by their glyphs.

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
    ("mono", include_str!("../../themes/mono.toml")),
];

/// The theme to use: the one named on the command line, else monochrome when `NO_COLOR` is set
/// to anything (<https://no-color.org>), else the config file's, else `dark`.
pub fn choose(flag: Option<String>, config: Option<String>, no_color: Option<&str>) -> String {
    match (flag, no_color.filter(|v| !v.is_empty()), config) {
        (Some(t), _, _) => t,
        (None, Some(_), _) => "mono".into(),
        (None, None, Some(t)) => t,
        (None, None, None) => "dark".into(),
    }
}

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
    /// No colour at all (every colour is the terminal's default).
    pub mono: bool,
}

fn color(field: &str, v: &str) -> Result<Color, String> {
    v.parse::<Color>()
        .map_err(|_| format!("{field} = \"{v}\" is not a colour (use a name or #rrggbb)"))
}

impl Theme {
    pub fn parse(text: &str) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut t = Theme {
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
            mono: false,
        };
        t.mono = [
            t.fg,
            t.bg,
            t.dim,
            t.accent,
            t.border,
            t.border_focus,
            t.user,
            t.agent,
            t.thought,
            t.system,
            t.function,
            t.ok,
            t.failed,
            t.warning,
            t.error,
            t.selected_bg,
        ]
        .into_iter()
        .chain(t.sections)
        .all(|c| c == Color::Reset);
        Ok(t)
    }

    /// The glyph each budget section is drawn with: distinct ones without colour, so the
    /// sections stay apart.
    pub fn section_glyphs(&self) -> [&'static str; 6] {
        if self.mono {
            ["█", "▓", "▒", "░", "▚", "·"]
        } else {
            ["█", "█", "█", "█", "█", "·"]
        }
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
        let s = Style::default().fg(if focused {
            self.border_focus
        } else {
            self.border
        });
        if focused && self.mono {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
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
        let s = Style::default()
            .bg(self.selected_bg)
            .add_modifier(Modifier::BOLD);
        if self.mono {
            s.add_modifier(Modifier::REVERSED)
        } else {
            s
        }
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
        assert!(Theme::load("mono", None).unwrap().mono);
        assert!(!Theme::default_theme().mono);
    }

    #[test]
    fn no_color_picks_mono_unless_a_theme_is_named() {
        assert_eq!(choose(None, None, Some("1")), "mono");
        assert_eq!(choose(None, Some("light".into()), Some("1")), "mono");
        assert_eq!(choose(Some("light".into()), None, Some("1")), "light");
        assert_eq!(choose(None, Some("light".into()), Some("")), "light");
        assert_eq!(choose(None, None, None), "dark");
    }
}
