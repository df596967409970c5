//! Approximate embedding search against exact: recall@5, latency and build time.
//!
//! `cargo bench --bench ann` ranks 200 queries over 100,000 vectors of 384 dimensions (the size
//! of a small sentence-embedding model's), clustered as real embeddings are (1,000 topics, each
//! vector a topic plus noise; half the queries a stored vector plus noise, half a new vector on
//! a known topic), once exactly and once
//! through the HNSW graph memscope builds above `memory::ann::APPROXIMATE_FROM` vectors.
//! Then the same vectors as archival passages of a redb store, searched through the agent's own
//! `archival_memory_search`: the first search (which reads every vector from the store), the
//! wait until the graph is built, and 200 searches after it (median and p99).
//! `cargo bench --bench ann -- N DIM` picks other sizes. Target: recall@5 of at least 0.95.

use std::collections::HashMap;
use std::time::Instant;

use std::time::Duration;

use memscope::engine::Agent;
use memscope::engine::exec::{Effects, Embeds};
use memscope::functions::Call;
use memscope::memory::ann::{Vectors, exact};
use memscope::memory::{AgentState, CoreMemory, Passage};
use memscope::store::{Commit, Store};

mod common;

use common::{Rng, quantiles};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(100_000);
    let dim = args.get(1).copied().unwrap_or(384);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let topics: Vec<Vec<f32>> = (0..1000)
        .map(|_| (0..dim).map(|_| rng.unit()).collect())
        .collect();
    let mut all: HashMap<u64, Vec<f32>> = HashMap::with_capacity(n);
    let mut vectors = Vectors::default();
    for id in 1..=n as u64 {
        let t = &topics[(rng.next() % 1000) as usize];
        let v: Vec<f32> = t.iter().map(|x| x + 0.5 * rng.unit()).collect();
        all.insert(id, v.clone());
        vectors.insert(id, v);
    }
    let t0 = Instant::now();
    vectors.wait_for_graph();
    let build = t0.elapsed();
    assert!(
        vectors.approximate(),
        "{n} vectors are ranked approximately"
    );
    // Half near a stored vector (a passage asked about again), half new text on a known topic.
    let queries: Vec<Vec<f32>> = (0..200)
        .map(|i| {
            if i % 2 == 0 {
                let base = &all[&(1 + rng.next() % n as u64)];
                base.iter().map(|x| x + 0.2 * rng.unit()).collect()
            } else {
                let t = &topics[(rng.next() % 1000) as usize];
                t.iter().map(|x| x + 0.5 * rng.unit()).collect()
            }
        })
        .collect();
    let (mut exact_t, mut approx_t, mut found) = (Vec::new(), Vec::new(), 0usize);
    for q in &queries {
        let t = Instant::now();
        let want = exact(&all, q, 5);
        exact_t.push(t.elapsed());
        let t = Instant::now();
        let got = vectors.rank(q, 5);
        approx_t.push(t.elapsed());
        found += want
            .iter()
            .filter(|w| got.iter().any(|g| g.0 == w.0))
            .count();
    }
    let recall = found as f64 / (5 * queries.len()) as f64;
    let (e50, e99) = quantiles(exact_t);
    let (a50, a99) = quantiles(approx_t);
    println!(
        "| vectors | dimensions | graph built in | exact p50 / p99 | approximate p50 / p99 | recall@5 |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {n} | {dim} | {:.1} s | {e50:.2} / {e99:.2} ms | {a50:.2} / {a99:.2} ms | {recall:.3} |",
        build.as_secs_f64()
    );
    assert!(recall >= 0.95, "recall@5 {recall} is under 0.95");
    through_the_agent(&all, &queries);
}

const MODEL: &str = "bench-embed";

/// The vectors as embedded passages of a store, searched by the agent's function.
fn through_the_agent(all: &HashMap<u64, Vec<f32>>, queries: &[Vec<f32>]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ann.redb");
    let store = Store::open(&path).unwrap();
    let mut ids: Vec<u64> = all.keys().copied().collect();
    ids.sort();
    for chunk in ids.chunks(5_000) {
        let passages: Vec<Passage> = chunk
            .iter()
            .map(|id| Passage {
                id: *id,
                text: format!("passage {id}"),
                created_at: chrono::Utc::now(),
                source: "document".into(),
                embedding: Some(all[id].clone()),
                embedding_model: Some(MODEL.into()),
                origin: None,
            })
            .collect();
        store
            .commit(
                "default",
                &Commit {
                    passages: &passages,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let mut state = AgentState::new("default", CoreMemory::with_defaults("I am Sam.", "Ada."));
    state.next_passage_id = ids.len() as u64 + 1;
    state.archival_count = ids.len() as u64;
    store
        .commit(
            "default",
            &Commit {
                state: Some(&state),
                ..Default::default()
            },
        )
        .unwrap();
    drop(store);
    let mut agent = Agent::open(
        Store::open(&path).unwrap(),
        "default",
        common::settings(8192),
    )
    .unwrap();
    let first = search(&mut agent, &queries[0]);
    let t = Instant::now();
    agent
        .archival_cache()
        .unwrap()
        .models
        .get_mut(MODEL)
        .unwrap()
        .wait_for_graph();
    let graph = t.elapsed();
    let (p50, p99) = quantiles(queries.iter().map(|q| search(&mut agent, q)).collect());
    println!();
    println!(
        "| through `archival_memory_search` | first search (reads the vectors) | then the graph is ready after | searches p50 / p99 |"
    );
    println!("|---|---|---|---|");
    println!(
        "| {} passages | {:.0} ms | {:.1} s | {p50:.2} / {p99:.2} ms |",
        all.len(),
        first.as_secs_f64() * 1000.0,
        graph.as_secs_f64()
    );
}

/// One `archival_memory_search` by the agent with `q` as the query's embedding.
fn search(agent: &mut Agent, q: &[f32]) -> Duration {
    let call = Call::ArchivalMemorySearch {
        query: "anything".into(),
        page: 0,
        request_heartbeat: false,
    };
    let embeds = Embeds {
        model: MODEL.into(),
        result: Ok(vec![q.to_vec()]),
    };
    let t = Instant::now();
    let r = agent
        .execute(&call, Some(&embeds), &mut Effects::default())
        .unwrap();
    assert!(r.ok, "{}", r.message);
    t.elapsed()
}
