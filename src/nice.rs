//! Work nobody waits on (indexing, building an embedding graph) gives way to the work a person
//! does wait on: the terminal's input and drawing, the agent's steps.
//!
//! Contract: [`lower_this_thread`] lowers the calling thread's scheduling priority (on Linux,
//! its nice value, which the threads it starts inherit); elsewhere it does nothing.

/// The nice value of background work.
#[cfg(target_os = "linux")]
const BACKGROUND: i32 = 10;

/// Lowers the calling thread's priority; failure is harmless and ignored.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls with no pointers; on Linux `setpriority(PRIO_PROCESS, tid)`
    // applies to that one thread.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        // Never raised: a process already started with a lower priority keeps it.
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, now.max(BACKGROUND));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    fn priority() -> i32 {
        // SAFETY: as above.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, tid)
        }
    }

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = priority();
        let lowered = std::thread::spawn(|| {
            super::lower_this_thread();
            let own = priority();
            // A thread it starts inherits it.
            let child = std::thread::spawn(priority).join().unwrap();
            (own, child)
        })
        .join()
        .unwrap();
        let want = before.max(super::BACKGROUND);
        assert_eq!(lowered, (want, want));
        assert_eq!(priority(), before, "the caller's own thread is untouched");
    }
}
