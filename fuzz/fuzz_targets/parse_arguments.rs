//! Fuzzes argument validation (and the tolerant JSON repair under it): any function name and
//! argument text must give a call or a printable error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line names the function; the rest is the argument text.
    let (name, args) = text.split_once('\n').unwrap_or(("send_message", &text));
    match memscope::functions::parse_call(name, args) {
        Ok(p) => assert!(p.arguments.is_object()),
        Err(e) => assert_eq!(memscope::text::visible(&e.message), e.message),
    }
    if let Ok(r) = memscope::functions::repair::parse_lenient(args) {
        assert!(r.value.to_string().len() <= 6 * args.len() + 16);
    }
});
