//! How much the store grows per steady-state step, and where the bytes go: run N steps (an
//! 8k-token context held at one size, a `send_message` reply each, committed durably as in a
//! session) and print the file's growth per step and the encoded size per step of messages,
//! traces and journal entries. Target: under 2 KB a step beyond the messages themselves.
//!
//! Then it runs the release binary's `dump --json` on that store and prints its peak RSS
//! (target: under 100 MB at 10,000 steps).
//!
//! `cargo bench --bench store_growth` (N = 2,000; `STEPS=10000` for more).

mod common;

fn main() {
    // cargo bench passes `--bench`; nothing to filter here.
    let steps: u64 = std::env::var("STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growth.redb");
    let mut agent = common::filled_agent(&path, 8192, 6800);
    let size0 = std::fs::metadata(&path).unwrap().len();
    let traces0 = agent.store.traces("default").unwrap().len();
    common::steady_steps(&mut agent, steps);
    let size1 = std::fs::metadata(&path).unwrap().len();
    let traces = agent.store.traces("default").unwrap();
    let trace_bytes: usize = traces[traces0..]
        .iter()
        .map(|t| serde_json::to_vec(t).unwrap().len())
        .sum();
    let recall = agent.store.recall("default").unwrap();
    let message_bytes: usize = recall[recall.len() - 3 * steps as usize..]
        .iter()
        .map(|m| serde_json::to_vec(m).unwrap().len())
        .sum();
    let journal = agent.store.journal("default", 0, u64::MAX).unwrap();
    let journal_bytes: usize = journal
        .iter()
        .rev()
        .take_while(|(_, e)| e.step > 0)
        .map(|(_, e)| serde_json::to_vec(e).unwrap().len())
        .sum();
    // The state before each input (what retry and pop go back to).
    let mut mark_bytes = 0usize;
    agent
        .store
        .scan(
            memscope::store::Table::Marks,
            "default",
            |_, m: serde_json::Value| {
                mark_bytes += serde_json::to_vec(&m).unwrap().len();
                Ok::<(), memscope::store::StoreError>(())
            },
        )
        .unwrap();
    let per = |b: usize| b as f64 / steps as f64;
    println!("store growth over {steps} steps (8k-token context, one reply each):");
    println!(
        "  file: {:.0} bytes a step ({} → {} bytes)",
        (size1 - size0) as f64 / steps as f64,
        size0,
        size1
    );
    println!(
        "  messages (3 a step): {:.0} bytes a step",
        per(message_bytes)
    );
    println!("  traces: {:.0} bytes a step", per(trace_bytes));
    println!("  journal entries: {:.0} bytes a step", per(journal_bytes));
    println!(
        "  marks (the state before each input): {:.0} bytes a step",
        per(mark_bytes)
    );
    println!(
        "  the agent's state, rewritten by each of the step's 2 commits: {} bytes",
        serde_json::to_vec(&agent.state).unwrap().len()
    );
    println!(
        "  beyond the messages: {:.0} bytes a step (target 2,048)",
        per(trace_bytes + journal_bytes + mark_bytes)
    );
    drop(agent);
    // Peak RSS of `dump --json` on this store, by GNU time.
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_memscope"))
        .args(["dump", "--json", "--store"])
        .arg(&path)
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            let kb: u64 = err
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            println!(
                "  dump --json: {} bytes of output, peak RSS {:.1} MB (target 100 MB)",
                o.stdout.len(),
                kb as f64 / 1024.0
            );
        }
        Ok(o) => println!(
            "  dump --json failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("  (no /usr/bin/time here: {e})"),
    }
}
