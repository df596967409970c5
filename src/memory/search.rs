//! Ranking for recall and archival search, shared by the agent's functions, the CLI and the UI.
//!
//! Contract: [`terms`] is the one tokenizer of every search (this in-memory index, the store's
//! persistent index): Unicode words, lower-cased, and scripts without spaces as character
//! pairs. [`Bm25Index`] is an incremental Okapi BM25 index (k1 = 1.2, b = 0.75) over them; ties are broken newest first (higher id). [`cosine`] ranks
//! embeddings. [`paginate`] cuts a ranked list into pages of [`PAGE_SIZE`] and reports the true
//! total and page count.

use std::collections::HashMap;

pub const PAGE_SIZE: usize = 5;
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Scripts written without spaces between words: indexed as overlapping character pairs.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF // Thai, Lao
        | 0x1000..=0x109F // Myanmar
        | 0x1780..=0x17FF // Khmer
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x31F0..=0x31FF // Katakana extensions
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF66..=0xFF9F // half-width Katakana
        | 0x20000..=0x2FA1F) // CJK extensions B and later
}

/// Characters that join the parts of one Unicode word ("it's", "3.14", "a_b") but separate
/// search terms.
fn joiner(c: char) -> bool {
    c.is_ascii_punctuation() || "’‘·‧׳״﹒﹕＇．：，；".contains(c)
}

/// The search terms of `text`, lower-cased, in order.
///
/// Text is cut into words at Unicode word boundaries (UAX #29), and words at the punctuation
/// that joins their parts. A run of characters from a script written without spaces (Chinese,
/// Japanese, Thai…) becomes its overlapping pairs of characters ("東京都" → "東京", "京都"),
/// a lone such character itself, so a word of two or more characters is found inside any
/// sentence that holds it.
pub fn terms(text: &str) -> Vec<String> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_lowercase().collect()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    for segment in text.split_word_bounds() {
        let mut chars = segment.chars();
        if chars.next().is_some_and(unspaced) {
            // Marks and other joined characters ride along with their base character.
            run.extend(segment.chars().filter(|c| !c.is_whitespace()));
            continue;
        }
        flush(&mut run, &mut out);
        if !segment.chars().any(char::is_alphanumeric) {
            continue;
        }
        out.extend(
            segment
                .split(joiner)
                .filter(|t| t.chars().any(char::is_alphanumeric))
                .map(str::to_lowercase),
        );
    }
    flush(&mut run, &mut out);
    out
}

#[derive(Debug, Default, Clone)]
pub struct Bm25Index {
    postings: HashMap<String, HashMap<u64, u32>>,
    doc_len: HashMap<u64, u32>,
    total_len: u64,
}

impl Bm25Index {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    pub fn insert(&mut self, id: u64, text: &str) {
        self.remove(id);
        let ts = terms(text);
        let mut tf: HashMap<String, u32> = HashMap::new();
        for t in ts.iter() {
            *tf.entry(t.clone()).or_default() += 1;
        }
        for (t, n) in tf {
            self.postings.entry(t).or_default().insert(id, n);
        }
        self.doc_len.insert(id, ts.len() as u32);
        self.total_len += ts.len() as u64;
    }

    pub fn remove(&mut self, id: u64) {
        let Some(len) = self.doc_len.remove(&id) else {
            return;
        };
        self.total_len -= len as u64;
        self.postings.retain(|_, docs| {
            docs.remove(&id);
            !docs.is_empty()
        });
    }

    /// Documents matching at least one query term, best first.
    pub fn search(&self, query: &str) -> Vec<(u64, f32)> {
        let n = self.doc_len.len() as f32;
        if n == 0.0 {
            return Vec::new();
        }
        let avg = (self.total_len as f32 / n).max(1.0);
        let mut q = terms(query);
        q.sort();
        q.dedup();
        let mut scores: HashMap<u64, f32> = HashMap::new();
        for t in &q {
            let Some(docs) = self.postings.get(t) else {
                continue;
            };
            let df = docs.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (&id, &tf) in docs {
                let len = self.doc_len[&id] as f32;
                let tf = tf as f32;
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
                *scores.entry(id).or_default() += s;
            }
        }
        let mut ranked: Vec<(u64, f32)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
        ranked
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// One page of a ranked list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    /// Zero-based page number asked for.
    pub page: usize,
    pub pages: usize,
}

impl<T> Page<T> {
    /// Page `page` (from 0) of `total` results, holding `items`.
    pub fn of(items: Vec<T>, total: usize, page: usize) -> Self {
        Page {
            items,
            total,
            page,
            pages: total.div_ceil(PAGE_SIZE),
        }
    }

    /// A one-line description with the true total, e.g. "results 6-10 of 12 (page 2 of 3)".
    pub fn describe(&self) -> String {
        if self.total == 0 {
            return "no results".to_string();
        }
        if self.items.is_empty() {
            return format!(
                "page {} is past the end: there are {} results on {} page(s) (pages are numbered from 0)",
                self.page, self.total, self.pages
            );
        }
        let first = self.page * PAGE_SIZE + 1;
        let next = if self.page + 1 < self.pages {
            format!("; pass page={} for more", self.page + 1)
        } else {
            String::new()
        };
        format!(
            "results {}-{} of {} (page {} of {}{next})",
            first,
            first + self.items.len() - 1,
            self.total,
            self.page + 1,
            self.pages,
        )
    }
}

pub fn paginate<T>(ranked: Vec<T>, page: usize) -> Page<T> {
    let total = ranked.len();
    let pages = total.div_ceil(PAGE_SIZE);
    let items = ranked
        .into_iter()
        .skip(page.saturating_mul(PAGE_SIZE))
        .take(PAGE_SIZE)
        .collect();
    Page {
        items,
        total,
        page,
        pages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bm25_prefers_rarer_and_denser_matches() {
        let mut idx = Bm25Index::new();
        idx.insert(1, "the cat sat on the mat");
        idx.insert(2, "my sister Priya has a cat named Miso");
        idx.insert(3, "the weather is nice");
        idx.insert(4, "Priya called today");
        let r = idx.search("Priya's cat");
        assert_eq!(r[0].0, 2, "{r:?}"); // both terms
        assert!(r.iter().all(|(id, _)| *id != 3));
        idx.remove(2);
        assert_eq!(idx.search("Priya")[0].0, 4);
        assert!(idx.search("sister").is_empty());
    }

    #[test]
    fn terms_cut_unicode_words_and_unspaced_scripts() {
        assert_eq!(
            terms("Priya's cat, 3.14!"),
            ["priya", "s", "cat", "3", "14"]
        );
        // A Devanagari word keeps its combining marks (they are not alphanumeric).
        assert_eq!(terms("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        assert_eq!(
            terms("東京都に住む"),
            ["東京", "京都", "都に", "に住", "住む"]
        );
        assert_eq!(terms("猫。犬"), ["猫", "犬"]);
        assert_eq!(
            terms("I live in 東京 now"),
            ["i", "live", "in", "東京", "now"]
        );
        assert_eq!(terms("ภาษาไทย")[0], "ภา");
        assert!(terms("  ...  ").is_empty());
    }

    #[test]
    fn a_chinese_word_is_found_inside_a_sentence() {
        let mut idx = Bm25Index::new();
        idx.insert(1, "我的妹妹住在北京，她有一只猫。");
        idx.insert(2, "今天天气很好");
        idx.insert(3, "東京に住んでいます");
        assert_eq!(idx.search("北京")[0].0, 1);
        assert_eq!(idx.search("天气").len(), 1);
        assert_eq!(idx.search("住んで")[0].0, 3);
        assert!(idx.search("上海").is_empty());
    }

    #[test]
    fn pages_report_true_totals() {
        let p = paginate((0..12).collect::<Vec<_>>(), 1);
        assert_eq!(p.items, vec![5, 6, 7, 8, 9]);
        assert_eq!((p.total, p.pages), (12, 3));
        assert!(p.describe().contains("6-10 of 12 (page 2 of 3"));
        let past = paginate((0..3).collect::<Vec<_>>(), 4);
        assert!(past.describe().contains("past the end"));
    }

    #[test]
    fn cosine_of_parallel_vectors_is_one() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
    }
}
