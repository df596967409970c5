//! Tolerant parsing of the JSON arguments a model wrote.
//!
//! Contract: [`parse_lenient`] returns strictly valid JSON untouched. Otherwise it repairs only
//! what is safely repairable, and names each repair: code fences and text around the object,
//! raw control characters inside strings, a truncated end (an open string, a dangling comma or
//! colon, unclosed brackets) and single-quoted JSON. It never panics and is linear in the input.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    pub value: Value,
    /// What was repaired, in words; empty when the input was valid JSON.
    pub repairs: Vec<String>,
}

pub fn parse_lenient(raw: &str) -> Result<Repaired, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(Repaired {
            value: Value::Object(Default::default()),
            repairs: vec!["empty arguments read as {}".into()],
        });
    }
    if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        return Ok(Repaired {
            value,
            repairs: Vec::new(),
        });
    }
    let mut repairs = Vec::new();
    let mut text = trimmed;
    if let Some(inner) = strip_fence(text) {
        repairs.push("code fence removed".to_string());
        text = inner;
    }
    let Some(start) = text.find('{') else {
        return Err(format!(
            "the arguments are not a JSON object: {}",
            crate::text::visible(&crate::text::one_line(text, 80))
        ));
    };
    if !text[..start].trim().is_empty() {
        repairs.push("text before the JSON object removed".to_string());
    }
    let (fixed, mut scan_repairs) = rebalance(&text[start..]);
    repairs.append(&mut scan_repairs);
    match serde_json::from_str::<Value>(&fixed) {
        Ok(value) => Ok(Repaired { value, repairs }),
        Err(first_err) => {
            if !fixed.contains('"') && fixed.contains('\'') {
                let swapped = fixed.replace('\'', "\"");
                let (fixed2, more) = rebalance(&swapped);
                if let Ok(value) = serde_json::from_str::<Value>(&fixed2) {
                    repairs.push("single quotes read as double quotes".to_string());
                    repairs.extend(more);
                    return Ok(Repaired { value, repairs });
                }
            }
            Err(format!("the arguments are not valid JSON ({first_err})"))
        }
    }
}

fn strip_fence(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("```")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let end = rest.rfind("```").unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Escapes raw control characters in strings, cuts text after the first complete value and
/// closes what a truncated value left open.
fn rebalance(s: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(s.len() + 8);
    let mut repairs = Vec::new();
    let mut stack: Vec<char> = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    let mut control_fixed = false;
    let mut end = s.len();
    for (i, c) in s.char_indices() {
        if in_str {
            if escaped {
                escaped = false;
                out.push(c);
            } else if c == '\\' {
                escaped = true;
                out.push(c);
            } else if c == '"' {
                in_str = false;
                out.push(c);
            } else if (c as u32) < 0x20 {
                control_fixed = true;
                match c {
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    other => out.push_str(&format!("\\u{:04x}", other as u32)),
                }
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            // A stray closer is kept for the JSON parser to report.
            '}' | ']' if stack.last() == Some(&c) => {
                stack.pop();
            }
            _ => {}
        }
        out.push(c);
        if stack.is_empty() && (c == '}' || c == ']') {
            end = i + c.len_utf8();
            break;
        }
    }
    if control_fixed {
        repairs.push("raw control characters inside strings escaped".to_string());
    }
    if end < s.len() && !s[end..].trim().is_empty() {
        repairs.push("text after the JSON object removed".to_string());
    }
    if in_str || !stack.is_empty() {
        if in_str {
            if escaped {
                out.pop();
            }
            out.push('"');
        }
        let trimmed_len = out.trim_end().len();
        out.truncate(trimmed_len);
        if out.ends_with(',') {
            out.pop();
        } else if out.ends_with(':') {
            out.push_str("null");
        }
        while let Some(closer) = stack.pop() {
            out.push(closer);
        }
        repairs.push("truncated JSON closed".to_string());
    }
    (out, repairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(raw: &str) -> Repaired {
        parse_lenient(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    #[test]
    fn valid_json_is_untouched() {
        let r = ok(r#"{"message": "hi"}"#);
        assert!(r.repairs.is_empty());
    }

    #[test]
    fn raw_newlines_in_strings_are_escaped() {
        let r = ok("{\"content\": \"line one\nline two\", \"request_heartbeat\": true}");
        assert_eq!(r.value["content"], "line one\nline two");
        assert_eq!(
            r.repairs,
            vec!["raw control characters inside strings escaped"]
        );
    }

    #[test]
    fn truncated_object_is_closed() {
        let r = ok(r#"{"name": "human", "content": "likes te"#);
        assert_eq!(r.value, json!({"name": "human", "content": "likes te"}));
        let r = ok(r#"{"name": "human","#);
        assert_eq!(r.value, json!({"name": "human"}));
    }

    #[test]
    fn trailing_text_and_fences_are_removed() {
        let r = ok("```json\n{\"query\": \"cats\"}\n```");
        assert_eq!(r.value, json!({"query": "cats"}));
        let r = ok("{\"query\": \"cats\"} and then I will answer");
        assert_eq!(r.value, json!({"query": "cats"}));
        assert!(r.repairs.iter().any(|x| x.contains("after")));
    }

    #[test]
    fn single_quotes_are_read() {
        let r = ok("{'query': 'cats', 'request_heartbeat': true}");
        assert_eq!(r.value["query"], "cats");
    }

    #[test]
    fn hopeless_input_is_an_error() {
        assert!(parse_lenient("I think I should search").is_err());
        assert!(parse_lenient("{\"a\": tru}").is_err());
    }
}
