//! Memory at scale: agents with N archival passages and N recall messages, for N of 10,000,
//! 100,000 and (when asked) 1,000,000, on the redb store and on PostgreSQL.
//!
//! `cargo bench --bench scale` runs 10k and 100k; `cargo bench --bench scale -- 1000000` (any
//! sizes) runs those. redb stores are kept in `target/scale/` and built once. With `--postgres`
//! the same sizes are built in a throwaway PostgreSQL cluster (one database each, made afresh
//! every run; see `tests/common/pg.rs`) and measured the same way; its size on disk is the
//! database's, and the RSS is memscope's (the server's memory is its own). For each size it says
//! how long building took (rows, then the search index), then starts itself again as a fresh
//! process on the store (`probe`) that measures: the release binary `memscope run` from spawn
//! to its first event (a stub endpoint on 127.0.0.1), the TUI's start to its first frame (open
//! store and agent, draw), `conversation_search` and `archival_memory_search` as the agent runs
//! them (200 queries each: median and p99), then the TUI's first reads (conversation, lists, a
//! search), and the process's peak RSS; and the store's size on disk (file and index).
//! Targets at 1,000,000: searches under 20 ms, first event and frame under 100 ms, RSS under
//! 300 MB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use memscope::engine::Agent;
use memscope::engine::exec::Effects;
use memscope::functions::Call;
use memscope::memory::{AgentState, CoreMemory, Message, MessageKind, Passage, Role};
use memscope::store::{Commit, Store};
use memscope::tui::app::{Load, StoreTab};
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::{data, initial_app, view};

mod common;
#[path = "../tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

use common::{Rng, quantiles};

const QUERIES: usize = 200;

trait Words {
    fn word(&mut self) -> String;
    fn sentence(&mut self, words: usize) -> String;
}

impl Words for Rng {
    /// A word from a vocabulary of 20,000, common ones far more often (about Zipf's law).
    fn word(&mut self) -> String {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        let rank = (20_000f64.powf(u)) as u64;
        const SYL: [&str; 16] = [
            "ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "pe", "da", "zu", "ho", "li", "ma",
            "no", "ge",
        ];
        let mut w = String::new();
        let mut r = rank + 16;
        while r > 0 {
            w.push_str(SYL[(r % 16) as usize]);
            r /= 16;
        }
        w
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.word())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn build(path: &Path, n: u64) -> (Duration, Duration) {
    let t0 = Instant::now();
    let store = Arc::new(Store::open(path).unwrap());
    let mut state = AgentState::new(
        "default",
        CoreMemory::with_defaults("I am Sam.", "Name: Ada."),
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let now = Utc::now();
    let batch = 10_000u64;
    let mut start = 1;
    while start <= n {
        let end = (start + batch - 1).min(n);
        let messages: Vec<Message> = (start..=end)
            .map(|id| {
                let user = id % 2 == 1;
                let text = rng.sentence(12 + (id % 20) as usize);
                Message {
                    id,
                    role: if user { Role::User } else { Role::Assistant },
                    kind: if user {
                        MessageKind::UserMessage
                    } else {
                        MessageKind::Assistant
                    },
                    content: text.clone(),
                    text,
                    searchable: true,
                    tool_calls: vec![],
                    tool_call_id: None,
                    name: None,
                    created_at: now,
                    tokens: 20,
                    step: id / 2,
                }
            })
            .collect();
        let passages: Vec<Passage> = (start..=end)
            .map(|id| Passage {
                id,
                text: rng.sentence(40 + (id % 40) as usize),
                created_at: now,
                source: "document".into(),
                embedding: None,
                embedding_model: None,
                origin: None,
            })
            .collect();
        store
            .commit(
                "default",
                &Commit {
                    messages: &messages,
                    passages: &passages,
                    ..Default::default()
                },
            )
            .unwrap();
        start = end + 1;
    }
    state.fifo = (n.saturating_sub(39).max(1)..=n).collect();
    state.next_message_id = n + 1;
    state.next_passage_id = n + 1;
    state.recall_count = n;
    state.archival_count = n;
    store
        .commit(
            "default",
            &Commit {
                state: Some(&state),
                ..Default::default()
            },
        )
        .unwrap();
    let rows = t0.elapsed();
    let t1 = Instant::now();
    store.index_now("default").unwrap();
    (rows, t1.elapsed())
}

fn first_event(path: &Path, home: &Path) -> Duration {
    let url = common::stub_endpoint();
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| common::time_to_ready(path, &url, home))
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Run as a fresh process on a built store: prints one line of figures.
fn probe(path: &Path, home: &Path) {
    let event = first_event(path, home);
    let t0 = Instant::now();
    let store = Arc::new(Store::open(path).unwrap());
    let mut agent = Agent::open(store.clone(), "default", common::settings(8192)).unwrap();
    let app = initial_app(
        &agent,
        None,
        Theme::load("dark", None).unwrap(),
        Keymap::default(),
        false,
    );
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    term.draw(|f| {
        view::draw(f, &app);
    })
    .unwrap();
    let frame = t0.elapsed();
    let mut rng = Rng(42);
    let mut time = |call: &dyn Fn(String) -> Call| -> Vec<Duration> {
        (0..QUERIES)
            .map(|i| {
                let query = rng.sentence(1 + i % 3);
                let c = call(query);
                let t = Instant::now();
                let r = agent.execute(&c, None, &mut Effects::default()).unwrap();
                let took = t.elapsed();
                assert!(r.ok, "{}", r.message);
                took
            })
            .collect()
    };
    let recall = time(&|query| Call::ConversationSearch {
        query,
        page: 0,
        request_heartbeat: false,
    });
    let archival = time(&|query| Call::ArchivalMemorySearch {
        query,
        page: 0,
        request_heartbeat: false,
    });
    // What the TUI reads once it is up.
    let _ = data::history(&store, "default", u64::MAX);
    let _ = data::load(&store, "default", &Load::Archival);
    let _ = data::load(&store, "default", &Load::Recall);
    let _ = data::load(
        &store,
        "default",
        &Load::Search {
            tab: StoreTab::Recall,
            query: "kaloka".into(),
        },
    );
    let (r50, r99) = quantiles(recall);
    let (a50, a99) = quantiles(archival);
    println!(
        "{:.1} {:.1} {r50:.2} {r99:.2} {a50:.2} {a99:.2} {:.0}",
        event.as_secs_f64() * 1000.0,
        frame.as_secs_f64() * 1000.0,
        peak_rss_mb()
    );
}

fn size_on_disk(p: &Path) -> u64 {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p)
            .map(|d| d.flatten().map(|e| size_on_disk(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The database's size on disk, tables and indexes.
fn database_size(url: &str) -> u64 {
    let rows = pg::sql(url, "SELECT pg_database_size(current_database())");
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path, home] = args.as_slice()
        && flag == "probe"
    {
        return probe(Path::new(path), Path::new(home));
    }
    let mut sizes: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000];
    }
    let postgres = args.iter().any(|a| a == "--postgres");
    let cluster = postgres.then(|| pg::Cluster::start().expect("PostgreSQL is not installed"));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/scale");
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "| store | items (each kind) | build rows | build index | first event | first frame | conversation_search p50 / p99 | archival_memory_search p50 / p99 | peak RSS | store on disk | index |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let path = match &cluster {
            Some(c) => c.store(&format!("scale_{n}")),
            None => dir.join(format!("{n}.redb")),
        };
        let (rows, index) = if cluster.is_none() && path.exists() {
            (Duration::ZERO, Duration::ZERO)
        } else {
            build(&path, n)
        };
        let out = Command::new(std::env::current_exe().unwrap())
            .arg("probe")
            .arg(&path)
            .arg(&dir)
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            f.len(),
            7,
            "probe said: {line} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut index_dir = path.as_os_str().to_owned();
        index_dir.push(".search");
        let built = |d: Duration| {
            if d.is_zero() {
                "(kept)".to_string()
            } else {
                format!("{:.1} s", d.as_secs_f64())
            }
        };
        let (kind, on_disk, index_size) = match &cluster {
            Some(_) => (
                "PostgreSQL",
                database_size(&path.to_string_lossy()),
                "(in the database)".to_string(),
            ),
            None => (
                "redb",
                size_on_disk(&path),
                format!("{:.0} MB", size_on_disk(Path::new(&index_dir)) as f64 / 1e6),
            ),
        };
        println!(
            "| {kind} | {n} | {} | {} | {} ms | {} ms | {} / {} ms | {} / {} ms | {} MB | {:.0} MB | {index_size} |",
            built(rows),
            built(index),
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            f[6],
            on_disk as f64 / 1e6,
        );
    }
}
