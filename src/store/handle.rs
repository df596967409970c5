//! The open database behind a [`Store`], and its replacement after a failed write.
//!
//! Contract: every transaction holds the handle it began on until it ends, so the file is
//! closed only when no transaction is open. redb answers every call after one real I/O error
//! with "previous I/O error" without touching the disk again; the only way back is to close
//! the file and open it again (which recovers it to its last commit). [`Store::reopen`] does
//! that for a writer, and refuses while another thread is still inside a transaction (the
//! caller tries again later). Between closing and opening, calls get [`StoreError::Closed`].
//! A PostgreSQL store reconnects instead (see `pg/`).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, RwLock};

use redb::{Database, ReadOnlyDatabase, ReadableDatabase};

use super::backend::{Read, Write};
use super::{Result, Store, StoreError, builder, db_err, map_open_error};

pub(super) enum Db {
    Write(Database),
    Read(ReadOnlyDatabase),
}

/// The database a store is kept in.
pub(super) enum Backend {
    Redb(Handle),
    Pg(Box<super::pg::Pg>),
}

/// The current database, or none while it is being replaced.
pub(super) struct Handle(RwLock<Option<Arc<Db>>>);

impl Handle {
    pub(super) fn new(db: Db) -> Handle {
        Handle(RwLock::new(Some(Arc::new(db))))
    }

    fn current(&self) -> Option<Arc<Db>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A transaction and the database it runs on (dropped after it: fields drop in order).
pub(crate) struct Tx<T> {
    tx: T,
    _db: Arc<Db>,
}

impl<T> Deref for Tx<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.tx
    }
}

impl<T> DerefMut for Tx<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.tx
    }
}

impl Tx<redb::WriteTransaction> {
    pub(crate) fn commit(self) -> Result<()> {
        let Tx { tx, _db } = self;
        tx.commit().map_err(db_err)
    }
}

impl Store {
    fn db(&self, h: &Handle) -> Result<Arc<Db>> {
        h.current()
            .ok_or_else(|| StoreError::Closed(self.path.clone()))
    }

    pub fn is_writer(&self) -> bool {
        // A writer whose file is being reopened is still a writer.
        self.writer
    }

    /// Whether the store is a PostgreSQL database (rather than a redb file).
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Pg(_))
    }

    pub(super) fn begin_read(&self) -> Result<Read> {
        match &self.backend {
            Backend::Redb(h) => {
                let db = self.db(h)?;
                let tx = match &*db {
                    Db::Write(d) => d.begin_read(),
                    Db::Read(d) => d.begin_read(),
                }
                .map_err(db_err)?;
                Ok(Read::Redb(Tx { tx, _db: db }))
            }
            Backend::Pg(pg) => Ok(Read::Pg(pg.read()?)),
        }
    }

    pub(super) fn begin_write(&self) -> Result<Write> {
        if !self.writer {
            return Err(StoreError::ReadOnly);
        }
        match &self.backend {
            Backend::Redb(h) => {
                let db = self.db(h)?;
                let tx = match &*db {
                    Db::Write(d) => d.begin_write().map_err(db_err)?,
                    Db::Read(_) => return Err(StoreError::ReadOnly),
                };
                Ok(Write::Redb(Tx { tx, _db: db }))
            }
            Backend::Pg(pg) => Ok(Write::Pg(pg.write()?)),
        }
    }

    /// A write transaction on `agents`, which this process must be the writer of: each is
    /// claimed first (see [`Store::claim`]) and, on PostgreSQL, checked inside the transaction
    /// to be still held, so that a writer whose connection was cut cannot write under another.
    pub(super) fn begin_write_as(&self, agents: &[&str]) -> Result<Write> {
        for a in agents {
            self.claim(a)?;
        }
        let tx = self.begin_write()?;
        if let (Backend::Pg(pg), Write::Pg(session)) = (&self.backend, &tx) {
            for a in agents {
                pg.fence(session, a)?;
            }
        }
        Ok(tx)
    }

    /// Closes the file and opens it again, recovering it to its last commit: what a writer does
    /// after a write failed (a full disk, a lost permission), so that it can go on once the
    /// cause is gone. Refused, with nothing changed, while another thread is in a transaction.
    pub fn reopen(&self) -> Result<()> {
        if !self.writer {
            return Err(StoreError::ReadOnly);
        }
        let h = match &self.backend {
            Backend::Redb(h) => h,
            Backend::Pg(pg) => {
                pg.reopen()?;
                self.failed
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                return Ok(());
            }
        };
        let mut slot = h.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = slot.take() {
            match Arc::try_unwrap(db) {
                // The file lock goes with it.
                Ok(db) => drop(db),
                Err(db) => {
                    *slot = Some(db);
                    return Err(StoreError::Db(
                        "the store is in use by a read; try again".into(),
                    ));
                }
            }
        }
        let db = builder()
            .create(&self.path)
            .map_err(|e| map_open_error(&self.path, e))?;
        *slot = Some(Arc::new(Db::Write(db)));
        self.failed
            .store(false, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(path = %self.path.display(), "store reopened");
        Ok(())
    }
}
