//! Word search over recall and archival memory that stays fast however much they hold.
//!
//! Contract: [`Store::search`] ranks an agent's searchable messages (recall) or passages
//! (archival) by BM25 over [`crate::memory::search::terms`] and returns one page of ids with
//! the true total; the caller reads only those rows. The ranking lives in a persistent index
//! per agent and kind (tantivy, in the folder `<store>.search/` beside the file) that is
//! derived from the store and brought up to date from it: a search first indexes what was
//! committed since (up to [`INLINE`] rows; past that it answers from what is indexed, says so,
//! and [`Store::index_in_background`] does the rest; once that was asked for, each commit
//! brings the index up to date off the committing thread, so other processes see it too).
//! Rewinds, forks into a name, deletions and repairs move the agent's *search epoch* (a table
//! of the store, written in the same transaction), which starts its index over. A search never
//! fails because of its index: when none can be opened (a read-only folder) or it is damaged,
//! the same ranking is computed in memory from the rows, and a writer makes the index again.
//! Background threads are joined by [`stop_indexing`] before the process ends.

mod index;
mod private;
mod tokenizer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::backend::{Span, Tbl};
use super::{Result, Store};
use crate::memory::{Message, Passage};
use index::{Batch, Index};

/// Rows read from the store at a time while indexing.
const BATCH: usize = 2_000;
/// Rows a search indexes before it answers; more are left to the background.
pub const INLINE: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Recall,
    Archival,
}

impl Kind {
    pub(super) fn table(self) -> Tbl {
        match self {
            Kind::Recall => Tbl::Recall,
            Kind::Archival => Tbl::Archival,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Recall => "recall",
            Kind::Archival => "archival",
        }
    }
}

/// One page of a ranked search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    /// How many match in all.
    pub total: usize,
    /// The page's ids, best first.
    pub ids: Vec<u64>,
    /// Said when the ranking is not over everything yet (the index is still being built).
    pub note: Option<String>,
}

/// The open indexes of one store.
pub(super) struct Indexes {
    root: PathBuf,
    slots: Mutex<HashMap<(String, Kind), SharedSlot>>,
}

type SharedSlot = Arc<Mutex<Slot>>;

#[derive(Default)]
struct Slot {
    index: Option<Index>,
    /// Why the index could not be opened (the in-memory ranking is used instead).
    failed: Option<String>,
    background: bool,
}

impl Indexes {
    pub(super) fn new(store_path: &std::path::Path) -> Indexes {
        let mut root = store_path.as_os_str().to_owned();
        root.push(".search");
        Indexes {
            root: root.into(),
            slots: Mutex::default(),
        }
    }

    fn slot(&self, agent: &str, kind: Kind) -> SharedSlot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry((agent.to_string(), kind)).or_default().clone()
    }
}

fn lock(slot: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    fn search_epoch(&self, agent: &str) -> Result<u64> {
        self.begin_read()?.epoch(agent)
    }

    /// The highest row id of `agent` in the table of `kind` (0 when empty).
    fn last_id(&self, agent: &str, kind: Kind) -> Result<u64> {
        Ok(self
            .begin_read()?
            .last_id(kind.table(), agent)?
            .unwrap_or(0))
    }

    /// Up to `n` rows after `after`: the texts to index (damaged rows and messages that are
    /// not searchable are passed over) up to the last id read, and how many rows were read.
    fn texts_after(&self, agent: &str, kind: Kind, after: u64, n: usize) -> Result<(Batch, usize)> {
        let tx = self.begin_read()?;
        let (mut docs, mut last, mut read) = (Vec::new(), after, 0);
        if after < u64::MAX {
            for row in tx.rows(kind.table(), agent, Span::from(after + 1))?.take(n) {
                let (k, v) = row?;
                last = k;
                read += 1;
                if let Some(text) = searchable_text(kind, &v) {
                    docs.push((last, text));
                }
            }
        }
        Ok((
            Batch {
                docs,
                through: last,
            },
            read,
        ))
    }

    /// Ids of the passages deleted from `agent`'s archival memory.
    fn deleted_ids(&self, agent: &str) -> Result<Vec<u64>> {
        let tx = self.begin_read()?;
        tx.rows(Tbl::ArchivalDeleted, agent, Span::ALL)?
            .map(|row| row.map(|(k, _)| k))
            .collect()
    }

    /// Brings `idx` up to the store, reading at most `budget` rows (all when none). True when
    /// it has read everything the store holds.
    fn sync(
        &self,
        agent: &str,
        kind: Kind,
        idx: &mut Index,
        budget: Option<usize>,
    ) -> Result<bool> {
        let fail = super::StoreError::Index;
        if !idx.try_write() {
            idx.refresh();
            return Ok(idx.mark.through >= self.last_id(agent, kind)?);
        }
        let epoch = self.search_epoch(agent)?;
        let mut changed = false;
        if idx.mark.epoch != epoch {
            idx.restart(epoch).map_err(fail)?;
        }
        if kind == Kind::Archival {
            let deleted = self.deleted_ids(agent)?;
            if deleted.len() as u64 != idx.mark.deleted {
                idx.remove(&deleted, deleted.len() as u64).map_err(fail)?;
                changed = true;
            }
        }
        let mut read = 0;
        let done = loop {
            if budget.is_some_and(|b| read >= b) {
                break false;
            }
            let (batch, n) = self.texts_after(agent, kind, idx.mark.through, BATCH)?;
            if n == 0 {
                break true;
            }
            idx.add(batch).map_err(fail)?;
            changed = true;
            read += n;
        };
        if changed {
            idx.commit().map_err(fail)?;
        }
        if !self.is_writer() {
            // Only a writer keeps the lock: readers let the next process in.
            idx.release();
        }
        Ok(done)
    }

    /// The index of `agent`'s `kind`, opened on first use, or why it cannot be.
    fn with_index<T>(
        &self,
        agent: &str,
        kind: Kind,
        f: impl FnOnce(&Store, &mut Index) -> Result<T>,
    ) -> Result<std::result::Result<T, String>> {
        let slot = self.search.slot(agent, kind);
        let mut s = lock(&slot);
        if s.index.is_none() && s.failed.is_none() {
            // The folder of all indexes is its owner's alone, as the store file is.
            let _ = private::Private::open(&self.search.root);
            let folder = index::folder(&self.search.root, agent, kind.name());
            let opened = Index::open(&folder).or_else(|e| {
                // A damaged index is made again from the store by its writer.
                if !self.is_writer() {
                    return Err(e);
                }
                tracing::warn!(agent, error = %e, "the search index is damaged; making it again");
                let _ = std::fs::remove_dir_all(&folder);
                Index::open(&folder)
            });
            match opened {
                Ok(i) => s.index = Some(i),
                Err(e) => {
                    tracing::warn!(agent, kind = kind.name(), error = %e, "no search index");
                    s.failed = Some(e);
                }
            }
        }
        let s = &mut *s;
        match (&mut s.index, &s.failed) {
            (Some(idx), _) => f(self, idx).map(Ok),
            (None, e) => Ok(Err(e.clone().unwrap_or_default())),
        }
    }

    /// One page of `agent`'s `kind` ranked for `query`: `limit` ids after the first `offset`.
    pub fn search(
        &self,
        agent: &str,
        kind: Kind,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Hits> {
        if let super::handle::Backend::Pg(pg) = &self.backend {
            return self.located(pg.search(agent, kind, query, offset, limit));
        }
        let answer = self.located(self.with_index(agent, kind, |store, idx| {
            let done = store.sync(agent, kind, idx, Some(INLINE))?;
            let (total, ids) = idx
                .search(query, offset, limit)
                .map_err(super::StoreError::Index)?;
            let note = (!done).then(|| {
                format!(
                    "the search index is still being built: {} up to #{} searched",
                    kind.name(),
                    idx.mark.through
                )
            });
            Ok(Hits { total, ids, note })
        }));
        match answer {
            Ok(Ok(hits)) => {
                if hits.note.is_some() {
                    self.index_in_background_of(agent);
                }
                Ok(hits)
            }
            Ok(Err(_)) => self.search_in_memory(agent, kind, query, offset, limit),
            Err(super::StoreError::Index(e)) => {
                tracing::warn!(agent, kind = kind.name(), error = %e, "search index failed");
                // Opened afresh by the next search; by a writer, made again from the store.
                lock(&self.search.slot(agent, kind)).index = None;
                if self.is_writer() {
                    let _ = std::fs::remove_dir_all(index::folder(
                        &self.search.root,
                        agent,
                        kind.name(),
                    ));
                }
                self.search_in_memory(agent, kind, query, offset, limit)
            }
            Err(e) => Err(e),
        }
    }

    /// The same ranking computed from every row (no index could be opened).
    fn search_in_memory(
        &self,
        agent: &str,
        kind: Kind,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Hits> {
        let mut idx = crate::memory::search::Bm25Index::new();
        let (batch, _) = self.texts_after(agent, kind, 0, usize::MAX)?;
        for (id, text) in &batch.docs {
            idx.insert(*id, text);
        }
        let ranked = idx.search(query);
        Ok(Hits {
            total: ranked.len(),
            ids: ranked
                .iter()
                .skip(offset)
                .take(limit)
                .map(|r| r.0)
                .collect(),
            note: None,
        })
    }

    /// The indexes of an agent that is gone (deleted, or renamed away), closed and removed from
    /// the disk (best effort: its search epoch already makes them unused).
    pub(super) fn forget_index(&self, agent: &str) {
        if self.is_postgres() {
            return;
        }
        for kind in [Kind::Recall, Kind::Archival] {
            let slot = {
                let mut slots = self.search.slots.lock().unwrap_or_else(|e| e.into_inner());
                slots.remove(&(agent.to_string(), kind))
            };
            if let Some(slot) = slot {
                lock(&slot).index = None;
            }
            let _ = std::fs::remove_dir_all(index::folder(&self.search.root, agent, kind.name()));
        }
    }

    /// Indexes everything `agent` holds now, before returning (a one-shot command).
    pub fn index_now(&self, agent: &str) -> Result<()> {
        if self.is_postgres() {
            // PostgreSQL's index is kept in each commit.
            return Ok(());
        }
        for kind in [Kind::Recall, Kind::Archival] {
            let _ = self.located(
                self.with_index(agent, kind, |store, idx| store.sync(agent, kind, idx, None)),
            )?;
        }
        Ok(())
    }

    /// Brings `agent`'s indexes up to date on a thread of their own, a batch at a time, so
    /// that opening an agent never waits for them. It lets go of the store between batches
    /// and stops when the store is closed.
    pub fn index_in_background(self: &Arc<Store>, agent: &str) {
        let _ = self.me.set(Arc::downgrade(self));
        self.index_in_background_of(agent);
    }

    pub(super) fn index_in_background_of(&self, agent: &str) {
        if self.is_postgres() {
            return;
        }
        let Some(weak) = self.me.get().cloned() else {
            return;
        };
        for kind in [Kind::Recall, Kind::Archival] {
            let slot = self.search.slot(agent, kind);
            {
                let mut s = lock(&slot);
                if s.background {
                    continue;
                }
                s.background = true;
            }
            let (weak, agent) = (weak.clone(), agent.to_string());
            let slot_again = slot.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("index {}", kind.name()))
                .spawn(move || background(weak, &agent, kind, &slot));
            match spawned {
                Ok(t) => {
                    let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
                    threads.retain(|t| !t.is_finished());
                    threads.push(t);
                }
                Err(e) => {
                    lock(&slot_again).background = false;
                    tracing::warn!(error = %e, "cannot start indexing in the background");
                }
            }
        }
    }
}

/// The text a stored record is searched by: a searchable message's, a passage's (None for
/// a record that cannot be read or a message that is not searchable).
pub(super) fn searchable_text(kind: Kind, bytes: &[u8]) -> Option<String> {
    match kind {
        Kind::Recall => serde_json::from_slice::<Message>(bytes)
            .ok()
            .filter(|m| m.searchable)
            .map(|m| m.text),
        Kind::Archival => serde_json::from_slice::<Passage>(bytes)
            .ok()
            .map(|p| p.text),
    }
}

/// Asked to stop: the process is ending.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// The background threads of this process, so that it can wait for them before it ends.
static THREADS: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Stops indexing in the background and waits for it, each thread after the batch it is on
/// (what it indexed is committed): a process calls this before it ends, so that no thread
/// still holds a store when it does (the store is then closed cleanly).
pub fn stop_indexing() {
    STOPPING.store(true, Ordering::SeqCst);
    let threads = std::mem::take(&mut *THREADS.lock().unwrap_or_else(|e| e.into_inner()));
    for t in threads {
        let _ = t.join();
    }
}

fn background(store: Weak<Store>, agent: &str, kind: Kind, slot: &Mutex<Slot>) {
    crate::nice::lower_this_thread();
    loop {
        if STOPPING.load(Ordering::SeqCst) {
            break;
        }
        let Some(store) = store.upgrade() else { break };
        let step = store.with_index(agent, kind, |s, idx| {
            s.sync(agent, kind, idx, Some(BATCH * 10))
        });
        drop(store);
        match step {
            Ok(Ok(false)) => continue,
            Ok(Ok(true)) | Ok(Err(_)) => break,
            Err(e) => {
                tracing::warn!(agent, kind = kind.name(), error = %e, "indexing stopped");
                break;
            }
        }
    }
    lock(slot).background = false;
}
