//! Splitting a document into passages sized in tokens.
//!
//! Contract: [`split`] returns the document's text as passages in order, each of at most
//! `max_tokens` tokens as the counter counts them (a block is measured on its own and blocks
//! are joined by one newline token, so a passage can be a token or two off where the
//! encoding merges across a join), none empty, covering every non-blank line. It breaks
//! between blocks (paragraphs; Markdown headings start a new passage once the current one has
//! some substance; fenced code stays whole where it fits), then between lines, and only
//! inside a line (at whitespace, else anywhere on a character boundary) when one line is
//! itself too long. Passages keep the document's own text; each records its line span.

use crate::tokens::TokenCounter;

use super::read::Kind;

/// A passage cut from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    /// First and last line, from 1.
    pub lines: (u32, u32),
    /// Its tokens as measured while packing (its blocks and the joins between them).
    pub tokens: u32,
}

/// A run of lines that belongs together.
struct Block {
    first: usize,
    last: usize,
    heading: bool,
}

pub fn split(text: &str, kind: Kind, max_tokens: u32, counter: &TokenCounter) -> Vec<Piece> {
    let max = max_tokens.max(16);
    let lines: Vec<&str> = text.split('\n').collect();
    let blocks = blocks(&lines, kind);
    let mut out = Vec::new();
    let mut packer = Packer {
        lines: &lines,
        max,
        current: None,
        out: &mut out,
    };
    for b in blocks {
        let tokens = counter.count(&join(&lines, b.first, b.last));
        if tokens > max {
            packer.flush();
            // Too big for one passage: its lines are packed on their own.
            for (i, line) in lines.iter().enumerate().take(b.last + 1).skip(b.first) {
                if line.trim().is_empty() {
                    continue;
                }
                let t = counter.count(line);
                if t > max {
                    packer.flush();
                    for piece in split_long(line.trim(), max, counter) {
                        packer.out.push(Piece {
                            tokens: counter.count(&piece),
                            text: piece,
                            lines: (i as u32 + 1, i as u32 + 1),
                        });
                    }
                } else {
                    packer.add(i, i, t, false);
                }
            }
            packer.flush();
        } else {
            packer.add(b.first, b.last, tokens, b.heading);
        }
    }
    packer.flush();
    out
}

struct Packer<'a> {
    lines: &'a [&'a str],
    max: u32,
    /// First line, last line, tokens so far.
    current: Option<(usize, usize, u32)>,
    out: &'a mut Vec<Piece>,
}

impl Packer<'_> {
    fn add(&mut self, first: usize, last: usize, tokens: u32, heading: bool) {
        if let Some((_, _, have)) = self.current {
            let starts_section = heading && have >= self.max / 3;
            if have + 1 + tokens > self.max || starts_section {
                self.flush();
            }
        }
        self.current = Some(match self.current {
            Some((f, _, have)) => (f, last, have + 1 + tokens),
            None => (first, last, tokens),
        });
    }

    fn flush(&mut self) {
        if let Some((first, last, tokens)) = self.current.take() {
            let text = join(self.lines, first, last);
            let trimmed = text.trim();
            if !trimmed.is_empty() {
                self.out.push(Piece {
                    text: trimmed.to_string(),
                    lines: (first as u32 + 1, last as u32 + 1),
                    tokens,
                });
            }
        }
    }
}

fn join(lines: &[&str], first: usize, last: usize) -> String {
    lines[first..=last].join("\n")
}

/// Paragraphs (runs of non-blank lines), with Markdown headings as blocks of their own start
/// and fenced code kept in one block.
fn blocks(lines: &[&str], kind: Kind) -> Vec<Block> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut heading = false;
    let mut fence: Option<&str> = None;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if kind == Kind::Markdown {
            if let Some(f) = fence {
                if t.starts_with(f) {
                    fence = None;
                }
                continue;
            }
            if let Some(f) = ["```", "~~~"].into_iter().find(|f| t.starts_with(f)) {
                fence = Some(f);
                start.get_or_insert(i);
                continue;
            }
            if is_heading(t) {
                if let Some(s) = start.take() {
                    out.push(Block {
                        first: s,
                        last: i - 1,
                        heading,
                    });
                }
                start = Some(i);
                heading = true;
                continue;
            }
        }
        if line.trim().is_empty() {
            if let Some(s) = start.take() {
                out.push(Block {
                    first: s,
                    last: i - 1,
                    heading,
                });
            }
            heading = false;
        } else {
            start.get_or_insert(i);
        }
    }
    if let Some(s) = start {
        out.push(Block {
            first: s,
            last: lines.len() - 1,
            heading,
        });
    }
    out
}

fn is_heading(t: &str) -> bool {
    let hashes = t.chars().take_while(|&c| c == '#').count();
    (1..=6).contains(&hashes) && t[hashes..].starts_with([' ', '\t'])
}

/// Cuts one over-long line into pieces that fit, halving at the whitespace nearest the middle
/// (or the middle character when there is none).
fn split_long(text: &str, max: u32, counter: &TokenCounter) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if counter.count(text) <= max || text.chars().count() < 2 {
        return vec![text.to_string()];
    }
    let mid = text.len() / 2;
    let mid = (0..=mid)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let cut = text[..mid]
        .rfind(char::is_whitespace)
        .filter(|&i| i > mid / 2)
        .or_else(|| text[mid..].find(char::is_whitespace).map(|i| mid + i))
        .filter(|&i| i > 0 && i < text.len())
        .unwrap_or(mid);
    let cut = if cut == 0 {
        text.char_indices()
            .nth(1)
            .map(|(i, _)| i)
            .unwrap_or(text.len())
    } else {
        cut
    };
    let mut out = split_long(&text[..cut], max, counter);
    out.extend(split_long(&text[cut..], max, counter));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> TokenCounter {
        TokenCounter::for_model("gpt-4o")
    }

    #[test]
    fn paragraphs_are_packed_up_to_the_limit_and_keep_their_lines() {
        let c = counter();
        let para = "This is one paragraph of plain words about nothing much at all.";
        let text = vec![para; 30].join("\n\n");
        let pieces = split(&text, Kind::Text, 60, &c);
        assert!(pieces.len() > 5, "{}", pieces.len());
        for p in &pieces {
            assert!(c.count(&p.text) <= 62, "{}", c.count(&p.text));
            assert!(p.text.starts_with("This is") && p.text.ends_with("all."));
        }
        assert_eq!(pieces[0].lines.0, 1);
        assert_eq!(pieces.last().unwrap().lines.1, 59);
        let words: usize = pieces
            .iter()
            .map(|p| p.text.split_whitespace().count())
            .sum();
        assert_eq!(words, text.split_whitespace().count());
    }

    #[test]
    fn a_markdown_heading_starts_a_passage_and_a_fence_stays_whole() {
        let c = counter();
        let intro = "Intro words that take up some room in this passage here. ".repeat(5);
        let text = format!(
            "# One\n\n{intro}\n\n```\nfn main() {{\n\n    println!(\"hi\");\n}}\n```\n\n## Two\n\nMore text."
        );
        let pieces = split(&text, Kind::Markdown, 200, &c);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert!(pieces[0].text.contains("println!") && pieces[0].text.ends_with("```"));
        assert!(pieces[1].text.starts_with("## Two"));
        assert_eq!(pieces[1].lines, (12, 14));
    }

    #[test]
    fn one_enormous_line_is_cut_inside_and_nothing_is_lost() {
        let c = counter();
        let line = "word ".repeat(2000);
        let pieces = split(&line, Kind::Text, 100, &c);
        assert!(pieces.len() >= 10);
        assert!(pieces.iter().all(|p| c.count(&p.text) <= 100));
        let words: usize = pieces
            .iter()
            .map(|p| p.text.split_whitespace().count())
            .sum();
        assert_eq!(words, 2000);
        let cjk = "記憶".repeat(3000);
        let pieces = split(&cjk, Kind::Text, 100, &c);
        assert_eq!(
            pieces.iter().map(|p| p.text.chars().count()).sum::<usize>(),
            6000
        );
        assert!(pieces.iter().all(|p| c.count(&p.text) <= 100));
    }

    #[test]
    fn blank_documents_give_nothing() {
        assert!(split("\n\n   \n", Kind::Text, 100, &counter()).is_empty());
    }
}
