//! Text helpers for untrusted strings: truncation on character boundaries and making control
//! characters visible.
//!
//! Contract: [`visible`] never returns a C0/C1 control character (other than `\n` and `\t`) or a
//! bidirectional override; each is replaced by a visible escape such as `\u{1b}`, so model text
//! can be printed to a terminal or a log as plain text.

/// Replaces control and bidi-override characters with visible `\u{..}` escapes.
pub fn visible(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Escapes, as JSON `\uXXXX`, the characters serde_json leaves raw that a terminal could act on
/// (C1 controls, bidirectional overrides). Only valid on serde_json output, where such
/// characters can only stand inside strings.
pub fn json_terminal_safe(json: String) -> String {
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `s`; appends a note saying how much was cut.
pub fn truncate(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}… [truncated: {max} of {n} characters shown]")
}

/// First line of `s`, at most `max` characters, for one-line displays.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let head: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

/// `n` and the noun for it: "1 passage", "3 passages" (the plural adds an `s`).
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_made_visible() {
        let s = visible("a\x1b]52;c;AAAA\x07b\u{202e}c\u{9b}d\nok");
        assert!(!s.chars().any(needs_escape));
        assert!(s.contains("\\u{1b}]52") && s.ends_with("\nok"));
    }

    #[test]
    fn truncate_says_so() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert!(truncate(&"x".repeat(50), 10).contains("10 of 50"));
    }
}
