//! `memscope migrate`: agents with real steps (traces, journal, marks, shared texts) copied
//! between stores byte for byte, there and back; names checked before anything is written.

mod common;

use std::path::Path;

use common::*;
use memscope::store::{SearchKind, Store, table_names};
use serde_json::json;

/// Every row of `agent` in every per-agent table, and its state, as stored.
fn rows_of(path: &Path, agent: &str) -> Vec<(String, u64, Vec<u8>)> {
    let store = Store::open_read_only(path).unwrap();
    let mut out = vec![(
        "agents".to_string(),
        0,
        store
            .agent_bytes(agent)
            .unwrap()
            .expect("the agent is there"),
    )];
    for table in table_names() {
        store
            .agent_rows(agent, table, |id, bytes| {
                out.push((table.to_string(), id, bytes.to_vec()));
                Ok::<(), memscope::store::StoreError>(())
            })
            .unwrap();
    }
    out
}

fn has(path: &Path, agent: &str) -> bool {
    Store::open_read_only(path)
        .unwrap()
        .load_agent(agent)
        .unwrap()
        .is_some()
}

fn migrate(home: &Path, from: &Path, to: &Path, names: &[&str]) -> (i32, String, String) {
    let mut cmd = memscope_cmd(home);
    cmd.arg("migrate")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(to);
    for n in names {
        cmd.args(["--name", n]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The default agent of the redb file `a`, after two inputs: a function call with a thought,
/// replies, so traces, journal entries, marks and shared texts.
async fn an_agent_with_steps(a: &Path) {
    let server = Server::start(vec![
        think_call(
            "Remember the giraffe.",
            "archival_memory_insert",
            json!({"content": "The giraffe at the zoo is called Tall Sam.", "request_heartbeat": true}),
        ),
        say("Noted the giraffe."),
        say("Hello again."),
    ])
    .await;
    let mut h = start(open_agent(a, 8192), &server).await;
    chat(&mut h, "my favourite animal is the giraffe").await;
    chat(&mut h, "hello").await;
    shutdown(h).await;
}

#[tokio::test]
async fn agents_go_to_another_store_and_back_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        home.path().join("a.redb"),
        home.path().join("b.redb"),
        home.path().join("c.redb"),
    );
    an_agent_with_steps(&a).await;
    Store::open(&a)
        .unwrap()
        .fork("default", "twin", None)
        .unwrap();
    let before = rows_of(&a, "default");
    assert!(
        ["traces", "journal", "recall", "archival"]
            .iter()
            .all(|t| before.iter().any(|r| r.0 == *t)),
        "the agent has steps to carry: {:?}",
        before
            .iter()
            .map(|r| &r.0)
            .collect::<std::collections::BTreeSet<_>>()
    );

    let (code, out, err) = migrate(home.path(), &a, &b, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("copied agent default") && out.contains("copied agent twin"),
        "{out}"
    );
    assert_eq!(rows_of(&b, "default"), before);
    assert_eq!(rows_of(&b, "twin"), rows_of(&a, "twin"));
    // And back, into a third store: still the same bytes.
    let (code, _, err) = migrate(home.path(), &b, &c, &["default"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows_of(&c, "default"), before);
    assert!(!has(&c, "twin"), "only the agent named was copied");

    // The copy works as the original does: its search index is built in the new store.
    let original = Store::open_read_only(&a).unwrap();
    let store = Store::open(&c).unwrap();
    for (kind, query) in [
        (SearchKind::Recall, "giraffe"),
        (SearchKind::Archival, "Tall Sam"),
    ] {
        let want = original.search("default", kind, query, 0, 5).unwrap();
        let got = store.search("default", kind, query, 0, 5).unwrap();
        assert!(want.total > 0, "{query}");
        assert_eq!(got, want, "{query}");
    }
    drop((store, original));

    // A name taken in the target, or absent from the source: refused, nothing written.
    let (code, _, err) = migrate(home.path(), &a, &c, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already has an agent named 'default'"),
        "{err}"
    );
    assert!(!has(&c, "twin"), "twin was not copied either");
    let (code, _, err) = migrate(home.path(), &a, &c, &["nobody"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no agent named 'nobody'"), "{err}");
    let (code, _, err) = migrate(home.path(), &a, &a, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the same store"), "{err}");
}

#[tokio::test]
async fn agents_go_to_postgres_and_back_byte_for_byte() {
    let Some(cluster) = pg::Cluster::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (a, c) = (home.path().join("a.redb"), home.path().join("c.redb"));
    let pg = cluster.store("team");
    an_agent_with_steps(&a).await;
    let before = rows_of(&a, "default");
    assert!(before.iter().any(|r| r.0 == "traces") && before.iter().any(|r| r.0 == "texts"));

    let (code, out, err) = migrate(home.path(), &a, &pg, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("copied agent default"), "{out}");
    // PostgreSQL orders fingerprints past 2^63 differently; the rows are the same.
    let sorted = |mut v: Vec<(String, u64, Vec<u8>)>| {
        v.sort();
        v
    };
    assert_eq!(sorted(rows_of(&pg, "default")), sorted(before.clone()));
    // Searched there with PostgreSQL's own text search.
    let store = Store::open_read_only(&pg).unwrap();
    let hits = store
        .search("default", SearchKind::Archival, "Tall Sam", 0, 5)
        .unwrap();
    assert_eq!(hits.total, 1);
    drop(store);

    let (code, _, err) = migrate(home.path(), &pg, &c, &["default"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows_of(&c, "default"), before);
    // Taken names are refused there as here.
    let (code, _, err) = migrate(home.path(), &a, &pg, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already has an agent named 'default'"),
        "{err}"
    );
}
