//! One agent's recall or archival memory as a tantivy index in a folder beside the store.
//!
//! Contract: the index is derived data, never the truth. It records in its commit payload how
//! far it has read the store ([`Mark`]: the agent's search epoch, the last row id read, the
//! deleted passages seen); [`Index::sync`] reads what the store has past that mark and indexes
//! it, starting over when the epoch moved (the agent was rewound, forked into this name,
//! deleted or repaired). Only the process that holds tantivy's writer lock syncs; any other
//! searches what was last committed. Ranking is BM25 (k1 1.2, b 0.75) over
//! [`crate::memory::search::terms`], ties broken newest first, as the in-memory index ranks.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::tokenizer;

/// Results fetched past the page when ranking by score alone, to see where equal scores end.
const SLACK: usize = 32;

/// Memory for the writer's buffer: tantivy's least for one thread.
const WRITER_BYTES: usize = 15_000_000;

/// How far the index has read the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub epoch: u64,
    /// Every row with an id up to this one has been read (0: none).
    pub through: u64,
    /// How many deleted passages had been taken out when it was written.
    #[serde(default)]
    pub deleted: u64,
}

/// Rows to index and ids to take out, as the store hands them over.
pub struct Batch {
    pub docs: Vec<(u64, String)>,
    pub through: u64,
}

pub struct Index {
    index: tantivy::Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    id: Field,
    text: Field,
    pub mark: Mark,
}

pub type Result<T> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn schema() -> (Schema, Field, Field) {
    let mut b = Schema::builder();
    let id = b.add_u64_field("id", INDEXED | FAST);
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer::NAME)
                .set_index_option(IndexRecordOption::WithFreqs),
        ),
    );
    (b.build(), id, text)
}

impl Index {
    /// Opens the index in `dir`, creating it when absent (and the folder can be written).
    pub fn open(dir: &Path) -> Result<Index> {
        let (schema, id, text) = schema();
        let index = match super::private::Private::open(dir) {
            Ok(d) => tantivy::Index::open_or_create(d, schema).map_err(err)?,
            Err(_) => tantivy::Index::open_in_dir(dir).map_err(err)?,
        };
        index
            .tokenizers()
            .register(tokenizer::NAME, tokenizer::Terms);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        let mut me = Index {
            index,
            reader,
            writer: None,
            id,
            text,
            mark: Mark::default(),
        };
        me.mark = me.committed_mark();
        Ok(me)
    }

    /// Takes the writer lock when it is free; false when another process holds it.
    pub fn try_write(&mut self) -> bool {
        if self.writer.is_none() {
            match self.index.writer_with_num_threads(1, WRITER_BYTES) {
                Ok(w) => {
                    self.writer = Some(w);
                    // Another process may have gone further meanwhile.
                    let _ = self.reader.reload();
                    self.mark = self.committed_mark();
                }
                Err(e) => tracing::debug!(error = %e, "search index held elsewhere"),
            }
        }
        self.writer.is_some()
    }

    /// Lets go of the writer lock (what was not committed is dropped).
    pub fn release(&mut self) {
        self.writer = None;
    }

    fn committed_mark(&self) -> Mark {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default()
    }

    /// Lets another process's commits be seen (a reader's index).
    pub fn refresh(&mut self) {
        if self.writer.is_none() {
            let _ = self.reader.reload();
            self.mark = self.committed_mark();
        }
    }

    /// Everything dropped: the store's epoch for the agent moved to `epoch`.
    pub fn restart(&mut self, epoch: u64) -> Result<()> {
        let w = self.writer.as_mut().ok_or("the index is not writable")?;
        w.delete_all_documents().map_err(err)?;
        self.mark = Mark {
            epoch,
            through: 0,
            deleted: 0,
        };
        self.commit()
    }

    pub fn add(&mut self, batch: Batch) -> Result<()> {
        let w = self.writer.as_mut().ok_or("the index is not writable")?;
        for (id, text) in batch.docs {
            let mut doc = TantivyDocument::default();
            doc.add_u64(self.id, id);
            doc.add_text(self.text, &text);
            w.add_document(doc).map_err(err)?;
        }
        self.mark.through = self.mark.through.max(batch.through);
        Ok(())
    }

    pub fn remove(&mut self, ids: &[u64], deleted: u64) -> Result<()> {
        let w = self.writer.as_mut().ok_or("the index is not writable")?;
        for id in ids {
            w.delete_term(Term::from_field_u64(self.id, *id));
        }
        self.mark.deleted = deleted;
        Ok(())
    }

    /// Makes what was added and removed durable and searchable, with the mark it reached.
    pub fn commit(&mut self) -> Result<()> {
        let w = self.writer.as_mut().ok_or("the index is not writable")?;
        let mut prepared = w.prepare_commit().map_err(err)?;
        prepared.set_payload(&serde_json::to_string(&self.mark).map_err(err)?);
        prepared.commit().map_err(err)?;
        self.reader.reload().map_err(err)
    }

    /// Ids of the documents matching any term of `query`, best first, `offset` skipped and at
    /// most `limit` kept, with how many match in all.
    pub fn search(&self, query: &str, offset: usize, limit: usize) -> Result<(usize, Vec<u64>)> {
        let mut terms = crate::memory::search::terms(query);
        terms.sort();
        terms.dedup();
        if terms.is_empty() {
            return Ok((0, Vec::new()));
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q = TermQuery::new(
                    Term::from_field_text(self.text, t),
                    IndexRecordOption::WithFreqs,
                );
                (Occur::Should, Box::new(q) as Box<dyn Query>)
            })
            .collect();
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        if limit == 0 {
            return Ok((searcher.search(&query, &Count).map_err(err)?, Vec::new()));
        }
        let total = searcher.search(&query, &Count).map_err(err)?;
        let want = offset.saturating_add(limit);
        if want >= total {
            // Everything matching is on or before this page.
            return Ok((total, self.exact(&searcher, &query, offset, limit)?));
        }
        // The best `want` and some more, found by score alone: tantivy can then skip the
        // blocks of documents that cannot make the cut. Equal scores are put newest first
        // here; that is exact as long as no document scoring the same as the last one kept
        // was left out, which the first score below the cut proves.
        let fetched = searcher
            .search(&query, &TopDocs::with_limit(want + SLACK).order_by_score())
            .map_err(err)?;
        let cut = fetched.get(want - 1).map(|h| h.0);
        let past = fetched.last().map(|h| h.0);
        let everything = fetched.len() < want + SLACK;
        if !everything && past == cut {
            return Ok((total, self.exact(&searcher, &query, offset, limit)?));
        }
        let mut ranked: Vec<(f32, u64)> = Vec::with_capacity(fetched.len());
        for (score, addr) in fetched {
            let ids = searcher
                .segment_reader(addr.segment_ord)
                .fast_fields()
                .u64("id")
                .map_err(err)?
                .first_or_default_col(0);
            ranked.push((score, ids.get_val(addr.doc_id)));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        Ok((
            total,
            ranked
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|(_, id)| id)
                .collect(),
        ))
    }

    /// The page ranked by score and then id over every matching document.
    fn exact(
        &self,
        searcher: &tantivy::Searcher,
        query: &BooleanQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<u64>> {
        let top = TopDocs::with_limit(limit).and_offset(offset).tweak_score(
            |segment: &tantivy::SegmentReader| {
                let ids = segment
                    .fast_fields()
                    .u64("id")
                    .map(|c| c.first_or_default_col(0))
                    .ok();
                move |doc: tantivy::DocId, score: tantivy::Score| {
                    (score, ids.as_ref().map_or(0, |c| c.get_val(doc)))
                }
            },
        );
        let hits = searcher.search(query, &top).map_err(err)?;
        Ok(hits.into_iter().map(|((_, id), _)| id).collect())
    }
}

/// The folder of one agent's index of one kind, under `root`.
pub fn folder(root: &Path, agent: &str, kind: &str) -> PathBuf {
    let hex: String = agent.bytes().map(|b| format!("{b:02x}")).collect();
    root.join(format!("{hex}.{kind}"))
}
