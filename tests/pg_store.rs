//! What only the PostgreSQL store does, against throwaway clusters: followers hear commits,
//! one writer per agent (not per store), a writer lets go of an agent it left, a server that
//! cannot be reached is named without its password, and TLS as the URL's `sslmode` says.

mod common;

use std::path::{Path, PathBuf};

use common::pg::Cluster;
use common::place::{Place, hold};
use common::*;

use memscope::engine::{Agent, EventKind};
use memscope::store::{Store, StoreError};

/// Followers of a PostgreSQL store hear each commit as it lands (LISTEN/NOTIFY), with no
/// polling: a reader's counter moves when a writer in another connection commits.
#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_reader_hears_each_commit() {
    let Some(p) = Place::postgres() else {
        return;
    };
    let writer = Agent::open(p.open(), "default", settings(8192)).unwrap();
    drop(writer);
    let reader = Store::open_read_only(&p.store).unwrap();
    let mut heard = reader.changes().expect("PostgreSQL announces commits");
    let writer = p.open();
    let seen = *heard.borrow_and_update();
    writer
        .journal_append(
            "default",
            &[(
                1,
                memscope::engine::Event {
                    step: 0,
                    time: chrono::Utc::now(),
                    kind: EventKind::ChainEnded { steps: 0 },
                },
            )],
        )
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), heard.changed())
        .await
        .expect("no notification within 30 s")
        .unwrap();
    assert!(*heard.borrow() > seen);
    assert_eq!(reader.journal("default", 0, u64::MAX).unwrap().len(), 1);
}

/// A PostgreSQL store holds one writer per agent, not per store: while one process writes an
/// agent, another writes a second agent of the same database.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_writers_of_different_agents_go_side_by_side() {
    let Some(p) = Place::postgres() else {
        return;
    };
    let server = Server::start(vec![say("hi from other")]).await;
    let mut first = hold(&p, &server.base_url);
    let (code, _, err) = memscope_on(p.home(), &p.store, &["agents", "create", "other"]);
    assert_eq!(code, 0, "{err}");
    let mut cmd = memscope_cmd(p.home());
    cmd.args(["run", "--agent", "other", "--store"])
        .arg(&p.store)
        .args(["--base-url", &server.base_url, "--model", "scripted-model"]);
    let out = output_with_input(cmd, "hello other\n").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hi from other"));
    drop(first.stdin.take());
    assert!(first.wait().unwrap().success());
}

/// A PostgreSQL store that cannot be reached is reported, exit 2, naming it without the
/// password the URL held; nothing writes the password anywhere.
#[test]
fn an_unreachable_postgres_store_is_named_without_its_password() {
    let home = tempfile::tempdir().unwrap();
    let store = PathBuf::from("postgres://ada:s3cret-pw@127.0.0.1:1/memscope?password=s3cret-pw");
    for args in [
        &["dump"][..],
        &["run", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"],
    ] {
        let (code, out, err) = memscope_on(home.path(), &store, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("postgres://ada@127.0.0.1:1/memscope"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!String::from_utf8_lossy(&out).contains("s3cret"));
    }
    let (code, _, err) = memscope_on(home.path(), Path::new("postgres://ada@[::1/x"), &["dump"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a PostgreSQL URL"), "{err}");
    let mut logged = String::new();
    for e in walk(home.path()) {
        logged.push_str(&std::fs::read_to_string(e).unwrap_or_default());
    }
    assert!(
        !logged.contains("s3cret"),
        "the password was written to a file"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A process that moves on to another agent lets go of the one it left (the TUI's agent switch).
#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_writer_lets_go_of_an_agent_it_left() {
    let Some(p) = Place::postgres() else {
        return;
    };
    let first = std::sync::Arc::new(p.open());
    let a = Agent::open(first.clone(), "default", settings(8192)).unwrap();
    let other = Store::open(&p.store).unwrap();
    let taken = other.claim("default");
    assert!(
        matches!(taken, Err(StoreError::AgentInUse { .. })),
        "{taken:?}"
    );
    drop(a);
    first.release("default");
    other.claim("default").unwrap();
    let back = first.claim("default");
    assert!(
        matches!(back, Err(StoreError::AgentInUse { .. })),
        "{back:?}"
    );
}

/// A writer whose connections were cut (a server restart, a network drop) has lost its lock:
/// if another process took the agent meanwhile, the first one's next commit is refused and
/// writes nothing, and reconnecting says the agent is in use.
#[tokio::test(flavor = "multi_thread")]
async fn a_writer_that_lost_its_connection_cannot_write_under_the_new_writer() {
    let Some(p) = Place::postgres() else {
        return;
    };
    let first = std::sync::Arc::new(p.open());
    drop(Agent::open(first.clone(), "default", settings(8192)).unwrap());
    let url = p.store.to_str().unwrap();
    pg::sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'memscope'",
    );
    let second = p.open();
    second.claim("default").unwrap();

    let entry = memscope::engine::Event {
        step: 0,
        time: chrono::Utc::now(),
        kind: EventKind::ChainEnded { steps: 7 },
    };
    let late = first.journal_append("default", &[(99, entry)]);
    assert!(late.is_err(), "a commit without the lock went through");
    assert!(second.journal("default", 98, 100).unwrap().is_empty());
    let again = first.reopen();
    assert!(
        matches!(again, Err(StoreError::AgentInUse { .. })),
        "{again:?}"
    );
}

/// A writer whose connections were cut goes on once it has connected again, when nobody took
/// its agent meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_writer_goes_on_after_its_connection_was_cut() {
    let Some(p) = Place::postgres() else {
        return;
    };
    let store = std::sync::Arc::new(p.open());
    drop(Agent::open(store.clone(), "default", settings(8192)).unwrap());
    pg::sql(
        p.store.to_str().unwrap(),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'memscope'",
    );
    let entry = |steps| memscope::engine::Event {
        step: 0,
        time: chrono::Utc::now(),
        kind: EventKind::ChainEnded { steps },
    };
    // The first commit after the cut may fail (what the engine then does: reopen, go on).
    if store.journal_append("default", &[(1, entry(1))]).is_err() {
        store.reopen().unwrap();
        store.journal_append("default", &[(1, entry(1))]).unwrap();
    }
    store.journal_append("default", &[(2, entry(2))]).unwrap();
    let other = p.open();
    assert_eq!(other.journal("default", 0, 10).unwrap().len(), 2);
    let taken = other.claim("default");
    assert!(
        matches!(taken, Err(StoreError::AgentInUse { .. })),
        "{taken:?}"
    );
}

/// How many of memscope's connections to the cluster are encrypted, and how many there are.
fn encrypted(url: &str) -> (u64, u64) {
    let rows = pg::sql(
        url,
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'memscope'",
    );
    let n = |i: usize| rows[0][i].as_deref().unwrap().parse().unwrap();
    (n(0), n(1))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_store_is_reached_over_tls_as_sslmode_says() {
    let Some(cluster) = Cluster::start_with_tls() else {
        return;
    };
    let base = cluster.url("postgres");
    let home = tempfile::tempdir().unwrap();

    // The default (prefer) and require both encrypt, without checking the certificate.
    for mode in ["", "?sslmode=require"] {
        let store = Store::open(&PathBuf::from(format!("{base}{mode}"))).unwrap();
        assert!(store.agents().unwrap().is_empty());
        let (tls, all) = encrypted(&base);
        assert!(all > 0 && tls == all, "{mode}: {tls} of {all} encrypted");
        drop(store);
    }
    // disable does not.
    let store = Store::open(&PathBuf::from(format!("{base}?sslmode=disable"))).unwrap();
    store.agents().unwrap();
    let (tls, all) = encrypted(&base);
    assert!(all > 0 && tls == 0, "disable: {tls} of {all} encrypted");
    drop(store);

    // verify-full checks the certificate: the system does not know this CA, the URL can name it.
    let strict = PathBuf::from(format!("{base}?sslmode=verify-full"));
    let (code, _, err) = memscope_on(home.path(), &strict, &["agents"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let ca = cluster.dir().join("ca.crt");
    let trusted = PathBuf::from(format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ));
    let (code, _, err) = memscope_on(home.path(), &trusted, &["agents", "create", "secure"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = memscope_on(home.path(), &trusted, &["agents"]);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("secure"));
    // A CA file that is not there is named.
    let missing = PathBuf::from(format!("{base}?sslrootcert=/nonexistent/ca.pem"));
    let (code, _, err) = memscope_on(home.path(), &missing, &["agents"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}
