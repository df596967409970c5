//! Embedding search that stays fast for many passages: exact below [`APPROXIMATE_FROM`]
//! vectors, an HNSW graph (the `hnsw_rs` crate) at and above it.
//!
//! Contract: [`Vectors`] holds one embedding model's vectors by passage id. [`Vectors::rank`]
//! returns the best `k` ids with their cosine similarity, best first (ties: newer first).
//! Below the threshold it compares the query with every vector; above it, the graph is built
//! on a thread of its own from a copy of the vectors (searches stay exact until it is ready),
//! vectors added meanwhile are inserted once it is, and from then on the graph holds the only
//! copy. A vector removed afterwards is never returned again; one removed or replaced marks
//! the set [`Vectors::stale`], and its owner loads it again. A graph that could not be built
//! leaves ranking exact. Its recall@5 against exact ranking is measured by `benches/ann.rs`.
//! (A thread, but no I/O.)

use std::collections::{HashMap, HashSet};
use std::thread::JoinHandle;

use hnsw_rs::prelude::{Distance, Hnsw};

use super::search::cosine;

/// From this many vectors on, ranking is approximate.
pub const APPROXIMATE_FROM: usize = 20_000;
/// Links per node and the breadth of the search while building and querying: chosen so that
/// recall@5 stays at or above 0.95 (see `benches/ann.rs`).
const LINKS: usize = 16;
const EF_BUILD: usize = 100;
const EF_SEARCH: usize = 128;

type Graph = Hnsw<'static, f32, UnitDot>;

/// Cosine distance between vectors already of length 1: one pass, in eight lanes the compiler
/// can keep in vector registers; never below 0, never panics.
#[derive(Clone, Copy, Default)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        let mut lanes = [0f32; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = ca
            .remainder()
            .iter()
            .zip(cb.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in ca.zip(cb) {
            for i in 0..8 {
                lanes[i] += x[i] * y[i];
            }
        }
        (1.0 - lanes.iter().sum::<f32>() - tail).max(0.0)
    }
}

/// `v` scaled to length 1 (a zero vector stays zero).
fn unit(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter().map(|x| x / norm).collect()
    } else {
        vec![0.0; v.len()]
    }
}

enum Ann {
    None,
    Building(JoinHandle<Graph>),
    Ready(Box<Graph>),
}

/// One embedding model's vectors.
pub struct Vectors {
    /// The vectors, while no graph holds them (once one does, it is their only copy).
    vectors: HashMap<u64, Vec<f32>>,
    /// Every id with a vector.
    ids: HashSet<u64>,
    ann: Ann,
    /// Added since the graph's copy was taken; inserted once it is ready.
    pending: Vec<u64>,
    /// A vector was removed or replaced after the graph took them over: the owner loads them
    /// again (see [`Vectors::stale`]).
    stale: bool,
    /// How many of the graph's points are no longer wanted: a search asks for that many more.
    gone: usize,
    /// Building the graph failed: ranking stays exact rather than trying again each search.
    failed: bool,
    threshold: usize,
}

impl Default for Vectors {
    fn default() -> Self {
        Vectors::with_threshold(APPROXIMATE_FROM)
    }
}

impl Vectors {
    /// Vectors ranked approximately from `threshold` of them on (tests use a small one).
    pub fn with_threshold(threshold: usize) -> Self {
        Vectors {
            vectors: HashMap::new(),
            ids: HashSet::new(),
            ann: Ann::None,
            pending: Vec::new(),
            stale: false,
            gone: 0,
            failed: false,
            threshold,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    /// Whether a vector changed that the graph cannot forget: ranking still works (a removed
    /// passage is never returned) but the owner should load the vectors again.
    pub fn stale(&self) -> bool {
        self.stale
    }

    pub fn insert(&mut self, id: u64, v: Vec<f32>) {
        let new = self.ids.insert(id);
        match &self.ann {
            Ann::Ready(g) if new => g.insert((&unit(&v), id as usize)),
            Ann::Ready(_) => {
                self.stale = true;
                self.gone += 1;
            }
            Ann::Building(_) if new => {
                self.vectors.insert(id, v);
                self.pending.push(id);
            }
            _ => {
                self.vectors.insert(id, v);
                if !new {
                    // The graph being built has the old vector: build again.
                    self.ann = Ann::None;
                    self.pending.clear();
                }
            }
        }
    }

    pub fn remove(&mut self, id: u64) {
        if !self.ids.remove(&id) {
            return;
        }
        if matches!(self.ann, Ann::Ready(_)) {
            self.stale = true;
            self.gone += 1;
        } else {
            self.vectors.remove(&id);
            self.ann = Ann::None;
            self.pending.clear();
        }
    }

    /// Whether the last ranking (or the next) is approximate.
    pub fn approximate(&mut self) -> bool {
        self.poll();
        matches!(self.ann, Ann::Ready(_))
    }

    /// Takes the graph when its builder is done, and starts one when there should be one.
    fn poll(&mut self) {
        if matches!(&self.ann, Ann::Building(h) if h.is_finished()) {
            self.join();
        }
        if matches!(self.ann, Ann::None) && !self.failed && self.vectors.len() >= self.threshold {
            let copy: Vec<(u64, Vec<f32>)> =
                self.vectors.iter().map(|(k, v)| (*k, unit(v))).collect();
            let spawned = std::thread::Builder::new()
                .name("embedding graph".into())
                .spawn(move || {
                    crate::nice::lower_this_thread();
                    build(&copy)
                });
            if let Ok(h) = spawned {
                self.ann = Ann::Building(h);
            }
        }
    }

    /// Waits for the builder and takes its graph (none when it failed).
    fn join(&mut self) {
        if let Ann::Building(h) = std::mem::replace(&mut self.ann, Ann::None) {
            match h.join() {
                Ok(g) => self.ready(g),
                Err(_) => self.failed = true,
            }
        }
    }

    /// The graph built, with what was added meanwhile; from now on it holds the vectors.
    fn ready(&mut self, g: Graph) {
        for id in std::mem::take(&mut self.pending) {
            if let Some(v) = self.vectors.get(&id) {
                g.insert((&unit(v), id as usize));
            }
        }
        self.vectors = HashMap::new();
        self.ann = Ann::Ready(Box::new(g));
    }

    /// Blocks until the graph is built (when there is to be one): for benchmarks and tests.
    pub fn wait_for_graph(&mut self) {
        self.poll();
        self.join();
    }

    /// The `k` ids most like `query`, best first, with their cosine similarity.
    pub fn rank(&mut self, query: &[f32], k: usize) -> Vec<(u64, f32)> {
        self.poll();
        if k == 0 {
            return Vec::new();
        }
        match &self.ann {
            Ann::Ready(g) => {
                let ask = k + self.gone;
                let mut out: Vec<(u64, f32)> = g
                    .search(&unit(query), ask, EF_SEARCH.max(ask))
                    .into_iter()
                    .map(|n| (n.d_id as u64, 1.0 - n.distance))
                    .filter(|(id, _)| self.ids.contains(id))
                    .collect();
                out.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
                out.truncate(k);
                out
            }
            _ => exact(&self.vectors, query, k),
        }
    }
}

/// Every vector compared with `query`; the best `k`.
pub fn exact(vectors: &HashMap<u64, Vec<f32>>, query: &[f32], k: usize) -> Vec<(u64, f32)> {
    let mut scored: Vec<(u64, f32)> = vectors
        .iter()
        .map(|(id, v)| (*id, cosine(query, v)))
        .collect();
    let by = |a: &(u64, f32), b: &(u64, f32)| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0));
    if k < scored.len() {
        scored.select_nth_unstable_by(k, by);
        scored.truncate(k);
    }
    scored.sort_by(by);
    scored
}

fn build(vectors: &[(u64, Vec<f32>)]) -> Graph {
    let g = Hnsw::new(LINKS, vectors.len().max(1), 16, EF_BUILD, UnitDot);
    let data: Vec<(&Vec<f32>, usize)> = vectors.iter().map(|(id, v)| (v, *id as usize)).collect();
    g.parallel_insert(&data);
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(seed: u64, dim: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_graph_finds_what_exact_ranking_finds() {
        let mut v = Vectors::with_threshold(500);
        let mut all = HashMap::new();
        for id in 0..3000 {
            v.insert(id, vector(id, 32));
            all.insert(id, vector(id, 32));
        }
        assert!(!v.approximate() || v.len() >= 500);
        v.wait_for_graph();
        assert!(v.approximate());
        let (mut found, mut asked) = (0, 0);
        for q in 0..100u64 {
            let query = vector(10_000 + q, 32);
            let want: Vec<u64> = exact(&all, &query, 5).iter().map(|r| r.0).collect();
            let got: Vec<u64> = v.rank(&query, 5).iter().map(|r| r.0).collect();
            found += want.iter().filter(|id| got.contains(id)).count();
            asked += want.len();
        }
        let recall = found as f64 / asked as f64;
        assert!(recall >= 0.95, "recall@5 {recall}");
        // A passage added after the graph is found by it; one removed is not.
        let q = vector(77_777, 32);
        v.insert(5000, q.clone());
        assert_eq!(v.rank(&q, 1)[0].0, 5000);
        assert!(v.vectors.is_empty(), "the graph holds the only copy");
        v.remove(5000);
        assert_ne!(v.rank(&q, 1)[0].0, 5000);
        assert!(v.stale() && !v.contains(5000));
    }

    #[test]
    fn the_distance_is_one_minus_the_cosine_and_never_negative() {
        let a = unit(&[3.0, 4.0, 0.0, 1.0, 2.0, 2.0, 1.0, 0.5, 7.0, 1.0]);
        assert!(UnitDot.eval(&a, &a).abs() < 1e-6);
        let b = unit(&[-3.0, -4.0, 0.0, -1.0, -2.0, -2.0, -1.0, -0.5, -7.0, -1.0]);
        assert!((UnitDot.eval(&a, &b) - 2.0).abs() < 1e-5);
        let c = unit(&[1.0, 0.0]);
        let d = unit(&[1.0, 1.0]);
        assert!((1.0 - UnitDot.eval(&c, &d) - cosine(&c, &d)).abs() < 1e-6);
        assert_eq!(unit(&[0.0, 0.0]), [0.0, 0.0]);
    }

    #[test]
    fn below_the_threshold_ranking_is_exact_and_newest_first_on_ties() {
        let mut v = Vectors::with_threshold(100);
        v.insert(1, vec![1.0, 0.0]);
        v.insert(2, vec![1.0, 0.0]);
        v.insert(3, vec![0.0, 1.0]);
        assert_eq!(
            v.rank(&[1.0, 0.0], 3)
                .iter()
                .map(|r| r.0)
                .collect::<Vec<_>>(),
            [2, 1, 3]
        );
        assert!(!v.approximate());
    }
}
