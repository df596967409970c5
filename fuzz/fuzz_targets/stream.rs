//! Fuzzes the server-sent-events assembler: arbitrary bytes cut at an arbitrary point never
//! panic, and no piece shown or reply assembled ever holds the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memscope::model::stream::StreamState;

const KEY: &str = "sk-fz-42";

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = (cut as usize % 16) + 1;
    let mut st = StreamState::with_secret(Some(KEY));
    let mut shown = Vec::new();
    for chunk in rest.chunks(cut) {
        match st.feed(chunk) {
            Ok(p) => shown.extend(p),
            Err(_) => return,
        }
    }
    match st.end() {
        Ok(p) => shown.extend(p),
        Err(_) => return,
    }
    for p in &shown {
        assert!(!p.contains(KEY), "a piece holds the key: {p:?}");
    }
    if let Ok(r) = st.finish() {
        assert!(!r.raw.to_string().contains(KEY));
    }
});
