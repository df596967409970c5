//! The redb store: several agents' memory tiers and step traces in one file.
//!
//! Contract: one process writes a store ([`Store::open`]); a second writer gets
//! [`StoreError::InUse`] and the file is left untouched. Any number of readers
//! ([`Store::open_read_only`]) may follow a writer's commits at the same time (redb's
//! single-writer concurrency mode). [`Store::commit`] writes everything a step produced in one
//! durable write transaction, so a crash keeps either all of a step or none of it, the step's
//! journal entries included. Values are JSON; keys are `(agent, id)` so each agent's rows are
//! contiguous and ordered by id. A store that is only unclean (its writer was killed) is
//! recovered by the next reader or writer; a damaged one is reported as [`StoreError::Damaged`],
//! naming the file, by every command.

use std::path::{Path, PathBuf};

use redb::{ConcurrencyMode, Database, DatabaseError};
use serde::{Serialize, de::DeserializeOwned};

use crate::memory::{AgentState, Message, Passage, StepTrace};
use backend::Tbl;

mod backend;
mod fork;
mod handle;
mod history;
mod journal;
mod pg;
mod rebuild;
mod rows;
mod scan;
mod search;
mod texts;
mod transfer;

pub use history::{Cut, Mark};
pub use pg::{display_name, is_postgres_url};
pub use rebuild::Rebuilt;
pub use scan::{Table, Unreadable};
pub use search::{Hits, INLINE as SEARCH_INLINE, Kind as SearchKind, stop_indexing};
pub use transfer::{Rows, table_names};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store {0} is in use by another memscope process that is writing to it; only one \
         process may write a store (read it alongside with `memscope dump`)"
    )]
    InUse(PathBuf),
    #[error("{path} is not a memscope store ({detail}); it was left untouched")]
    NotAStore { path: PathBuf, detail: String },
    #[error(
        "the store {path} is damaged ({detail}) and cannot be read; it was left untouched. Move it \
         aside and start a new store (or pass --store with another file), or restore it from a backup"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error("the store {0} does not exist")]
    Missing(PathBuf),
    #[error("cannot open the store {path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("store error: {0}")]
    Db(String),
    /// Damage found while reading; [`Store`]'s methods turn it into [`StoreError::Damaged`]
    /// with the file's path.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("the store holds a record that cannot be read: {0}")]
    Decode(String),
    #[error("this store was opened read-only")]
    ReadOnly,
    #[error(
        "the store {0} was closed after a write failed and is not open again yet; nothing more \
         is saved until it is"
    )]
    Closed(PathBuf),
    #[error(
        "{0} write(s) to the store failed in this session; what they would have saved is not in \
         the store (see the error events)"
    )]
    WritesFailed(u32),
    /// The file could not be read or written (a full disk, a lost permission): the store
    /// must be reopened before it is used again (see [`Store::reopen`]).
    #[error("the store could not be read or written: {0}")]
    Failed(String),
    /// The search index beside the store failed; searches fall back to reading the rows.
    #[error("the search index could not be used: {0}")]
    Index(String),
    #[error("an agent named {0} already exists in this store")]
    Exists(String),
    #[error("there is no agent named {0} in this store")]
    NoAgent(String),
    #[error(
        "the agent '{agent}' in the store {store} is in use by another memscope process that is \
         writing to it; only one process may write an agent at a time (follow it alongside with \
         `memscope watch`, or read it with `memscope dump`)"
    )]
    AgentInUse { store: String, agent: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    match &e {
        redb::Error::Corrupted(detail) => StoreError::Corrupt(detail.clone()),
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            StoreError::Corrupt(format!("the file ends early: {io}"))
        }
        redb::Error::Io(_) | redb::Error::PreviousIo => StoreError::Failed(e.to_string()),
        _ => StoreError::Db(e.to_string()),
    }
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("memory records always serialize")
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Decode(e.to_string()))
}

/// Everything one step (or one manual action) writes, committed together.
#[derive(Default)]
pub struct Commit<'a> {
    pub state: Option<&'a AgentState>,
    pub messages: &'a [Message],
    pub passages: &'a [Passage],
    pub delete_passages: &'a [u64],
    /// A trace and its key.
    pub trace: Option<(u64, &'a StepTrace)>,
    /// Journal entries and their sequence numbers.
    pub journal: &'a [(u64, crate::protocol::Event)],
    /// Texts the trace names by fingerprint (written only if the store lacks them).
    pub texts: &'a [(u64, &'a str)],
    /// The state before a user's input, keyed by its message id (see [`Mark`]).
    pub mark: Option<(u64, &'a Mark)>,
}

pub struct Store {
    backend: handle::Backend,
    /// Opened for writing (the handle may be between files while it is reopened).
    writer: bool,
    path: PathBuf,
    /// Opening it found it not closed cleanly (its writer was killed) and recovered it.
    recovered: bool,
    /// A read or write failed on the file since it was opened: redb will refuse every call
    /// until it is reopened.
    failed: std::sync::atomic::AtomicBool,
    /// The word-search indexes beside the file (see `search/`).
    search: search::Indexes,
    /// This store as its `Arc` holds it, once something asked for indexing in the background.
    me: std::sync::OnceLock<std::sync::Weak<Store>>,
}

fn map_open_error(path: &Path, e: DatabaseError) -> StoreError {
    let path = path.to_path_buf();
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StoreError::InUse(path)
        }
        DatabaseError::Storage(redb::StorageError::Io(io)) => match io.kind() {
            std::io::ErrorKind::NotFound => StoreError::Missing(path),
            // redb's word for "this file holds no redb database".
            std::io::ErrorKind::InvalidData => StoreError::NotAStore {
                path,
                detail: io.to_string(),
            },
            std::io::ErrorKind::UnexpectedEof => StoreError::Damaged {
                path,
                detail: format!("the file ends early: {io}"),
            },
            _ => StoreError::Io {
                path,
                detail: io.to_string(),
            },
        },
        DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
            StoreError::Damaged { path, detail }
        }
        // Only reached when recovery was not possible (see `Store::open_read_only`).
        DatabaseError::RepairAborted => StoreError::Damaged {
            path,
            detail: "it needs recovery and cannot be recovered from here".into(),
        },
        other => StoreError::Damaged {
            path,
            detail: other.to_string(),
        },
    }
}

fn builder() -> redb::Builder {
    let mut b = Database::builder();
    b.set_concurrency_mode(ConcurrencyMode::SingleWriter);
    b
}

impl Store {
    /// Opens (creating if needed) the store for writing. The file is created readable by its
    /// owner only.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(url) = pg::url_of(path) {
            return Store::open_pg(url, true);
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Io {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        }
        create_private(path)?;
        let db = builder()
            .create(path)
            .map_err(|e| map_open_error(path, e))?;
        let store = Store {
            backend: handle::Backend::Redb(handle::Handle::new(handle::Db::Write(db))),
            writer: true,
            path: path.to_path_buf(),
            recovered: false,
            failed: Default::default(),
            search: search::Indexes::new(path),
            me: Default::default(),
        };
        store.ensure_tables()?;
        Ok(store)
    }

    /// Opens an existing store for reading, alongside a writer if there is one.
    ///
    /// A store whose writer stopped without closing it (killed, power cut) needs recovery, which
    /// a read-only handle cannot do. When no writer holds the file, this recovers it the way the
    /// next writer would (redb's repair: only committed transactions are kept) and goes on;
    /// [`Store::recovered`] then says so. A writer that holds the file has recovered it already.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if let Some(url) = pg::url_of(path) {
            return Store::open_pg(url, false);
        }
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let (db, recovered) = match builder().open_read_only(path) {
            Ok(db) => (db, false),
            Err(DatabaseError::RepairAborted) => {
                match builder().open(path) {
                    Ok(writer) => drop(writer),
                    // A writer opened it meanwhile, and recovered it in doing so.
                    Err(DatabaseError::DatabaseAlreadyOpen) => {}
                    Err(e) => return Err(map_open_error(path, e)),
                }
                let db = builder()
                    .open_read_only(path)
                    .map_err(|e| map_open_error(path, e))?;
                (db, true)
            }
            Err(e) => return Err(map_open_error(path, e)),
        };
        Ok(Store {
            backend: handle::Backend::Redb(handle::Handle::new(handle::Db::Read(db))),
            writer: false,
            path: path.to_path_buf(),
            recovered,
            failed: Default::default(),
            search: search::Indexes::new(path),
            me: Default::default(),
        })
    }

    /// A PostgreSQL store (see `pg/`): for writing (its schema made or brought up to date) or
    /// for reading (it must exist).
    fn open_pg(url: &str, writer: bool) -> Result<Store> {
        let pg = pg::Pg::connect(url, writer)?;
        let path = PathBuf::from(pg::display_name(Path::new(url)));
        Ok(Store {
            search: search::Indexes::new(&path),
            backend: handle::Backend::Pg(Box::new(pg)),
            writer,
            path,
            recovered: false,
            failed: Default::default(),
            me: Default::default(),
        })
    }

    /// Names the file in damage found while reading it.
    fn located<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| match e {
            StoreError::Corrupt(detail) => StoreError::Damaged {
                path: self.path.clone(),
                detail,
            },
            StoreError::Failed(detail) => {
                self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
                StoreError::Failed(detail)
            }
            other => other,
        })
    }

    /// A read or write failed since the store was opened: reopen it before going on.
    pub fn needs_reopen(&self) -> bool {
        self.failed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether opening found the store not closed cleanly and recovered it.
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ensure_tables(&self) -> Result<()> {
        match self.begin_write()? {
            backend::Write::Redb(tx) => {
                backend::create_tables(&tx)?;
                tx.commit()
            }
            _ => Ok(()),
        }
    }

    pub fn agents(&self) -> Result<Vec<AgentState>> {
        self.located((|| {
            let tx = self.begin_read()?;
            tx.agents()?.iter().map(|(_, v)| decode(v)).collect()
        })())
    }

    pub fn load_agent(&self, name: &str) -> Result<Option<AgentState>> {
        self.located((|| {
            let tx = self.begin_read()?;
            tx.agent(name)?.map(|v| decode(&v)).transpose()
        })())
    }

    /// Lets another process write `agent` (after [`Store::claim`]; a no-op on redb, whose
    /// writer holds the whole file).
    pub fn release(&self, agent: &str) {
        if let handle::Backend::Pg(pg) = &self.backend {
            pg.release(agent);
        }
    }

    /// A counter that moves whenever another process commits to this store, for followers that
    /// would rather wait for it than poll (PostgreSQL's notifications); None when the store
    /// cannot say (a redb file: poll it).
    pub fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        match &self.backend {
            handle::Backend::Pg(pg) => pg
                .changes()
                .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for commits"))
                .ok(),
            handle::Backend::Redb(_) => None,
        }
    }

    /// Makes this process the one writer of `agent` until it closes the store (or dies): a
    /// PostgreSQL store holds one writer per agent; a redb file has one writer in all, so it
    /// has nothing more to check. Fails with [`StoreError::AgentInUse`] when another holds it.
    pub fn claim(&self, agent: &str) -> Result<()> {
        match &self.backend {
            handle::Backend::Pg(pg) if self.writer => pg.claim(agent),
            _ => Ok(()),
        }
    }

    /// Writes a step's state, messages, passages and trace in one durable transaction.
    pub fn commit(&self, agent: &str, c: &Commit<'_>) -> Result<()> {
        self.located((|| {
            crate::crash::point("commit:begin");
            let mut tx = self.begin_write_as(&[agent])?;
            if let Some(state) = c.state {
                tx.put_agent(agent, &encode(state))?;
            }
            for m in c.messages {
                tx.put(Tbl::Recall, agent, m.id, &encode(m))?;
            }
            for p in c.passages {
                tx.put(Tbl::Archival, agent, p.id, &encode(p))?;
            }
            if !c.delete_passages.is_empty() {
                let (step, commit) = c.state.map(|s| (s.step, s.commits)).unwrap_or((0, 0));
                for id in c.delete_passages {
                    let Some(bytes) = tx.remove(Tbl::Archival, agent, *id)? else {
                        continue;
                    };
                    // Kept, with the step, so that a fork from before it has it back.
                    let passage: Passage = decode(&bytes)?;
                    let kept = encode(&history::Deleted {
                        step,
                        commit,
                        passage,
                    });
                    tx.put(Tbl::ArchivalDeleted, agent, *id, &kept)?;
                }
            }
            for (id, text) in c.texts {
                tx.put_new(Tbl::Texts, agent, *id, text.as_bytes())?;
            }
            if let Some((key, mark)) = c.mark {
                tx.put(Tbl::Marks, agent, key, &encode(mark))?;
            }
            if let Some((key, trace)) = c.trace {
                tx.put(Tbl::Traces, agent, key, &encode(trace))?;
            }
            for (seq, ev) in c.journal {
                tx.put(Tbl::Journal, agent, *seq, &encode(ev))?;
            }
            tx.changed(agent)?;
            crate::crash::point("commit:written");
            tx.commit()?;
            crate::crash::point("commit:done");
            Ok(())
        })())?;
        // Where this process keeps the agent's index, it follows the commit off the step's
        // path, so that other processes' searches see it too.
        if !c.messages.is_empty() || !c.passages.is_empty() || !c.delete_passages.is_empty() {
            self.index_in_background_of(agent);
        }
        Ok(())
    }

    /// Deletes an agent and all its rows.
    pub fn delete_agent(&self, agent: &str) -> Result<bool> {
        self.located((|| {
            let mut tx = self.begin_write_as(&[agent])?;
            let existed = fork::delete_in(&mut tx, agent)?;
            tx.commit()?;
            self.forget_index(agent);
            Ok(existed)
        })())
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> Result<()> {
    Ok(())
}
