//! Model replies as Markdown: headings, emphasis, inline code, lists, quotes, links as text
//! and code blocks set apart, wrapped to a width.
//!
//! Contract: [`render`] turns text (already made printable by `text::visible`) into lines of
//! marked pieces no wider than `width` columns; the pieces hold only the text's own
//! characters and a few drawn ones (bullets, rules, the bar of a code block or quote), so
//! untrusted text stays inert. Any input renders, half-written Markdown from a stream
//! included (an unclosed fence is a code block to the end). The caller maps each [`Mark`] to
//! a style.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthChar;

/// How a piece of text is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Plain,
    Bold,
    Italic,
    BoldItalic,
    Struck,
    /// Inline code.
    Code,
    /// A line of a fenced or indented code block.
    CodeBlock,
    Heading,
    /// A link's text.
    Link,
    /// Drawn by the renderer: bullets, numbers, bars, rules, a link's address.
    Decor,
}

/// One screen line: pieces and their marks.
pub type Line = Vec<(String, Mark)>;

/// One line before wrapping: the prefix of its first row, the indent of the rows after, and
/// its pieces.
#[derive(Default)]
struct Logical {
    first: String,
    rest: String,
    pieces: Line,
    /// Code is cut at the width, not wrapped at words.
    code: bool,
}

#[derive(Default)]
struct State {
    out: Vec<Logical>,
    cur: Option<Logical>,
    bold: u32,
    italic: u32,
    struck: u32,
    heading: bool,
    link: Vec<String>,
    /// Per open list: the next number, or none for bullets.
    lists: Vec<Option<u64>>,
    quote: u32,
    code: bool,
    /// A block ended: the next one is preceded by a blank line.
    gap: bool,
}

impl State {
    fn indent(&self) -> String {
        let mut s = "▏ ".repeat(self.quote as usize);
        s.push_str(&"  ".repeat(self.lists.len()));
        s
    }

    fn line(&mut self) -> &mut Logical {
        if self.cur.is_none() {
            if self.gap && !self.out.is_empty() {
                self.out.push(Logical::default());
            }
            self.gap = false;
            let indent = self.indent();
            self.cur = Some(Logical {
                first: indent.clone(),
                rest: indent,
                code: self.code,
                ..Default::default()
            });
        }
        self.cur.as_mut().expect("just made")
    }

    fn end_line(&mut self) {
        if let Some(l) = self.cur.take() {
            self.out.push(l);
        }
    }

    fn end_block(&mut self) {
        self.end_line();
        self.gap = true;
    }

    fn mark(&self) -> Mark {
        if self.code {
            Mark::CodeBlock
        } else if self.heading {
            Mark::Heading
        } else if !self.link.is_empty() {
            Mark::Link
        } else if self.struck > 0 {
            Mark::Struck
        } else {
            match (self.bold > 0, self.italic > 0) {
                (true, true) => Mark::BoldItalic,
                (true, false) => Mark::Bold,
                (false, true) => Mark::Italic,
                _ => Mark::Plain,
            }
        }
    }

    fn text(&mut self, t: &str, mark: Mark) {
        if t.is_empty() {
            return;
        }
        self.line().pieces.push((t.to_string(), mark));
    }
}

/// `text` as Markdown, in lines of at most `width` columns.
pub fn render(text: &str, width: usize) -> Vec<Line> {
    let mut st = State::default();
    let opts = Options::ENABLE_STRIKETHROUGH;
    for ev in Parser::new_ext(text, opts) {
        match ev {
            Event::Start(tag) => start(&mut st, tag),
            Event::End(tag) => end(&mut st, tag),
            Event::Text(t) if st.code => {
                // Code keeps its lines (and its tabs, as spaces).
                let t = t.replace('\t', "    ");
                let mut parts = t.split('\n').peekable();
                while let Some(p) = parts.next() {
                    if p.is_empty() && parts.peek().is_none() {
                        break;
                    }
                    st.line();
                    st.text(p, Mark::CodeBlock);
                    st.end_line();
                }
            }
            // A tab has no width of its own in a cell: shown as spaces, never dropped.
            Event::Text(t) => {
                let m = st.mark();
                st.text(&t.replace('\t', "    "), m);
            }
            Event::Code(t) => st.text(&t.replace('\t', "    "), Mark::Code),
            Event::SoftBreak => {
                let m = st.mark();
                st.text(" ", m);
            }
            Event::HardBreak => st.end_line(),
            Event::Rule => {
                st.line()
                    .pieces
                    .push(("─".repeat(width.min(40)), Mark::Decor));
                st.end_block();
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                for (i, part) in t.trim_end_matches('\n').split('\n').enumerate() {
                    if i > 0 {
                        st.end_line();
                    }
                    st.text(part, Mark::Plain);
                }
            }
            Event::TaskListMarker(done) => st.text(if done { "[x] " } else { "[ ] " }, Mark::Decor),
            Event::FootnoteReference(t) => st.text(&format!("[{t}]"), Mark::Decor),
            Event::InlineMath(t) | Event::DisplayMath(t) => st.text(&t, Mark::Code),
        }
    }
    st.end_line();
    let mut out = Vec::new();
    for l in st.out {
        wrap_into(&l, width.max(4), &mut out);
    }
    while out.last().is_some_and(|l: &Line| l.is_empty()) {
        out.pop();
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn start(st: &mut State, tag: Tag) {
    match tag {
        Tag::Paragraph => {}
        Tag::Heading { .. } => {
            st.end_block();
            st.heading = true;
        }
        Tag::BlockQuote(_) => {
            st.end_block();
            st.quote += 1;
        }
        Tag::CodeBlock(kind) => {
            st.end_block();
            if let CodeBlockKind::Fenced(lang) = kind
                && !lang.is_empty()
            {
                st.line().pieces.push((format!("┌ {lang}"), Mark::Decor));
                st.end_line();
            }
            st.code = true;
        }
        Tag::List(first) => {
            if st.lists.is_empty() {
                st.end_block();
            } else {
                st.end_line();
            }
            st.lists.push(first);
        }
        Tag::Item => {
            st.end_line();
            let bullet = match st.lists.last_mut() {
                Some(Some(n)) => {
                    *n += 1;
                    format!("{}. ", *n - 1)
                }
                _ => "• ".to_string(),
            };
            // The bullet hangs in the indent of the list it belongs to.
            let depth = st.lists.len().saturating_sub(1);
            let mut first = "▏ ".repeat(st.quote as usize);
            first.push_str(&"  ".repeat(depth));
            let rest = format!("{first}{}", " ".repeat(width_of(&bullet)));
            if std::mem::take(&mut st.gap) && !st.out.is_empty() {
                st.out.push(Logical::default());
            }
            st.cur = Some(Logical {
                first: format!("{first}{bullet}"),
                rest,
                ..Default::default()
            });
        }
        Tag::Emphasis => st.italic += 1,
        Tag::Strong => st.bold += 1,
        Tag::Strikethrough => st.struck += 1,
        Tag::Link { dest_url, .. } => st.link.push(dest_url.to_string()),
        Tag::Image { dest_url, .. } => {
            st.text("[image: ", Mark::Decor);
            st.link.push(dest_url.to_string());
        }
        _ => {}
    }
}

fn end(st: &mut State, tag: TagEnd) {
    match tag {
        TagEnd::Paragraph => {
            if st.lists.is_empty() {
                st.end_block();
            } else {
                st.end_line();
            }
        }
        TagEnd::Heading(_) => {
            st.heading = false;
            st.end_block();
        }
        TagEnd::BlockQuote(_) => {
            st.end_line();
            st.quote = st.quote.saturating_sub(1);
            st.gap = true;
        }
        TagEnd::CodeBlock => {
            st.code = false;
            st.end_block();
        }
        TagEnd::List(_) => {
            st.end_line();
            st.lists.pop();
            if st.lists.is_empty() {
                st.gap = true;
            }
        }
        TagEnd::Item => st.end_line(),
        TagEnd::Emphasis => st.italic = st.italic.saturating_sub(1),
        TagEnd::Strong => st.bold = st.bold.saturating_sub(1),
        TagEnd::Strikethrough => st.struck = st.struck.saturating_sub(1),
        TagEnd::Link => {
            let url = st.link.pop().unwrap_or_default();
            let shown: String = st
                .cur
                .as_ref()
                .and_then(|l| l.pieces.last())
                .map(|(t, _)| t.clone())
                .unwrap_or_default();
            // A bare address is shown once; otherwise the address follows its text.
            if !url.is_empty() && shown != url && !url.starts_with('#') {
                st.text(&format!(" ({url})"), Mark::Decor);
            }
        }
        TagEnd::Image => {
            st.link.pop();
            st.text("]", Mark::Decor);
        }
        _ => {}
    }
}

fn width_of(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Wraps one logical line: at spaces for prose, at the width for code.
fn wrap_into(l: &Logical, width: usize, out: &mut Vec<Line>) {
    let bar = l.code.then_some(("│ ", Mark::Decor));
    let lead = |first: bool| -> Line {
        let mut line = Vec::new();
        let p = if first { &l.first } else { &l.rest };
        if !p.is_empty() {
            line.push((p.clone(), Mark::Decor));
        }
        if let Some((b, m)) = bar {
            line.push((b.to_string(), m));
        }
        line
    };
    let mut line = lead(true);
    let mut w: usize = line.iter().map(|(t, _)| width_of(t)).sum();
    if l.pieces.is_empty() {
        out.push(if l.first.is_empty() && bar.is_none() {
            Vec::new()
        } else {
            line
        });
        return;
    }
    let rest_w = width_of(&l.rest) + bar.map(|(b, _)| width_of(b)).unwrap_or(0);
    // The row holds some of the line's own text (not just its prefix).
    let mut content = false;
    let words = l.pieces.iter().flat_map(|(t, m)| {
        let split: Vec<&str> = if l.code {
            vec![t.as_str()]
        } else {
            t.split_inclusive(' ').collect()
        };
        split.into_iter().map(move |s| (s, *m))
    });
    for (word, mark) in words {
        let ww = width_of(word);
        let need = ww.saturating_sub(word.ends_with(' ') as usize);
        if !l.code && content && w + need > width {
            trim_end(&mut line);
            out.push(std::mem::replace(&mut line, lead(false)));
            w = rest_w;
            content = false;
        }
        if w + need > width {
            // Too long for a row of its own (or code): cut at the width.
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if w + cw > width && content {
                    out.push(std::mem::replace(&mut line, lead(false)));
                    w = rest_w;
                }
                push(&mut line, c.encode_utf8(&mut [0; 4]), mark);
                w += cw;
                content = true;
            }
        } else {
            push(&mut line, word, mark);
            w += ww;
            content = true;
        }
    }
    trim_end(&mut line);
    out.push(line);
}

fn push(line: &mut Line, text: &str, mark: Mark) {
    match line.last_mut() {
        Some((t, m)) if *m == mark => t.push_str(text),
        _ => line.push((text.to_string(), mark)),
    }
}

fn trim_end(line: &mut Line) {
    if let Some((t, _)) = line.last_mut() {
        let n = t.trim_end().len();
        t.truncate(n);
    }
}

/// The text of a line, marks dropped (tests, copies).
pub fn plain(line: &Line) -> String {
    line.iter().map(|(t, _)| t.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(md: &str, width: usize) -> Vec<String> {
        render(md, width).iter().map(plain).collect()
    }

    #[test]
    fn the_markup_goes_and_its_meaning_stays() {
        let lines = render("# Plan\n\nSome **bold** and *soft* and `code`.", 80);
        assert_eq!(plain(&lines[0]), "Plan");
        assert_eq!(lines[0][0].1, Mark::Heading);
        assert_eq!(plain(&lines[1]), "");
        assert_eq!(plain(&lines[2]), "Some bold and soft and code.");
        let marks: Vec<Mark> = lines[2].iter().map(|(_, m)| *m).collect();
        assert!(marks.contains(&Mark::Bold) && marks.contains(&Mark::Italic));
        assert!(marks.contains(&Mark::Code));
    }

    #[test]
    fn lists_hang_their_bullets_and_code_keeps_its_lines() {
        let md = "1. first item that is long enough to wrap around\n2. second\n   - inner\n\n```rust\nfn main() {\n\tgo();\n}\n```";
        let l = text(md, 24);
        assert_eq!(l[0], "1. first item that is");
        assert_eq!(l[1], "   long enough to wrap");
        assert!(l.iter().any(|x| x == "2. second"), "{l:#?}");
        assert!(l.iter().any(|x| x == "  • inner"), "{l:#?}");
        assert!(l.iter().any(|x| x == "┌ rust"), "{l:#?}");
        assert!(l.iter().any(|x| x == "│     go();"), "{l:#?}");
        assert!(l.iter().all(|x| width_of(x) <= 24), "{l:#?}");
    }

    #[test]
    fn links_are_text_with_their_address() {
        assert_eq!(
            text(
                "see [the docs](https://example.com/a) or <https://x.io>",
                80
            ),
            ["see the docs (https://example.com/a) or https://x.io"]
        );
    }

    #[test]
    fn half_written_markdown_renders() {
        let l = text("Here:\n\n```\nlet x = 1;\nlet y", 40);
        assert_eq!(l, ["Here:", "", "│ let x = 1;", "│ let y"]);
        assert_eq!(text("", 40), [""]);
        assert_eq!(text("**unclosed", 40), ["**unclosed"]);
    }
}
