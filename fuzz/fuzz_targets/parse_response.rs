//! Fuzzes the chat-completions response parser on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(reply) = memscope::model::parse_chat(v)
    {
        for c in &reply.tool_calls {
            let _ = memscope::functions::parse_call(&c.name, &c.arguments);
        }
    }
});
