//! Splitting long archival text into passages.
//!
//! Contract: chunks are non-empty, at most `max_chars` characters, cover the whole trimmed text
//! in order, and prefer to break at paragraph, then sentence, then word boundaries.

pub const DEFAULT_CHUNK_CHARS: usize = 1500;

pub fn chunk_text(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(16);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.chars().count() <= max_chars {
            out.push(rest.to_string());
            break;
        }
        // Byte offset of the max_chars-th character.
        let hard = rest
            .char_indices()
            .nth(max_chars)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..hard];
        let min_cut = window.len() / 2;
        let cut = ["\n\n", ". ", "! ", "? ", "\n", " "]
            .iter()
            .find_map(|sep| {
                window
                    .rfind(sep)
                    .filter(|&i| i >= min_cut)
                    .map(|i| i + sep.len())
            })
            .unwrap_or(hard);
        let piece = rest[..cut].trim();
        if !piece.is_empty() {
            out.push(piece.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(chunk_text("  hello world ", 100), vec!["hello world"]);
    }

    #[test]
    fn long_text_splits_at_sentences_within_limit() {
        let text = "One sentence here. ".repeat(200);
        let chunks = chunk_text(&text, 100);
        assert!(chunks.len() > 30);
        for c in &chunks {
            assert!(c.chars().count() <= 100);
            assert!(c.ends_with('.'), "{c:?}");
        }
        let joined: String = chunks.join(" ");
        assert_eq!(
            joined.split_whitespace().count(),
            text.split_whitespace().count()
        );
    }

    #[test]
    fn unbroken_multibyte_text_is_cut_on_char_boundaries() {
        let text = "é".repeat(250);
        let chunks = chunk_text(&text, 100);
        assert_eq!(chunks.iter().map(|c| c.chars().count()).sum::<usize>(), 250);
    }
}
