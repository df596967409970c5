//! The store in PostgreSQL: agents shared by a team, or by one person's machines.
//!
//! Contract: `--store postgres://…` (or `postgresql://…`) opens the tables of the schema
//! `memscope` in that database, made and brought up to date by versioned migrations
//! (`schema.rs`). The guarantees are redb's: one step is one transaction; any number of readers
//! see whole commits; one writer per agent, held as a session advisory lock that PostgreSQL
//! releases when its holder's connection ends (a killed process included), so a second writer
//! gets [`StoreError::AgentInUse`]. Every commit notifies `memscope_changes` with the agent's
//! name, so followers (`memscope watch`) wake on it instead of polling. Word search is
//! PostgreSQL's own text search (`search.rs`). The URL's password never leaves this module:
//! [`display_name`] is what messages show.
//!
//! The store's callers are synchronous (some run on the engine's tokio threads), so this
//! module has a runtime of its own on one thread that drives the connections; queries are
//! awaited with a plain executor on the calling thread, never inside a runtime.

mod schema;
mod search;
mod session;
mod tls;

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{AsyncMessage, Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Result, StoreError};
pub(crate) use session::Session;

/// How many times a held writer lock is tried, 100 ms apart, before it is reported in use.
const CLAIM_TRIES: u32 = 10;

/// The channel commits notify.
const CHANNEL: &str = "memscope_changes";

/// Whether `store` names a PostgreSQL database rather than a redb file.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

pub(super) fn url_of(path: &Path) -> Option<&str> {
    path.to_str().filter(|s| is_postgres_url(s))
}

/// The store as messages name it: a file's path, or a URL without its password.
pub fn display_name(store: &Path) -> String {
    let Some(url) = url_of(store) else {
        return store.display().to_string();
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let rest = match rest.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => rest.to_string(),
    };
    let query: Vec<&str> = query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.to_ascii_lowercase().starts_with("password="))
                .collect()
        })
        .unwrap_or_default();
    if query.is_empty() {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}?{}", query.join("&"))
    }
}

/// A connection and the statements prepared on it.
pub(crate) struct Conn {
    client: Client,
    prepared: Mutex<std::collections::HashMap<String, Statement>>,
}

/// The session connection, its server process id (what `pg_locks` names a holder by), and the
/// writer locks taken on it.
struct Held {
    conn: Arc<Conn>,
    pid: i32,
    agents: HashSet<String>,
}

/// Connections not in use, for the next transaction.
type Pool = Mutex<Vec<Arc<Conn>>>;

pub(crate) struct Pg {
    /// Never shown: it may hold a password.
    config: tokio_postgres::Config,
    /// TLS as the URL's `sslmode` says (see `tls.rs`).
    connector: MakeRustlsConnect,
    shown: String,
    writer: bool,
    rt: Option<tokio::runtime::Runtime>,
    pool: Arc<Pool>,
    /// The connection that holds this process's writer locks and listens for commits.
    session: Mutex<Option<Held>>,
    /// The agents this process writes: their locks are taken again on a new connection.
    wanted: Mutex<HashSet<String>>,
    changes: tokio::sync::watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a database error means for the store: a lost connection is a failed store (reopened
/// before it is used again); anything else is reported as it is.
pub(super) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    let detail = describe(&e);
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        StoreError::Failed(format!("the PostgreSQL connection failed: {detail}"))
    } else {
        StoreError::Db(detail)
    }
}

/// What went wrong, in the server's words when it said something.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

/// A stable 64-bit key for an advisory lock (FNV-1a).
fn lock_key(what: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in what.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// The advisory lock of `agent`'s writer.
fn agent_key(agent: &str) -> i64 {
    lock_key(&format!("memscope agent {agent}"))
}

/// Waits for `f` on this thread (queries go over a connection that the runtime drives).
pub(super) fn wait<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

impl Conn {
    /// The statement for `sql`, prepared once per connection.
    pub(super) fn stmt(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = lock(&self.prepared).get(sql) {
            return Ok(s.clone());
        }
        let s = wait(self.client.prepare(sql)).map_err(pg_err)?;
        lock(&self.prepared).insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }
}

impl Pg {
    /// Connects; a writer makes the schema or brings it up to date, a reader needs it there.
    pub(super) fn connect(url: &str, writer: bool) -> Result<Pg> {
        let shown = display_name(Path::new(url));
        let bad = |detail: String| StoreError::Io {
            path: shown.clone().into(),
            detail,
        };
        let (url, tls) = tls::split(url).map_err(bad)?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| bad(format!("not a PostgreSQL URL: {e}")))?;
        config.ssl_mode(tls.driver_mode());
        let connector = tls.connector().map_err(bad)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("memscope");
        // A password is best kept out of the URL (and so out of shell history and configs).
        if config.get_password().is_none()
            && let Ok(p) = std::env::var("PGPASSWORD")
            && !p.is_empty()
        {
            config.password(p);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io {
                path: shown.clone().into(),
                detail: e.to_string(),
            })?;
        let pg = Pg {
            config,
            connector,
            shown,
            writer,
            rt: Some(rt),
            pool: Arc::default(),
            session: Mutex::new(None),
            wanted: Mutex::default(),
            changes: tokio::sync::watch::channel(0).0,
        };
        let conn = pg.connect_one(false)?;
        schema::prepare(&conn, writer, &pg.shown)?;
        lock(&pg.pool).push(conn);
        Ok(pg)
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the store")
    }

    /// A new connection, driven by this store's runtime; `listen` makes it forward the
    /// notifications it receives to [`Pg::changes`].
    fn connect_one(&self, listen: bool) -> Result<Arc<Conn>> {
        let (config, connector) = (self.config.clone(), self.connector.clone());
        let changes = listen.then(|| self.changes.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt().spawn(async move {
            match config.connect(connector).await {
                Ok((client, mut connection)) => {
                    let _ = tx.send(Ok(client));
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(_))) => {
                                if let Some(c) = &changes {
                                    c.send_modify(|n| *n += 1);
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "PostgreSQL connection ended");
                                break;
                            }
                            None => break,
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
        let client = match rx.recv() {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(StoreError::Io {
                    path: self.shown.clone().into(),
                    detail: format!("cannot connect to PostgreSQL: {}", describe(&e)),
                });
            }
            Err(_) => return Err(StoreError::Failed("the PostgreSQL runtime stopped".into())),
        };
        Ok(Arc::new(Conn {
            client,
            prepared: Mutex::default(),
        }))
    }

    /// A connection for one transaction: an idle one, or a new one.
    fn take(&self) -> Result<Arc<Conn>> {
        loop {
            let idle = lock(&self.pool).pop();
            match idle {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => return Ok(c),
                None => return self.connect_one(false),
            }
        }
    }

    /// A read: one snapshot (repeatable read) until it is dropped.
    pub(super) fn read(&self) -> Result<Session> {
        Session::begin(self.take()?, self.pool.clone(), false)
    }

    pub(super) fn write(&self) -> Result<Session> {
        if !self.writer {
            return Err(StoreError::ReadOnly);
        }
        Session::begin(self.take()?, self.pool.clone(), true)
    }

    /// Fresh planner statistics for the searched tables.
    pub(super) fn analyze(&self) -> Result<()> {
        let s = self.write()?;
        s.analyze()?;
        s.commit()
    }

    /// The connection that holds this process's locks and hears commits, opened on first use
    /// (again after it was lost, holding nothing then), and its server process id.
    fn session(&self) -> Result<(Arc<Conn>, i32)> {
        let mut slot = lock(&self.session);
        if let Some(h) = slot.as_ref().filter(|h| !h.conn.client.is_closed()) {
            return Ok((h.conn.clone(), h.pid));
        }
        let c = self.connect_one(true)?;
        wait(c.client.batch_execute(&format!("LISTEN {CHANNEL}"))).map_err(pg_err)?;
        let pid: i32 = wait(c.client.query_one("SELECT pg_backend_pid()", &[]))
            .map_err(pg_err)?
            .get(0);
        *slot = Some(Held {
            conn: c.clone(),
            pid,
            agents: HashSet::new(),
        });
        Ok((c, pid))
    }

    fn in_use(&self, agent: &str) -> StoreError {
        StoreError::AgentInUse {
            store: self.shown.clone(),
            agent: agent.to_string(),
        }
    }

    /// Inside `tx`, that this process still holds `agent`'s writer lock: a commit made after
    /// the lock went with a lost connection (and another process may have taken it) is refused
    /// before it writes anything, and the lost connection is let go of.
    pub(super) fn fence(&self, tx: &Session, agent: &str) -> Result<()> {
        let pid = lock(&self.session).as_ref().map(|h| h.pid);
        let held = match pid {
            None => false,
            Some(pid) => tx.holds_lock(pid, agent_key(agent))?,
        };
        if !held {
            *lock(&self.session) = None;
            return Err(self.in_use(agent));
        }
        Ok(())
    }

    /// Makes this process `agent`'s one writer (see [`super::Store::claim`]).
    pub(super) fn claim(&self, agent: &str) -> Result<()> {
        let held = lock(&self.session)
            .as_ref()
            .is_some_and(|h| !h.conn.client.is_closed() && h.agents.contains(agent));
        if held {
            return Ok(());
        }
        let (c, pid) = self.session()?;
        let key = agent_key(agent);
        // A holder killed a moment ago keeps its lock until the server sees its connection
        // close: it is given a second to.
        let mut tries = 0;
        loop {
            let row = wait(
                c.client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&key]),
            )
            .map_err(pg_err)?;
            if row.get::<_, bool>(0) {
                if let Some(h) = lock(&self.session).as_mut().filter(|h| h.pid == pid) {
                    h.agents.insert(agent.to_string());
                }
                lock(&self.wanted).insert(agent.to_string());
                return Ok(());
            }
            tries += 1;
            if tries >= CLAIM_TRIES {
                return Err(self.in_use(agent));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Gives up this process's writer lock on `agent` (best effort: it goes with the
    /// connection anyway).
    pub(super) fn release(&self, agent: &str) {
        lock(&self.wanted).remove(agent);
        let conn = {
            let mut slot = lock(&self.session);
            let Some(h) = slot.as_mut() else { return };
            if !h.agents.remove(agent) {
                return;
            }
            h.conn.clone()
        };
        let key = agent_key(agent);
        if let Err(e) = wait(
            conn.client
                .query_one("SELECT pg_advisory_unlock($1)", &[&key]),
        ) {
            tracing::warn!(error = %describe(&e), "cannot release a writer lock");
        }
    }

    /// A counter that moves whenever a commit to this database is heard (any agent's).
    pub(super) fn changes(&self) -> Result<tokio::sync::watch::Receiver<u64>> {
        self.session()?;
        Ok(self.changes.subscribe())
    }

    /// Connects again after the connection failed: new connections for transactions, and the
    /// writer locks taken again (refused if another process took one meanwhile).
    pub(super) fn reopen(&self) -> Result<()> {
        lock(&self.pool).clear();
        // Asked of the server: the client may not have noticed yet that it ended the session.
        let session = lock(&self.session).as_ref().map(|h| h.conn.clone());
        if let Some(c) = session
            && wait(c.client.query_one("SELECT 1", &[])).is_err()
        {
            *lock(&self.session) = None;
        }
        let wanted: Vec<String> = lock(&self.wanted).iter().cloned().collect();
        for a in wanted {
            self.claim(&a)?;
        }
        let conn = self.take()?;
        lock(&self.pool).push(conn);
        Ok(())
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        lock(&self.pool).clear();
        *lock(&self.session) = None;
        // Dropping a runtime blocks, which is not allowed on a runtime's own threads.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
