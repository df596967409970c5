//! Deterministic crash points for the kill harness (`tests/crash.rs`); compiled only into debug
//! builds, a no-op in release builds.
//!
//! Contract: with `MEMSCOPE_CRASH_TRACE=FILE`, every crash point reached appends its name to
//! FILE (one per line), so a reference run lists them. With `MEMSCOPE_CRASH_AT=N`, the N-th
//! crash point reached (counting from 1) kills this process with SIGKILL on the spot: no
//! destructor, flush or commit runs after it, exactly like a power cut or `kill -9`.

#[cfg(debug_assertions)]
mod imp {
    use std::io::Write;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    static REACHED: AtomicU64 = AtomicU64::new(0);

    fn at() -> Option<u64> {
        static AT: OnceLock<Option<u64>> = OnceLock::new();
        *AT.get_or_init(|| {
            std::env::var("MEMSCOPE_CRASH_AT")
                .ok()
                .and_then(|v| v.parse().ok())
        })
    }

    fn trace() -> Option<&'static std::sync::Mutex<std::fs::File>> {
        static TRACE: OnceLock<Option<std::sync::Mutex<std::fs::File>>> = OnceLock::new();
        TRACE
            .get_or_init(|| {
                let path = std::env::var_os("MEMSCOPE_CRASH_TRACE")?;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .ok()
                    .map(std::sync::Mutex::new)
            })
            .as_ref()
    }

    pub fn point(name: &str) {
        let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(f) = trace()
            && let Ok(mut f) = f.lock()
        {
            let _ = writeln!(f, "{name}");
            let _ = f.flush();
        }
        if at() == Some(n) {
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid])
                .status();
            // The signal is on its way; never go on.
            loop {
                std::thread::park();
            }
        }
    }
}

/// Marks a moment where a crash must leave the store consistent.
#[inline]
pub fn point(_name: &str) {
    #[cfg(debug_assertions)]
    imp::point(_name);
}
