//! What `memscope run` makes of one line of standard input.
//!
//! Contract: [`take_line`] is pure. It decides per kind of bad input, deliberately:
//! - **Invalid UTF-8 is refused.** Guessing would send the model text the user never wrote, so
//!   the line is not sent and an error names the line and the first bad byte.
//! - **NUL and other control bytes are removed** (tab stays). They carry no meaning for a
//!   model, and removing them loses nothing the user could read. A warning says how many.
//! - **Lines over [`MAX_LINE_BYTES`] are refused** unread (memory stays bounded). A line under
//!   that limit that is too long for the context window is sent: the engine keeps it whole in
//!   recall and archival memory and gives the model what fits.

/// The longest line `run` reads (32 MiB).
pub const MAX_LINE_BYTES: usize = 32 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Nothing to send (blank).
    Blank,
    /// Text to send, with how many control characters were removed from it.
    Text { text: String, removed: usize },
    /// Not sent, and why.
    Refused(String),
}

/// One line as read (without its newline), numbered from 1.
pub fn take_line(n: usize, bytes: &[u8], overflowed: bool) -> Line {
    if overflowed {
        return Line::Refused(format!(
            "input line {n} is longer than {} MiB; it was not read or sent",
            MAX_LINE_BYTES >> 20
        ));
    }
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            return Line::Refused(format!(
                "input line {n} is not valid UTF-8 (byte 0x{:02x} at offset {at}); it was not sent: \
                 send text as UTF-8",
                bytes[at]
            ));
        }
    };
    let kept: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect();
    let removed = text.chars().count() - kept.chars().count();
    if kept.trim().is_empty() {
        return match removed {
            0 => Line::Blank,
            _ => Line::Refused(format!(
                "input line {n} held only control characters; nothing was sent"
            )),
        };
    }
    Line::Text {
        text: kept,
        removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_bad_input_gets_its_own_answer() {
        assert_eq!(
            take_line(1, b"hello\r", false),
            Line::Text {
                text: "hello".into(),
                removed: 0
            }
        );
        assert_eq!(take_line(2, b"   ", false), Line::Blank);
        let Line::Refused(why) = take_line(3, b"hello \xff\xfe bad", false) else {
            panic!()
        };
        assert!(
            why.contains("line 3") && why.contains("0xff at offset 6"),
            "{why}"
        );
        assert_eq!(
            take_line(4, b"a\x00b\x1b[2Jc\td", false),
            Line::Text {
                text: "ab[2Jc\td".into(),
                removed: 2
            }
        );
        assert!(matches!(take_line(5, b"\x00\x07", false), Line::Refused(_)));
        assert!(matches!(take_line(6, b"", true), Line::Refused(w) if w.contains("32 MiB")));
    }
}
