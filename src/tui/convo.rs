//! The conversation as the UI shows it: entries built from engine events or from recall, word
//! wrapped, with wrapped heights cached per width so a frame only builds the visible lines.
//!
//! Contract: every text that enters an [`Entry`] is made printable with `text::visible` first,
//! so model output never reaches the terminal as control sequences. [`Conversation::visible`]
//! costs O(visible lines) plus, after a resize, one height computation per entry.

use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use unicode_width::UnicodeWidthChar;

use super::markdown::{self, Line, Mark};
use super::theme::Theme;
use crate::engine::Status;
use crate::text;

#[derive(Debug, Clone, PartialEq)]
pub enum EntryKind {
    User,
    /// What the agent said with send_message.
    Agent,
    Thought,
    Call {
        name: String,
        args: String,
        call_id: String,
        result: Option<(Status, String)>,
    },
    /// Heartbeats, warnings, summaries, evictions.
    System(&'static str),
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: EntryKind,
    pub text: String,
    pub expanded: bool,
    /// A reply still streaming in (at most one entry at a time).
    pub streaming: bool,
}

impl Entry {
    pub fn new(kind: EntryKind, text: &str) -> Entry {
        Entry {
            kind,
            text: text::visible(text),
            expanded: false,
            streaming: false,
        }
    }

    fn prefix(&self) -> &'static str {
        match &self.kind {
            EntryKind::User => "you › ",
            EntryKind::Agent => "agent › ",
            EntryKind::Thought => "thinks · ",
            EntryKind::Call { .. } => "ƒ ",
            EntryKind::System(_) => "◆ ",
            EntryKind::Error => "✖ ",
        }
    }

    /// The entry's full text, as it wraps.
    fn body(&self) -> String {
        match &self.kind {
            EntryKind::Call {
                name, args, result, ..
            } => {
                let res = match result {
                    Some((s, m)) => format!(" → {} {}", s.as_str(), m),
                    None => " …".to_string(),
                };
                if self.expanded {
                    format!("{name}({args}){res}")
                } else {
                    let one = format!("{name}({}){res}", text::one_line(args, 60));
                    text::one_line(&one, 400)
                }
            }
            EntryKind::System(label) => format!("[{label}] {}", self.text),
            _ => self.text.clone(),
        }
    }

    /// Whether the entry's text is shown as Markdown (what the agent writes).
    fn markdown(&self) -> bool {
        matches!(self.kind, EntryKind::Agent | EntryKind::Thought)
    }

    fn lines_at(&self, width: u16) -> Vec<Line> {
        let width = width.max(8) as usize;
        let prefix = self.prefix();
        if self.markdown() {
            // The text hangs under its prefix.
            let pw: usize = prefix.chars().map(|c| c.width().unwrap_or(0)).sum();
            let body = markdown::render(&self.text, width.saturating_sub(pw).max(4));
            return body
                .into_iter()
                .enumerate()
                .map(|(i, mut l)| {
                    let lead = if i == 0 {
                        prefix.to_string()
                    } else {
                        " ".repeat(pw)
                    };
                    l.insert(0, (lead, Mark::Plain));
                    l
                })
                .collect();
        }
        let body = self.body();
        let collapsed_call = matches!(self.kind, EntryKind::Call { .. }) && !self.expanded;
        let rows = if collapsed_call {
            vec![clip(&format!("{prefix}{body}"), width)]
        } else {
            wrap(&format!("{prefix}{body}"), width)
        };
        rows.into_iter().map(|r| vec![(r, Mark::Plain)]).collect()
    }

    fn style(&self, theme: &Theme) -> Style {
        match &self.kind {
            EntryKind::User => Style::default().fg(theme.user),
            EntryKind::Agent => Style::default().fg(theme.agent),
            EntryKind::Thought => Style::default()
                .fg(theme.thought)
                .add_modifier(Modifier::ITALIC),
            EntryKind::Call {
                result: Some((Status::Failed, _)),
                ..
            } => Style::default().fg(theme.failed),
            EntryKind::Call { .. } => Style::default().fg(theme.function),
            EntryKind::System(_) => Style::default().fg(theme.system),
            EntryKind::Error => Style::default().fg(theme.error),
        }
    }
}

/// An entry's style with a Markdown piece's mark on it.
fn mark_style(base: Style, mark: Mark, theme: &Theme) -> Style {
    match mark {
        Mark::Plain => base,
        Mark::Bold => base.add_modifier(Modifier::BOLD),
        Mark::Italic => base.add_modifier(Modifier::ITALIC),
        Mark::BoldItalic => base.add_modifier(Modifier::BOLD | Modifier::ITALIC),
        Mark::Struck => base.add_modifier(Modifier::CROSSED_OUT),
        Mark::Code | Mark::CodeBlock => base.fg(theme.function),
        Mark::Heading => base.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        Mark::Link => base.add_modifier(Modifier::UNDERLINED),
        Mark::Decor => base.fg(theme.dim),
    }
}

/// One line of at most `width` columns, ending in "…" when cut.
pub fn clip(s: &str, width: usize) -> String {
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Greedy word wrap by display width; long words are split; newlines are kept.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    // A tab has no width of its own in a terminal cell: shown as spaces, never dropped.
    let expanded;
    let s = if s.contains('\t') {
        expanded = s.replace('\t', "    ");
        expanded.as_str()
    } else {
        s
    };
    for para in s.split('\n') {
        let mut line = String::new();
        let mut line_w = 0usize;
        for word in para.split_inclusive(' ') {
            let w: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
            if line_w + w.saturating_sub(word.ends_with(' ') as usize) > width && !line.is_empty() {
                out.push(line.trim_end().to_string());
                line = String::new();
                line_w = 0;
            }
            if w > width {
                for c in word.chars() {
                    let cw = c.width().unwrap_or(0);
                    if line_w + cw > width {
                        out.push(std::mem::take(&mut line));
                        line_w = 0;
                    }
                    line.push(c);
                    line_w += cw;
                }
            } else {
                line.push_str(word);
                line_w += w;
            }
        }
        out.push(line.trim_end().to_string());
    }
    out
}

/// Wrapped heights of the entries at one width: a cache, filled while drawing.
#[derive(Debug, Default)]
struct Heights {
    width: u16,
    list: Vec<u16>,
}

#[derive(Debug, Default)]
pub struct Conversation {
    pub entries: Vec<Entry>,
    /// Interior mutability so that drawing, which only reads the app, can fill it.
    heights: std::cell::RefCell<Heights>,
    /// Lines scrolled up from the bottom.
    pub scroll: usize,
    /// Index of the selected entry (when the pane has focus).
    pub selected: Option<usize>,
}

impl Conversation {
    pub fn push(&mut self, e: Entry) {
        let hs = self.heights.get_mut();
        if hs.width > 0 && hs.list.len() == self.entries.len() {
            hs.list.push(e.lines_at(hs.width).len() as u16);
        }
        self.entries.push(e);
    }

    /// Attaches a function result to its call entry.
    pub fn complete_call(&mut self, call_id: &str, status: Status, message: &str) {
        let visible_id = text::visible(call_id);
        let idx = self.entries.iter().rposition(|e| matches!(&e.kind, EntryKind::Call { call_id: c, result: None, .. } if *c == visible_id));
        if let Some(i) = idx {
            if let EntryKind::Call { result, .. } = &mut self.entries[i].kind {
                *result = Some((status, text::visible(message)));
            }
            self.invalidate(i);
        }
    }

    /// Removes an entry (an unfinished streamed reply whose step was dropped).
    pub fn remove(&mut self, i: usize) {
        if i < self.entries.len() {
            self.entries.remove(i);
            let hs = self.heights.get_mut();
            if i < hs.list.len() {
                hs.list.remove(i);
            }
            if self.selected.is_some_and(|s| s >= self.entries.len()) {
                self.selected = self.entries.len().checked_sub(1);
            }
        }
    }

    /// The entry a reply is streaming into, if any.
    pub fn streaming(&self) -> Option<usize> {
        self.entries.iter().rposition(|e| e.streaming)
    }

    /// Puts entries before the ones shown (history that loaded after live events came in).
    pub fn prepend(&mut self, mut earlier: Vec<Entry>) {
        if earlier.is_empty() {
            return;
        }
        let n = earlier.len();
        earlier.append(&mut self.entries);
        self.entries = earlier;
        self.heights.get_mut().list.clear();
        if let Some(s) = self.selected.as_mut() {
            *s += n;
        }
    }

    /// Replaces an entry's kind and text (a streamed reply becoming final).
    pub fn set(&mut self, i: usize, kind: EntryKind, text: &str) {
        if let Some(e) = self.entries.get_mut(i) {
            e.kind = kind;
            e.text = text::visible(text);
            e.streaming = false;
            self.invalidate(i);
        }
    }

    /// Appends streamed text to an entry.
    pub fn append(&mut self, i: usize, piece: &str) {
        if let Some(e) = self.entries.get_mut(i) {
            e.text.push_str(&text::visible(piece));
            self.invalidate(i);
        }
    }

    pub fn invalidate(&mut self, i: usize) {
        let hs = self.heights.get_mut();
        if i < hs.list.len() && i < self.entries.len() {
            hs.list[i] = self.entries[i].lines_at(hs.width).len() as u16;
        }
    }

    pub fn toggle(&mut self, i: usize) {
        if let Some(e) = self.entries.get_mut(i) {
            e.expanded = !e.expanded;
            self.invalidate(i);
        }
    }

    /// The heights at `width`, computed again only after a resize or a change of entries.
    fn heights_at(&self, width: u16) -> std::cell::RefMut<'_, Heights> {
        let mut hs = self.heights.borrow_mut();
        if hs.width != width || hs.list.len() != self.entries.len() {
            hs.width = width;
            hs.list = self
                .entries
                .iter()
                .map(|e| e.lines_at(width).len() as u16)
                .collect();
        }
        hs
    }

    /// The furthest the pane can scroll up in a `width` × `height` area.
    pub fn max_scroll(&self, width: u16, height: u16) -> usize {
        let total: usize = self
            .heights_at(width)
            .list
            .iter()
            .map(|h| *h as usize)
            .sum();
        total.saturating_sub(height as usize)
    }

    /// The lines to draw in a `width` × `height` area, bottom-anchored and scrolled (a scroll
    /// past the top shows the top).
    pub fn visible(
        &self,
        width: u16,
        height: u16,
        theme: &Theme,
    ) -> Vec<ratatui::text::Line<'static>> {
        let scroll = self.scroll.min(self.max_scroll(width, height));
        let hs = self.heights_at(width);
        let height = height as usize;
        // Lines from the bottom to skip, then lines to take.
        let mut skip = scroll;
        let mut want = height;
        let mut chunks: Vec<Vec<ratatui::text::Line<'static>>> = Vec::new();
        for i in (0..self.entries.len()).rev() {
            if want == 0 {
                break;
            }
            let h = hs.list[i] as usize;
            if skip >= h {
                skip -= h;
                continue;
            }
            let e = &self.entries[i];
            let style = e.style(theme);
            let lines = e.lines_at(width);
            let end = lines.len() - skip;
            let start = end.saturating_sub(want);
            want -= end - start;
            skip = 0;
            let selected = self.selected == Some(i);
            chunks.push(
                lines[start..end]
                    .iter()
                    .map(|l| {
                        ratatui::text::Line::from(
                            l.iter()
                                .map(|(t, m)| {
                                    let mut st = mark_style(style, *m, theme);
                                    if selected {
                                        st = st.patch(theme.selected());
                                    }
                                    Span::styled(t.clone(), st)
                                })
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect(),
            );
        }
        chunks.into_iter().rev().flatten().collect()
    }

    /// Scrolls so that entry `i` is in view.
    pub fn scroll_to(&mut self, i: usize, width: u16, height: u16) {
        let (below, h) = {
            let hs = self.heights_at(width);
            let below: usize = hs.list[i + 1..].iter().map(|h| *h as usize).sum();
            (below, hs.list[i] as usize)
        };
        if below < self.scroll {
            self.scroll = below;
        } else if below + h > self.scroll + height as usize {
            self.scroll = (below + h).saturating_sub(height as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_respects_width_and_newlines() {
        assert_eq!(wrap("hello world foo", 11), vec!["hello world", "foo"]);
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert!(
            wrap("日本語のテキスト", 6).iter().all(|l| l
                .chars()
                .map(|c| c.width().unwrap())
                .sum::<usize>()
                <= 6)
        );
    }

    #[test]
    fn visible_is_bottom_anchored_and_scrolls() {
        let theme = Theme::default_theme();
        let mut c = Conversation::default();
        for i in 0..100 {
            c.push(Entry::new(EntryKind::User, &format!("message {i}")));
        }
        let lines = c.visible(40, 5, &theme);
        assert_eq!(lines.len(), 5);
        assert!(lines[4].to_string().contains("message 99"));
        c.scroll = 10;
        let lines = c.visible(40, 5, &theme);
        assert!(lines[4].to_string().contains("message 89"));
        c.scroll = 10_000;
        let lines = c.visible(40, 5, &theme);
        assert!(lines[0].to_string().contains("message 0"));
    }

    #[test]
    fn control_sequences_never_survive() {
        let e = Entry::new(EntryKind::Agent, "hi \x1b]52;c;ZXZpbA==\x07 \x1b[2J");
        assert!(!e.text.contains('\x1b') && !e.text.contains('\x07'));
    }
}
