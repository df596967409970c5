//! Loading documents into archival memory: the part that needs no store.
//!
//! Contract: a [`Loader`] is made from a [`read::Plan`] and the texts archival memory already
//! holds. [`Loader::next_batch`] reads the next files as it needs them, splits each into
//! passages of at most `chunk_tokens` tokens ([`split`]) and returns the next passages that are
//! new: a passage whose text the store (or this load) already holds is counted as a duplicate
//! and left out, so loading the same files twice adds nothing. A file that cannot be read is
//! recorded with the reason and skipped; nothing in a file can make it panic. The engine
//! (`engine/load.rs`) embeds and commits what it returns and reports [`Progress`] and a
//! [`Summary`]; the loader itself never touches the store or the terminal.

pub mod read;
pub mod split;

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::memory::Origin;
use crate::tokens::TokenCounter;
use read::{Kind, Plan, Source};

/// Passages are cut to at most this many tokens unless told otherwise.
pub const DEFAULT_CHUNK_TOKENS: u32 = 300;

/// How a load goes so far (the `load_progress` event).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Files to read, and read so far (skipped ones included).
    pub files: usize,
    pub files_done: usize,
    pub bytes: u64,
    pub bytes_done: u64,
    /// Passages added, and passages left out because the store already held them.
    pub passages: usize,
    pub duplicates: usize,
    /// Files that could not be loaded.
    pub skipped: usize,
    /// The file being read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
}

/// How a load ended (the `load_finished` event).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub files: usize,
    pub passages: usize,
    pub duplicates: usize,
    pub skipped: usize,
    /// Tokens in the passages added.
    pub tokens: u64,
    /// Passages saved with an embedding.
    pub embedded: usize,
    /// The user stopped the load; what was added before stays.
    pub stopped: bool,
    /// One line for people.
    pub message: String,
}

/// A passage to add, cut from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPiece {
    pub text: String,
    pub origin: Origin,
    pub tokens: u32,
}

pub struct Loader {
    sources: VecDeque<Source>,
    pending: VecDeque<NewPiece>,
    /// Fingerprints (hash and length) of every text held or added.
    known: HashSet<(u64, usize)>,
    chunk_tokens: u32,
    progress: Progress,
    tokens: u64,
    /// Skipped paths not yet reported.
    skips: Vec<(String, String)>,
}

fn fingerprint(text: &str) -> (u64, usize) {
    (crate::memory::state::text_id(text), text.len())
}

impl Loader {
    /// Leaves out `text` too, as already held.
    pub fn know(&mut self, text: &str) {
        self.known.insert(fingerprint(text.trim()));
    }

    pub fn new<'a>(
        plan: Plan,
        existing: impl IntoIterator<Item = &'a str>,
        chunk_tokens: u32,
    ) -> Self {
        let progress = Progress {
            files: plan.sources.len() + plan.skipped.len(),
            files_done: plan.skipped.len(),
            bytes: plan.sources.iter().map(Source::bytes).sum(),
            skipped: plan.skipped.len(),
            ..Default::default()
        };
        Loader {
            sources: plan.sources.into(),
            pending: VecDeque::new(),
            known: existing
                .into_iter()
                .map(|t| fingerprint(t.trim()))
                .collect(),
            chunk_tokens: chunk_tokens.max(16),
            progress,
            tokens: 0,
            skips: plan.skipped,
        }
    }

    /// The next passages to add, at most `max`; empty when the load is done. They count as
    /// added once [`Loader::committed`] is told.
    pub fn next_batch(&mut self, max: usize, counter: &TokenCounter) -> Vec<NewPiece> {
        while self.pending.len() < max.max(1) {
            let Some(source) = self.sources.pop_front() else {
                break;
            };
            self.load_one(&source, counter);
        }
        let n = self.pending.len().min(max.max(1));
        self.pending.drain(..n).collect()
    }

    /// A batch from [`Loader::next_batch`] was committed: it counts as added.
    pub fn committed(&mut self, batch: &[NewPiece]) {
        self.progress.passages += batch.len();
        self.tokens += batch.iter().map(|p| u64::from(p.tokens)).sum::<u64>();
    }

    fn load_one(&mut self, source: &Source, counter: &TokenCounter) {
        let name = source.name();
        self.progress.current = Some(name.clone());
        let doc = read::read(source);
        self.progress.files_done += 1;
        self.progress.bytes_done += source.bytes();
        let doc = match doc {
            Ok(d) => d,
            Err(why) => {
                self.progress.skipped += 1;
                self.skips.push((name, why));
                return;
            }
        };
        let pieces = split::split(&doc.text, doc.kind, self.chunk_tokens, counter);
        if pieces.is_empty() {
            self.progress.skipped += 1;
            self.skips.push((name, "holds no text".into()));
            return;
        }
        let parts = pieces.len() as u32;
        for (i, piece) in pieces.into_iter().enumerate() {
            if !self.known.insert(fingerprint(&piece.text)) {
                self.progress.duplicates += 1;
                continue;
            }
            let tokens = piece.tokens;
            self.pending.push_back(NewPiece {
                origin: Origin {
                    path: name.clone(),
                    part: i as u32 + 1,
                    parts,
                    lines: (doc.kind != Kind::Html).then_some(piece.lines),
                },
                text: piece.text,
                tokens,
            });
        }
    }

    /// Paths skipped since the last call, with the reason.
    pub fn take_skips(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.skips)
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Files still to read and passages still to hand out.
    pub fn is_done(&self) -> bool {
        self.sources.is_empty() && self.pending.is_empty()
    }

    /// How it ended; `embed_failed` says why passages were saved without embeddings.
    pub fn summary(&self, stopped: bool, embedded: usize, embed_failed: Option<&str>) -> Summary {
        let p = &self.progress;
        let mut message = format!(
            "loaded {} of {}: {} ({})",
            p.files_done - p.skipped,
            crate::text::count(p.files as u64, "file"),
            crate::text::count(p.passages as u64, "passage"),
            crate::text::count(self.tokens, "token")
        );
        if p.duplicates > 0 {
            message.push_str(&format!(", {} already held and left out", p.duplicates));
        }
        // What was skipped says why: the first in full (a mistyped path is the usual one).
        if let Some((name, why)) = self.skips.first() {
            let more = match p.skipped {
                0 | 1 => String::new(),
                n => format!(" and {} more", crate::text::count((n - 1) as u64, "file")),
            };
            message.push_str(&format!(
                "; skipped {}: {why}{more}",
                crate::text::visible(name)
            ));
        }
        if embedded > 0 {
            message.push_str(&format!(", {embedded} embedded"));
        }
        if let Some(e) = embed_failed {
            message.push_str(&format!(" (saved without embeddings after: {e})"));
        }
        if stopped {
            message.push_str("; stopped before the end, what was loaded stays");
        }
        Summary {
            files: p.files,
            passages: p.passages,
            duplicates: p.duplicates,
            skipped: p.skipped,
            tokens: self.tokens,
            embedded,
            stopped,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn counter() -> TokenCounter {
        TokenCounter::for_model("gpt-4o")
    }

    #[test]
    fn duplicates_within_a_load_and_of_what_is_held_are_left_out() {
        let p1 = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
        let p2 = "one two three four five six seven eight nine ten";
        let p3 = "red orange yellow green blue indigo violet black white";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), format!("{p1}\n\n{p2}\n")).unwrap();
        std::fs::write(dir.path().join("b.txt"), format!("{p2}\n\n{p3}\n")).unwrap();
        let plan = read::plan(&[PathBuf::from(dir.path())]);
        let mut l = Loader::new(plan, [p1], 16);
        let mut all = Vec::new();
        loop {
            let batch = l.next_batch(64, &counter());
            if batch.is_empty() {
                break;
            }
            l.committed(&batch);
            all.extend(batch);
        }
        let texts: Vec<&str> = all.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, [p2, p3]);
        assert_eq!(all[1].origin.part, 2);
        assert_eq!(all[1].origin.lines, Some((3, 3)));
        assert!(all[1].origin.path.ends_with("b.txt"));
        assert!(l.is_done());
        assert_eq!(l.progress().files_done, 2);
        assert_eq!(l.progress().duplicates, 2);
        assert_eq!(l.progress().passages, 2);
    }
}
