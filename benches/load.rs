//! Loading documents into archival memory: a corpus of 100 Markdown files of about 10 KB each
//! (1 MB, headed sections of prose), generated the same every run.
//!
//! `load_1mb`: `Agent::load_documents` into a fresh store, every stage but embedding: read,
//! split into 300-token passages (every block counted with tiktoken), fingerprinted against
//! what the store holds, committed durably in batches of 64. `reload_1mb_all_held`: the same
//! files again into the store that holds them (everything read, split and left out).
//! `split_1mb`: the splitting alone. `before_insert_per_file`: what there was before `load`,
//! one `archival insert "$(cat FILE)"` per file (character chunks, one commit each), for
//! comparison. Throughput is in bytes of documents.
//!
//! `cargo bench --bench load`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memscope::engine::load::LoadSink;
use memscope::engine::{Agent, Event};
use memscope::store::Store;
use memscope::transfer::load::{DEFAULT_CHUNK_TOKENS, read, split};

mod common;

const WORDS: &[&str] = &[
    "hive", "queen", "brood", "frame", "nectar", "pollen", "swarm", "colony", "wax", "comb",
    "forager", "drone", "worker", "varroa", "honey", "smoke", "super", "apiary", "spring",
    "autumn", "winter", "feed", "syrup", "inspect", "weekly", "strong", "weak", "split", "the",
    "a", "and", "of", "to", "in", "was", "is", "on", "with", "for", "after",
];

/// 100 files of about 10 KB: sections with a heading and paragraphs of prose.
fn corpus(dir: &std::path::Path) -> u64 {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut total = 0;
    for f in 0..100 {
        let mut text = format!("# Notes {f}\n\n");
        while text.len() < 10_000 {
            text.push_str(&format!("## Section {}\n\n", next() % 1000));
            for _ in 0..3 {
                let n = 30 + next() % 50;
                let para: Vec<&str> = (0..n)
                    .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                    .collect();
                text.push_str(&para.join(" "));
                text.push_str(".\n\n");
            }
        }
        total += text.len() as u64;
        std::fs::write(dir.join(format!("notes-{f:03}.md")), text).unwrap();
    }
    total
}

struct Quiet;

impl LoadSink for Quiet {
    fn event(&mut self, _: Event) {}
    fn stop_requested(&mut self) -> bool {
        false
    }
}

fn agent(path: &std::path::Path) -> Agent {
    Agent::open(
        Store::open(path).unwrap(),
        "default",
        common::settings(8192),
    )
    .unwrap()
}

/// A new store in a temp dir (kept as long as the dir), and its agent.
fn fresh() -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(&dir.path().join("s.redb"));
    (dir, a)
}

fn load_into(agent: &mut Agent, docs: &std::path::Path, rt: &tokio::runtime::Runtime) -> usize {
    let plan = read::plan(&[docs.to_path_buf()]);
    let loader = agent.loader_for(plan, DEFAULT_CHUNK_TOKENS).unwrap();
    rt.block_on(agent.load_documents(loader, None, &mut Quiet))
        .unwrap()
        .passages
}

fn load(c: &mut Criterion) {
    let docs = tempfile::tempdir().unwrap();
    let bytes = corpus(docs.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("load_1mb", |b| {
        b.iter_with_setup(fresh, |(dir, mut a)| {
            assert!(load_into(&mut a, docs.path(), &rt) > 0);
            drop(a);
            dir
        })
    });
    let held = tempfile::tempdir().unwrap();
    let mut loaded = agent(&held.path().join("s.redb"));
    let n = load_into(&mut loaded, docs.path(), &rt);
    eprintln!("the corpus is {bytes} bytes in {n} passages");
    g.bench_function("reload_1mb_all_held", |b| {
        b.iter(|| assert_eq!(load_into(&mut loaded, docs.path(), &rt), 0))
    });
    let counter = memscope::tokens::TokenCounter::for_model("gpt-4o");
    let texts: Vec<String> = (0..100)
        .map(|f| std::fs::read_to_string(docs.path().join(format!("notes-{f:03}.md"))).unwrap())
        .collect();
    g.bench_function("split_1mb", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| {
                    split::split(t, read::Kind::Markdown, DEFAULT_CHUNK_TOKENS, &counter).len()
                })
                .sum::<usize>()
        })
    });
    g.bench_function("before_insert_per_file", |b| {
        b.iter_with_setup(fresh, |(dir, mut a)| {
            for t in &texts {
                a.insert_passage_by_hand(t, None).unwrap().unwrap();
            }
            drop(a);
            dir
        })
    });
    g.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
