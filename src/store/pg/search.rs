//! Word search in PostgreSQL: its own text search over memscope's terms.
//!
//! Contract: each recall and archival row is written with its search terms
//! ([`crate::memory::search::terms`]: Unicode words, and character pairs for scripts written
//! without spaces) as a `tsvector` with positions, so PostgreSQL matches exactly the words the
//! redb store's index matches, CJK included. A query matches rows holding any of its terms,
//! ranked by `ts_rank` (term frequency, normalised by length), newest first among equals; the
//! total is counted in the same snapshot. The GIN index finds the matches; ranking reads every
//! one of them (PostgreSQL has no top-k by rank), so a query's cost grows with how many rows it
//! matches, unlike the redb store's index (see the README's figures).

use std::collections::HashMap;

use super::Pg;
use crate::store::{Hits, Result, SearchKind};

/// PostgreSQL's limits: a lexeme's bytes, positions per lexeme, the highest position.
const MAX_LEXEME: usize = 2_046;
const MAX_POSITIONS: usize = 256;
const MAX_POSITION: usize = 16_383;

/// A lexeme quoted for `tsvector` and `tsquery` input.
fn quoted(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('\'');
    for c in term.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The longest `tsvector` input written: PostgreSQL refuses a vector over 1 MB, and a message
/// may be far longer (recall keeps it whole). Its first distinct terms are kept.
const MAX_VECTOR: usize = 900_000;

/// The `tsvector` input of a text: each of its terms with the positions it is at, in the order
/// they first appear, up to [`MAX_VECTOR`] bytes.
pub(super) fn tsvector(text: &str) -> String {
    let mut order: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, term) in crate::memory::search::terms(text).into_iter().enumerate() {
        if term.len() > MAX_LEXEME {
            continue;
        }
        let position = (i + 1).min(MAX_POSITION);
        match index.get(&term) {
            Some(&k) => {
                let positions = &mut order[k].1;
                // Positions past the limit all become the limit; one is enough.
                if positions.len() < MAX_POSITIONS && positions.last() != Some(&position) {
                    positions.push(position);
                }
            }
            None => {
                index.insert(term.clone(), order.len());
                order.push((term, vec![position]));
            }
        }
    }
    let mut out = String::new();
    for (term, positions) in order {
        let mut entry = quoted(&term);
        entry.push(':');
        let list: Vec<String> = positions.iter().map(usize::to_string).collect();
        entry.push_str(&list.join(","));
        if out.len() + entry.len() + 1 > MAX_VECTOR {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&entry);
    }
    out
}

/// The `tsquery` input matching any term of `query`, or None when it has none.
fn tsquery(query: &str) -> Option<String> {
    let mut terms = crate::memory::search::terms(query);
    terms.retain(|t| t.len() <= MAX_LEXEME);
    terms.sort();
    terms.dedup();
    (!terms.is_empty()).then(|| {
        terms
            .iter()
            .map(|t| quoted(t))
            .collect::<Vec<_>>()
            .join(" | ")
    })
}

impl Pg {
    pub(in crate::store) fn search(
        &self,
        agent: &str,
        kind: SearchKind,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Hits> {
        let Some(q) = tsquery(query) else {
            return Ok(Hits::default());
        };
        let table = match kind {
            SearchKind::Recall => "memscope.recall",
            SearchKind::Archival => "memscope.archival",
        };
        let s = self.read()?;
        let c = s.conn();
        // Two passes in one snapshot: counting and ranking in one (a window over every match)
        // spills every match to disk, which costs more than reading them twice.
        let count = c.stmt(&format!(
            "SELECT count(*) FROM {table} WHERE agent = $1 AND terms @@ $2::text::tsquery"
        ))?;
        let page = c.stmt(&format!(
            "SELECT id FROM {table} WHERE agent = $1 AND terms @@ $2::text::tsquery \
             ORDER BY ts_rank(terms, $2::text::tsquery, 1) DESC, id DESC OFFSET $3 LIMIT $4"
        ))?;
        let (offset, limit) = (
            offset.min(i64::MAX as usize) as i64,
            limit.min(i64::MAX as usize) as i64,
        );
        let rows = super::wait(c.client().query(&page, &[&agent, &q, &offset, &limit]))
            .map_err(super::pg_err)?;
        let ids: Vec<u64> = rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
        // A first page that is not full holds every match.
        let total: i64 = if offset == 0 && (ids.len() as i64) < limit {
            ids.len() as i64
        } else {
            super::wait(c.client().query_one(&count, &[&agent, &q]))
                .map_err(super::pg_err)?
                .get(0)
        };
        Ok(Hits {
            total: total as usize,
            ids,
            note: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexemes_are_quoted_whatever_they_hold() {
        assert_eq!(quoted("it's"), "'it''s'");
        assert_eq!(quoted("a\\b"), "'a\\\\b'");
        assert_eq!(
            tsvector("the cat and the hat"),
            "'the':1,4 'cat':2 'and':3 'hat':5"
        );
        assert_eq!(tsquery("Cat cat, HAT"), Some("'cat' | 'hat'".into()));
        assert_eq!(tsquery("  ,, "), None);
    }

    #[test]
    fn scripts_without_spaces_become_pairs() {
        assert_eq!(tsvector("東京都"), "'東京':1 '京都':2");
    }

    #[test]
    fn a_huge_text_keeps_its_first_terms_within_what_postgres_takes() {
        let text: String = (0..200_000).map(|i| format!("word{i} ")).collect();
        let v = tsvector(&text);
        assert!(v.len() <= MAX_VECTOR, "{}", v.len());
        assert!(v.starts_with("'word0':1 'word1':2 "));
        assert!(!v.contains("'word199999'"));
    }
}
