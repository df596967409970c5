//! The commands typed in the input box: `/retry`, `/pop`, `/rethink`, `/rewrite`, `/rewind N`,
//! `/fork N NAME`, `/steps`, `/load PATH...`, `/export FORMAT [FILE]`.
//!
//! Contract: [`slash`] is pure: it reads one input into what it asks for, or the message to
//! send as it is (an unknown `/word` is a message; `//text` sends `/text`), or why it cannot
//! be done. The app carries it out.

use super::*;

/// What a `/command` typed in the input box asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Slash {
    Engine(Command),
    OpenSteps,
    /// Not a known command: a message to send as it is.
    Message(String),
    Refused(String),
    /// Write the agent out (to a file named after the agent and the time when none is given).
    Export {
        format: crate::transfer::Format,
        path: Option<std::path::PathBuf>,
    },
}

/// Splits arguments at whitespace; `"..."` or `'...'` keeps spaces in one, and a leading `~/`
/// is the home directory.
pub fn paths(arg: &str) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in arg.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("a {q} is not closed"));
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out
        .into_iter()
        .map(|p| match p.strip_prefix("~/") {
            Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
            None => std::path::PathBuf::from(p),
        })
        .collect())
}

/// Reads one input: a history command, or the message itself (`//text` sends `/text`).
pub fn slash(text: &str) -> Slash {
    let t = text.trim();
    if let Some(rest) = t.strip_prefix("//") {
        return Slash::Message(format!("/{rest}"));
    }
    let (word, arg) = match t.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (t, ""),
    };
    let needs = |what: &str| Slash::Refused(format!("{word} needs {what}"));
    match word {
        "/retry" => Slash::Engine(Command::Retry),
        "/pop" => Slash::Engine(Command::Pop),
        "/steps" => Slash::OpenSteps,
        "/rethink" if arg.is_empty() => needs("the new inner thought: /rethink TEXT"),
        "/rethink" => Slash::Engine(Command::Rethink(arg.into())),
        "/rewrite" if arg.is_empty() => needs("the new message: /rewrite TEXT"),
        "/rewrite" => Slash::Engine(Command::Rewrite(arg.into())),
        "/rewind" => match arg.parse() {
            Ok(step) => Slash::Engine(Command::Rewind(step)),
            Err(_) => needs("a step number: /rewind N"),
        },
        "/fork" => match arg.split_once(char::is_whitespace) {
            Some((n, name)) if n.parse::<u64>().is_ok() && !name.trim().is_empty() => {
                Slash::Engine(Command::Fork {
                    step: n.parse().expect("checked"),
                    name: name.trim().into(),
                })
            }
            _ => needs("a step and a name: /fork N NAME"),
        },
        "/load" => match paths(arg) {
            Ok(p) if p.is_empty() => needs("a file or a directory: /load PATH..."),
            Ok(p) if p.iter().any(|p| p.as_os_str() == "-") => Slash::Refused(
                "/load reads files and directories; `-` (standard input) is for `memscope load -`"
                    .into(),
            ),
            Ok(p) => Slash::Engine(Command::Load {
                paths: p,
                chunk_tokens: crate::transfer::load::DEFAULT_CHUNK_TOKENS,
            }),
            Err(e) => Slash::Refused(format!("/load: {e}")),
        },
        "/export" => {
            let (format, file) = match arg.split_once(char::is_whitespace) {
                Some((f, rest)) => (f, rest.trim()),
                None => (arg, ""),
            };
            if format.is_empty() {
                return needs("a format: /export md|json|af [FILE]");
            }
            let format = match format.parse() {
                Ok(f) => f,
                Err(e) => return Slash::Refused(e),
            };
            match paths(file) {
                Ok(p) if p.len() > 1 => needs("one file: /export FORMAT [FILE]"),
                Ok(p) => Slash::Export {
                    format,
                    path: p.into_iter().next(),
                },
                Err(e) => Slash::Refused(format!("/export: {e}")),
            }
        }
        _ => Slash::Message(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn load_takes_paths_quoted_or_not() {
        assert_eq!(
            slash(r#"/load notes "my docs/a.md" 'x y'"#),
            Slash::Engine(Command::Load {
                paths: vec!["notes".into(), "my docs/a.md".into(), "x y".into()],
                chunk_tokens: crate::transfer::load::DEFAULT_CHUNK_TOKENS,
            })
        );
        assert!(matches!(slash("/load"), Slash::Refused(w) if w.contains("/load PATH")));
        assert!(matches!(slash("/load -"), Slash::Refused(w) if w.contains("memscope load -")));
        assert!(matches!(slash("/load \"a"), Slash::Refused(w) if w.contains("not closed")));
    }

    #[test]
    fn export_takes_a_format_and_maybe_a_file() {
        assert_eq!(
            slash("/export md"),
            Slash::Export {
                format: crate::transfer::Format::Markdown,
                path: None
            }
        );
        assert_eq!(
            slash("/export af out/agent.af"),
            Slash::Export {
                format: crate::transfer::Format::AgentFile,
                path: Some(PathBuf::from("out/agent.af"))
            }
        );
        assert!(matches!(slash("/export pdf"), Slash::Refused(w) if w.contains("md, json or af")));
        assert!(matches!(slash("/export"), Slash::Refused(w) if w.contains("a format")));
    }
}
