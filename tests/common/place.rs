//! Where a test keeps its store: a redb file in a temp dir, or a PostgreSQL database in a
//! throwaway cluster (see `pg.rs`); and a writer kept running on it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use memscope::store::Store;
use serde_json::Value;

use super::memscope_cmd;
use super::pg::Cluster;

/// Where one test keeps its store.
pub struct Place {
    home: tempfile::TempDir,
    pub store: PathBuf,
    _cluster: Option<Cluster>,
}

impl Place {
    pub fn redb() -> Option<Place> {
        let home = tempfile::tempdir().unwrap();
        let store = home.path().join("s.redb");
        Some(Place {
            home,
            store,
            _cluster: None,
        })
    }

    pub fn postgres() -> Option<Place> {
        let cluster = Cluster::start()?;
        Some(Place {
            home: tempfile::tempdir().unwrap(),
            store: cluster.store("postgres"),
            _cluster: Some(cluster),
        })
    }

    pub fn open(&self) -> Store {
        Store::open(&self.store).unwrap()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

/// `memscope run` on the place's store, kept running; returns once it has opened the agent.
pub fn hold(p: &Place, base_url: &str) -> std::process::Child {
    let mut child = memscope_cmd(p.home())
        .args(["run", "--store"])
        .arg(&p.store)
        .args(["--base-url", base_url, "--model", "scripted-model"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its first event comes once the agent is open (and its writer lock held).
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "the first writer stopped");
    child
}

/// `memscope run` to its end: its events, and whether it was killed.
pub fn run_session(
    p: &Place,
    base_url: &str,
    input: &str,
    env: &[(&str, String)],
) -> (Vec<Value>, bool) {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let mut cmd = memscope_cmd(p.home());
    cmd.args(["run", "--store"]).arg(&p.store).args([
        "--base-url",
        base_url,
        "--model",
        "scripted-model",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (events, out.status.signal() == Some(9))
}
