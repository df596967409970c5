//! One transaction on a PostgreSQL store: the table operations of `backend/` in SQL.
//!
//! Contract: a session begins a transaction on a connection of its own (a read is a
//! repeatable-read, read-only snapshot) and ends it when committed or dropped (rolled back);
//! the connection then goes back to the pool, unless it was lost. Rows are read a batch at a
//! time by id, so a scan of a million rows holds one batch. Ids are stored as `bigint`
//! (fingerprints past 2^63 wrap to negative numbers and back). Recall and archival rows are
//! written with their search terms (`search.rs`), in the same statement.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Conn, Pool, lock, pg_err, wait};
use crate::store::Result;
use crate::store::backend::{RowIter, Span, Tbl};

/// Rows written per statement, and the most fetched per statement.
const BATCH: usize = 1_000;
/// Rows a read fetches first; each later fetch doubles it, up to [`BATCH`] (most reads want a
/// row or a page, some want everything).
const FIRST_FETCH: i64 = 16;

pub(crate) struct Session {
    conn: Option<Arc<Conn>>,
    pool: Arc<Pool>,
    open: bool,
}

fn table(t: Tbl) -> String {
    format!("memscope.{}", t.name())
}

/// Whether the table keeps search terms beside each row.
fn searched(t: Tbl) -> Option<crate::store::SearchKind> {
    match t {
        Tbl::Recall => Some(crate::store::SearchKind::Recall),
        Tbl::Archival => Some(crate::store::SearchKind::Archival),
        _ => None,
    }
}

fn id_in(id: u64) -> i64 {
    id as i64
}

fn id_out(id: i64) -> u64 {
    id as u64
}

/// The span's ids as inclusive `bigint` bounds, or None when it holds none.
fn bounds(span: Span) -> Option<(i64, i64)> {
    if span.hi.is_some_and(|hi| hi <= span.lo) {
        return None;
    }
    // A whole table includes fingerprints that wrapped to negative numbers.
    let lo = if span.lo == 0 {
        i64::MIN
    } else {
        span.lo.min(i64::MAX as u64) as i64
    };
    let hi = match span.hi {
        Some(hi) => (hi - 1).min(i64::MAX as u64) as i64,
        None => i64::MAX,
    };
    Some((lo, hi))
}

impl Session {
    pub(super) fn begin(conn: Arc<Conn>, pool: Arc<Pool>, write: bool) -> Result<Session> {
        let sql = if write {
            "BEGIN"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        };
        wait(conn.client().batch_execute(sql)).map_err(pg_err)?;
        Ok(Session {
            conn: Some(conn),
            pool,
            open: true,
        })
    }

    pub(super) fn conn(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a session has its connection until it is dropped")
    }

    fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let c = self.conn();
        let stmt = c.stmt(sql)?;
        wait(c.client().query(&stmt, params)).map_err(pg_err)
    }

    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64> {
        let c = self.conn();
        let stmt = c.stmt(sql)?;
        wait(c.client().execute(&stmt, params)).map_err(pg_err)
    }

    pub fn agent(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let rows = self.query(
            "SELECT value FROM memscope.agents WHERE name = $1",
            &[&name],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    pub fn agents(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = self.query(
            "SELECT name, value FROM memscope.agents ORDER BY name COLLATE \"C\"",
            &[],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub fn get(&self, t: Tbl, agent: &str, id: u64) -> Result<Option<Vec<u8>>> {
        let sql = format!(
            "SELECT value FROM {} WHERE agent = $1 AND id = $2",
            table(t)
        );
        let rows = self.query(&sql, &[&agent, &id_in(id)])?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    pub fn rows<'a>(&'a self, t: Tbl, agent: &'a str, span: Span) -> Result<RowIter<'a>> {
        let Some((lo, hi)) = bounds(span) else {
            return Ok(Box::new(std::iter::empty()));
        };
        let order = if span.newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT id, value FROM {} WHERE agent = $1 AND id >= $2 AND id <= $3 \
             ORDER BY id {order} LIMIT $4",
            table(t)
        );
        Ok(Box::new(Batches {
            session: self,
            sql,
            agent,
            lo,
            hi,
            newest_first: span.newest_first,
            fetch: FIRST_FETCH,
            buf: VecDeque::new(),
            done: false,
        }))
    }

    /// The records under these ids, in the order given (None where there is none), in one
    /// statement.
    pub fn get_many(&self, t: Tbl, agent: &str, ids: &[u64]) -> Result<Vec<Option<Vec<u8>>>> {
        let sql = format!(
            "SELECT id, value FROM {} WHERE agent = $1 AND id = ANY($2)",
            table(t)
        );
        let wanted: Vec<i64> = ids.iter().map(|i| id_in(*i)).collect();
        let found: std::collections::HashMap<u64, Vec<u8>> = self
            .query(&sql, &[&agent, &wanted])?
            .into_iter()
            .map(|r| (id_out(r.get(0)), r.get(1)))
            .collect();
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// The newest id of the agent in `t` (a table of sequential ids: not `texts`).
    pub fn last_id(&self, t: Tbl, agent: &str) -> Result<Option<u64>> {
        let sql = format!(
            "SELECT max(id) FROM {} WHERE agent = $1 AND id >= 0",
            table(t)
        );
        let rows = self.query(&sql, &[&agent])?;
        Ok(rows[0].get::<_, Option<i64>>(0).map(id_out))
    }

    /// Fresh planner statistics for the searched tables, after many rows came at once.
    pub fn analyze(&self) -> Result<()> {
        wait(
            self.conn()
                .client()
                .batch_execute("ANALYZE memscope.recall, memscope.archival"),
        )
        .map_err(pg_err)
    }

    pub fn count(&self, t: Tbl, agent: &str) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {} WHERE agent = $1", table(t));
        let rows = self.query(&sql, &[&agent])?;
        Ok(rows[0].get::<_, i64>(0) as u64)
    }

    pub fn put_agent(&mut self, name: &str, state: &[u8]) -> Result<()> {
        self.execute(
            "INSERT INTO memscope.agents (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[&name, &state],
        )?;
        Ok(())
    }

    pub fn remove_agent(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        let rows = self.query(
            "DELETE FROM memscope.agents WHERE name = $1 RETURNING value",
            &[&name],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    pub fn put_all(
        &mut self,
        t: Tbl,
        agent: &str,
        rows: &mut dyn Iterator<Item = Result<(u64, Vec<u8>)>>,
    ) -> Result<u64> {
        let kind = searched(t);
        let sql = match kind {
            Some(_) => format!(
                "INSERT INTO {} (agent, id, value, terms) \
                 SELECT $1, i, v, w::tsvector FROM unnest($2::bigint[], $3::bytea[], $4::text[]) \
                 AS u(i, v, w) ON CONFLICT (agent, id) DO UPDATE \
                 SET value = EXCLUDED.value, terms = EXCLUDED.terms",
                table(t)
            ),
            None => format!(
                "INSERT INTO {} (agent, id, value) \
                 SELECT $1, i, v FROM unnest($2::bigint[], $3::bytea[]) AS u(i, v) \
                 ON CONFLICT (agent, id) DO UPDATE SET value = EXCLUDED.value",
                table(t)
            ),
        };
        let mut written = 0;
        loop {
            let mut ids: Vec<i64> = Vec::new();
            let mut values: Vec<Vec<u8>> = Vec::new();
            let mut terms: Vec<Option<String>> = Vec::new();
            while ids.len() < BATCH {
                let Some(row) = rows.next() else { break };
                let (id, value) = row?;
                if let Some(kind) = kind {
                    terms.push(
                        crate::store::search::searchable_text(kind, &value)
                            .map(|text| super::search::tsvector(&text)),
                    );
                }
                ids.push(id_in(id));
                values.push(value);
            }
            if ids.is_empty() {
                return Ok(written);
            }
            written += ids.len() as u64;
            match kind {
                Some(_) => self.execute(&sql, &[&agent, &ids, &values, &terms])?,
                None => self.execute(&sql, &[&agent, &ids, &values])?,
            };
        }
    }

    pub fn copy_rows(&mut self, t: Tbl, src: &str, dst: &str, span: Span) -> Result<u64> {
        let Some((lo, hi)) = bounds(span) else {
            return Ok(0);
        };
        let (cols, set) = match searched(t) {
            Some(_) => (
                "value, terms",
                "value = EXCLUDED.value, terms = EXCLUDED.terms",
            ),
            None => ("value", "value = EXCLUDED.value"),
        };
        let sql = format!(
            "INSERT INTO {0} (agent, id, {cols}) SELECT $1, id, {cols} FROM {0} \
             WHERE agent = $2 AND id >= $3 AND id <= $4 \
             ON CONFLICT (agent, id) DO UPDATE SET {set}",
            table(t)
        );
        self.execute(&sql, &[&dst, &src, &lo, &hi])
    }

    pub fn remove(&mut self, t: Tbl, agent: &str, id: u64) -> Result<Option<Vec<u8>>> {
        let sql = format!(
            "DELETE FROM {} WHERE agent = $1 AND id = $2 RETURNING value",
            table(t)
        );
        let rows = self.query(&sql, &[&agent, &id_in(id)])?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    pub fn clear(&mut self, t: Tbl, agent: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE agent = $1", table(t));
        self.execute(&sql, &[&agent])?;
        Ok(())
    }

    pub fn quarantine(&mut self, table: &str, agent: &str, key: u64, value: &[u8]) -> Result<()> {
        self.execute(
            "INSERT INTO memscope.quarantine (tbl, agent, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tbl, agent, key) DO UPDATE SET value = EXCLUDED.value",
            &[&table, &agent, &id_in(key), &value],
        )?;
        Ok(())
    }

    /// Whether the server process `pid` holds the session advisory lock `key`.
    pub fn holds_lock(&self, pid: i32, key: i64) -> Result<bool> {
        let (high, low) = ((key >> 32) as u32 as i64, key as u32 as i64);
        let rows = self.query(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND pid = $1 AND classid = $2::bigint::oid AND objid = $3::bigint::oid \
             AND objsubid = 1)",
            &[&pid, &high, &low],
        )?;
        Ok(rows[0].get(0))
    }

    /// Followers hear of the change when the transaction commits.
    pub fn notify(&mut self, agent: &str) -> Result<()> {
        self.query("SELECT pg_notify($1, $2)", &[&super::CHANNEL, &agent])?;
        Ok(())
    }

    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        wait(self.conn().client().batch_execute("COMMIT")).map_err(pg_err)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.open && wait(conn.client().batch_execute("ROLLBACK")).is_err() {
            return;
        }
        if !conn.client().is_closed() {
            lock(&self.pool).push(conn);
        }
    }
}

/// A span of rows read a batch at a time, each batch after the last id of the one before.
struct Batches<'a> {
    session: &'a Session,
    sql: String,
    agent: &'a str,
    lo: i64,
    hi: i64,
    newest_first: bool,
    /// Rows the next fetch asks for.
    fetch: i64,
    buf: VecDeque<(u64, Vec<u8>)>,
    done: bool,
}

impl Batches<'_> {
    fn fill(&mut self) -> Result<()> {
        let rows = self
            .session
            .query(&self.sql, &[&self.agent, &self.lo, &self.hi, &self.fetch])?;
        if (rows.len() as i64) < self.fetch {
            self.done = true;
        }
        self.fetch = (self.fetch * 2).min(BATCH as i64);
        for r in &rows {
            let id: i64 = r.get(0);
            self.buf.push_back((id_out(id), r.get(1)));
        }
        match rows.last().map(|r| r.get::<_, i64>(0)) {
            Some(last) if self.newest_first => match last.checked_sub(1) {
                Some(hi) => self.hi = hi,
                None => self.done = true,
            },
            Some(last) => match last.checked_add(1) {
                Some(lo) => self.lo = lo,
                None => self.done = true,
            },
            None => self.done = true,
        }
        Ok(())
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<(u64, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            self.done = true;
            return Some(Err(e));
        }
        self.buf.pop_front().map(Ok)
    }
}
