//! Time travel on a long history: an agent with 10,000 steps (an 8k-token context held at one
//! size, a `send_message` reply each, committed durably as in a session).
//!
//! `steps_view_open`: the steps view's first page (the newest 200 calls). `step_detail`: one
//! call in full, from the middle of the history: its request rebuilt byte for byte from the
//! store, cut into sections and counted, its reply and the memory it left. `step_diff`: two
//! neighbouring calls compared. Target: each under 16 ms (one frame). `STEPS` changes the
//! history's length.

use criterion::{Criterion, criterion_group, criterion_main};
use memscope::engine::history::{diff, view};
use memscope::store::Store;

mod common;

fn history(path: &std::path::Path, steps: u64) {
    let mut agent = common::filled_agent(path, 8192, 6800);
    common::steady_steps(&mut agent, steps);
}

fn time_travel(c: &mut Criterion) {
    let steps: u64 = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.redb");
    let t0 = std::time::Instant::now();
    history(&path, steps);
    eprintln!("made a history of {steps} steps in {:.1?}", t0.elapsed());
    let store = Store::open_read_only(&path).unwrap();
    let mid = steps / 2;
    assert_eq!(
        view::rows(&store, "default", None, 200).unwrap()[0].step,
        steps
    );
    let mut group = c.benchmark_group(format!("time_travel_{steps}_steps"));
    group.bench_function("steps_view_open", |b| {
        b.iter(|| view::rows(&store, "default", None, 200).unwrap())
    });
    group.bench_function("step_detail", |b| {
        b.iter(|| view::step_detail(&store, "default", mid).unwrap().unwrap())
    });
    group.bench_function("step_diff", |b| {
        b.iter(|| {
            let a = view::step_detail(&store, "default", mid - 1)
                .unwrap()
                .unwrap();
            let b = view::step_detail(&store, "default", mid).unwrap().unwrap();
            diff::diff(&a, &b)
        })
    });
    group.finish();
}

criterion_group!(benches, time_travel);
criterion_main!(benches);
