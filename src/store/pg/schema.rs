//! The PostgreSQL store's schema, versioned: each migration runs once, in order, in one
//! transaction, under a lock that keeps two processes from running it at once.
//!
//! Contract: `memscope.schema_version` holds the version the database is at. A writer brings
//! it to [`MIGRATIONS`]'s length; a reader needs it there already (it never writes). A database
//! at a newer version than this memscope knows is refused, untouched. Tables mirror the redb
//! store's: `agents (name, value)`, and per agent `(agent, id, value)` for recall, archival,
//! traces, journal, texts, archival_deleted and marks; recall and archival keep their search
//! terms as a `tsvector` with a GIN index.

use super::{Conn, lock_key, pg_err, wait};
use crate::store::{Result, StoreError};

/// Each version's statements; the index + 1 is the version it makes.
const MIGRATIONS: &[&str] = &[
    // 1: the tables of the redb store.
    "CREATE TABLE memscope.agents (name text PRIMARY KEY, value bytea NOT NULL);
     CREATE TABLE memscope.recall (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, terms tsvector, PRIMARY KEY (agent, id));
     CREATE INDEX recall_terms ON memscope.recall USING gin (terms);
     CREATE TABLE memscope.archival (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, terms tsvector, PRIMARY KEY (agent, id));
     CREATE INDEX archival_terms ON memscope.archival USING gin (terms);
     CREATE TABLE memscope.traces (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, PRIMARY KEY (agent, id));
     CREATE TABLE memscope.journal (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, PRIMARY KEY (agent, id));
     CREATE TABLE memscope.texts (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, PRIMARY KEY (agent, id));
     CREATE TABLE memscope.archival_deleted (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, PRIMARY KEY (agent, id));
     CREATE TABLE memscope.marks (agent text NOT NULL, id bigint NOT NULL,
         value bytea NOT NULL, PRIMARY KEY (agent, id));
     CREATE TABLE memscope.quarantine (tbl text NOT NULL, agent text NOT NULL,
         key bigint NOT NULL, value bytea NOT NULL, PRIMARY KEY (tbl, agent, key));",
];

/// The schema version this memscope reads and writes.
pub(super) const VERSION: i32 = MIGRATIONS.len() as i32;

fn version(conn: &Conn) -> Result<Option<i32>> {
    let exists = wait(conn.client().query_one(
        "SELECT to_regclass('memscope.schema_version') IS NOT NULL",
        &[],
    ))
    .map_err(pg_err)?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = wait(
        conn.client()
            .query_opt("SELECT version FROM memscope.schema_version", &[]),
    )
    .map_err(pg_err)?;
    Ok(Some(row.map_or(0, |r| r.get(0))))
}

/// Makes the schema ready for a writer, or checks that it is for a reader.
pub(super) fn prepare(conn: &Conn, writer: bool, shown: &str) -> Result<()> {
    let newer = |v: i32| StoreError::NotAStore {
        path: shown.into(),
        detail: format!(
            "its memscope schema is version {v}, newer than this memscope's {VERSION}; \
             use a newer memscope"
        ),
    };
    match version(conn)? {
        Some(v) if v == VERSION => return Ok(()),
        Some(v) if v > VERSION => return Err(newer(v)),
        None if !writer => return Err(StoreError::Missing(shown.into())),
        Some(v) if !writer => {
            return Err(StoreError::Io {
                path: shown.into(),
                detail: format!(
                    "its memscope schema is version {v} and needs migrating to {VERSION}, \
                     which only a writer does (open it once without a read-only command)"
                ),
            });
        }
        _ => {}
    }
    let c = conn.client();
    wait(c.batch_execute("BEGIN")).map_err(pg_err)?;
    let done = (|| {
        wait(c.query_one(
            "SELECT pg_advisory_xact_lock($1)",
            &[&lock_key("memscope schema")],
        ))?;
        wait(c.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS memscope;
             CREATE TABLE IF NOT EXISTS memscope.schema_version (version integer NOT NULL);",
        ))?;
        // Read again under the lock: another process may have migrated meanwhile.
        let at = wait(c.query_opt("SELECT version FROM memscope.schema_version", &[]))?
            .map_or(0, |r| r.get::<_, i32>(0));
        if at == 0 {
            wait(c.execute("INSERT INTO memscope.schema_version VALUES (0)", &[]))?;
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(at.max(0) as usize) {
            tracing::info!(version = i + 1, "migrating the PostgreSQL store");
            wait(c.batch_execute(sql))?;
        }
        let to = VERSION.max(at);
        wait(c.execute("UPDATE memscope.schema_version SET version = $1", &[&to]))?;
        wait(c.batch_execute("COMMIT"))?;
        Ok::<i32, tokio_postgres::Error>(at)
    })();
    match done {
        Ok(at) if at > VERSION => Err(newer(at)),
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = wait(c.batch_execute("ROLLBACK"));
            Err(pg_err(e))
        }
    }
}
