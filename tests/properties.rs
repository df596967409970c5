//! Properties of everything that reads untrusted input, checked on thousands of generated
//! inputs by proptest: no panic, bounded output, and the guarantees the rest relies on.

use proptest::prelude::*;
use serde_json::Value;

use memscope::functions::parse_call;
use memscope::functions::repair::parse_lenient;
use memscope::model::parse_chat;
use memscope::text;

/// Strings rich in what breaks parsers: JSON punctuation, quotes, escapes, control characters.
fn jsonish() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\\".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\n".to_string()),
        Just("\u{1b}[2J".to_string()),
        Just("\"request_heartbeat\"".to_string()),
        Just("true".to_string()),
        Just("\"name\": \"human\"".to_string()),
        Just("```json".to_string()),
        "[a-z0-9 ]{0,6}",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("send_message".to_string()),
        Just("core_memory_append".to_string()),
        Just("core_memory_replace".to_string()),
        Just("conversation_search".to_string()),
        Just("conversation_search_date".to_string()),
        Just("archival_memory_insert".to_string()),
        Just("archival_memory_search".to_string()),
        Just("pause_heartbeats".to_string()),
        Just("functions.send_message".to_string()),
        ".{0,20}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Quarters round-trip through text exactly; arbitrary floats need not.
        (-4000i32..4000).prop_map(|i| Value::from(i as f64 / 4.0)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("choices".to_string()),
                    Just("message".to_string()),
                    Just("tool_calls".to_string()),
                    Just("function".to_string()),
                    Just("name".to_string()),
                    Just("arguments".to_string()),
                    Just("content".to_string()),
                    Just("usage".to_string()),
                    Just("function_call".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn repair_never_panics_and_stays_linear(s in jsonish()) {
        if let Ok(r) = parse_lenient(&s) {
            // Escaping can grow a control character to six bytes; nothing grows more.
            prop_assert!(r.value.to_string().len() <= 6 * s.len() + 16);
            prop_assert!(r.repairs.len() <= 8);
        }
    }

    #[test]
    fn valid_json_objects_come_back_unchanged(v in arb_json()) {
        let s = v.to_string();
        let r = parse_lenient(&s).unwrap();
        prop_assert_eq!(r.value, v);
        prop_assert!(r.repairs.is_empty());
    }

    #[test]
    fn argument_validation_never_panics_and_messages_are_printable(name in names(), args in jsonish()) {
        match parse_call(&name, &args) {
            Ok(p) => prop_assert!(p.arguments.is_object()),
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert_eq!(text::visible(&e.message), e.message.clone());
            }
        }
    }

    #[test]
    fn response_parsing_never_panics(v in arb_json()) {
        if let Ok(r) = parse_chat(v) {
            prop_assert!(r.tool_calls.iter().all(|c| !c.id.is_empty()));
        }
    }

    #[test]
    fn response_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            let _ = parse_chat(v);
        }
    }

    #[test]
    fn visible_text_never_holds_a_control_character(s in ".{0,60}", raw in proptest::collection::vec(0u32..0x300, 0..20)) {
        let mixed: String = s.chars().chain(raw.into_iter().filter_map(char::from_u32)).collect();
        let v = text::visible(&mixed);
        let bad = v.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c));
        prop_assert!(!bad, "escapes left in {:?}", v);
    }

    #[test]
    fn chunks_cover_the_text_within_the_limit(s in ".{0,400}", max in 16usize..120) {
        let chunks = memscope::memory::chunk::chunk_text(&s, max);
        prop_assert!(chunks.iter().all(|c| !c.is_empty() && c.chars().count() <= max));
        let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<String>();
        prop_assert_eq!(words(&chunks.concat()), words(&s));
    }

    #[test]
    fn wrapped_lines_fit_their_width(s in ".{0,200}", width in 1usize..50) {
        for line in memscope::tui::convo::wrap(&s, width) {
            let w: usize = line.chars().map(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)).sum();
            // A single character wider than the width is the only thing that may overflow.
            prop_assert!(w <= width.max(2), "{line:?} is {w} wide");
        }
    }

    #[test]
    fn streamed_text_arrives_whole_and_without_the_key(
        parts in proptest::collection::vec(prop_oneof![
            Just("sk-pt-9z".to_string()),
            Just("sk-".to_string()),
            Just("s".to_string()),
            Just("9z".to_string()),
            "[a-z ]{0,5}",
            "[à-ÿ☕🌊]{0,3}",
        ], 0..12),
        cuts in proptest::collection::vec(1usize..9, 1..40),
    ) {
        use memscope::model::stream::{REDACTED, StreamState};
        let key = "sk-pt-9z";
        let mut sse = String::new();
        for p in &parts {
            let ev = serde_json::json!({"choices": [{"delta": {"content": p}}]});
            sse.push_str(&format!("data: {ev}\n\n"));
        }
        sse.push_str("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        // Cut the bytes anywhere, inside characters too.
        let bytes = sse.as_bytes();
        let mut st = StreamState::with_secret(Some(key));
        let mut pieces = Vec::new();
        let (mut at, mut i) = (0, 0);
        while at < bytes.len() {
            let n = cuts[i % cuts.len()].min(bytes.len() - at);
            pieces.extend(st.feed(&bytes[at..at + n]).unwrap());
            at += n;
            i += 1;
        }
        pieces.extend(st.end().unwrap());
        let expected = parts.concat().replace(key, REDACTED);
        prop_assert_eq!(pieces.concat(), expected.clone());
        for p in &pieces {
            prop_assert!(!p.contains(key));
        }
        let content = st.finish().unwrap().content.unwrap_or_default();
        prop_assert_eq!(content, expected);
    }
}
