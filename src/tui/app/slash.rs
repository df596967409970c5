//! The commands typed in the input box: `/retry`, `/pop`, `/rethink`, `/rewrite`, `/rewind N`,
//! `/fork N NAME`, `/steps`, `/load PATH...`, `/export FORMAT [FILE]`; agents and models:
//! `/agents`, `/agent NAME`, `/new [NAME]`, `/rename NAME`, `/model NAME`,
//! `/endpoint URL|PROVIDER [MODEL]`, `/system [undo|reset]`.
//!
//! Contract: [`slash`] is pure: it reads one input into what it asks for, or the message to
//! send as it is (text that starts with a path such as `/etc/hosts`; `//text` sends `/text`),
//! or why it cannot be done (an unknown `/word` is refused, never sent). The app carries it
//! out.

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
    OpenAgents,
    SwitchAgent(String),
    /// The new-agent form, with this name filled in.
    NewAgent(String),
    /// The agent in use, renamed.
    RenameAgent(String),
    /// Another endpoint (URL or provider preset) and/or model from now on.
    Model {
        endpoint: Option<String>,
        model: Option<String>,
    },
    OpenInstructions,
}

/// The commands, for the help pop-up: (usage, what it does).
pub const COMMANDS: &[(&str, &str)] = &[
    ("/agents", "the agents view"),
    ("/agent NAME", "switch to another agent"),
    ("/new [NAME]", "make an agent (persona, human, blocks)"),
    ("/rename NAME", "rename the agent in use"),
    ("/model NAME", "use another model from now on"),
    (
        "/endpoint URL|PROVIDER [MODEL]",
        "use another server (ollama, llamacpp…)",
    ),
    (
        "/system [undo|reset]",
        "read or change the system instructions",
    ),
    ("/steps", "every model call; fork and rewind"),
    ("/retry · /pop", "send the last message again · drop it"),
    (
        "/rethink TEXT · /rewrite TEXT",
        "replace the last thought · message",
    ),
    (
        "/rewind N · /fork N NAME",
        "back to step N · a new agent from it",
    ),
    ("/load PATH...", "documents into archival memory"),
    ("/export md|json|af [FILE]", "write the agent out"),
    ("//text", "send a message that starts with /"),
];

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
            Some(rest) => crate::config::home_dir().unwrap_or_default().join(rest),
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
        "/agents" => Slash::OpenAgents,
        "/agent" if arg.is_empty() => Slash::OpenAgents,
        "/agent" => Slash::SwitchAgent(arg.into()),
        "/new" => Slash::NewAgent(arg.into()),
        "/rename" if arg.is_empty() => needs("the new name: /rename NAME"),
        "/rename" => Slash::RenameAgent(arg.into()),
        "/model" if arg.is_empty() => needs("a model name: /model NAME"),
        "/model" => Slash::Model {
            endpoint: None,
            model: Some(arg.into()),
        },
        "/endpoint" if arg.is_empty() => {
            needs("a URL or a provider: /endpoint http://127.0.0.1:8080/v1 [MODEL]")
        }
        "/endpoint" => match arg.split_once(char::is_whitespace) {
            Some((e, m)) => Slash::Model {
                endpoint: Some(e.into()),
                model: Some(m.trim().into()),
            },
            None => Slash::Model {
                endpoint: Some(arg.into()),
                model: None,
            },
        },
        "/system" if arg.is_empty() => Slash::OpenInstructions,
        "/system" if arg == "undo" => Slash::Engine(Command::UndoInstructions),
        "/system" if arg == "reset" => Slash::Engine(Command::SetInstructions(None)),
        "/system" => {
            Slash::Refused("/system opens the instructions; /system undo or /system reset".into())
        }
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
        w if is_command_word(w) || known_words().any(|k| w.starts_with(&format!("{k}/"))) => {
            Slash::Refused(unknown_command(w))
        }
        _ => Slash::Message(text.to_string()),
    }
}

/// A first word shaped like a command (`/word`, letters, digits, `-`, `_`): never sent as a
/// message. Anything else that starts with `/` (a path such as `/etc/hosts`) is a message.
fn is_command_word(word: &str) -> bool {
    word.strip_prefix('/').is_some_and(|w| {
        w.starts_with(|c: char| c.is_ascii_alphabetic())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// The command words of [`COMMANDS`].
fn known_words() -> impl Iterator<Item = &'static str> {
    COMMANDS
        .iter()
        .flat_map(|(usage, _)| usage.split(" · "))
        .filter_map(|u| u.split_whitespace().next())
        .filter(|w| is_command_word(w))
}

/// What an unknown command is told: the nearest known one, and how to send it as a message.
fn unknown_command(word: &str) -> String {
    let near = known_words()
        .map(|k| (edit_distance(word, k), k))
        // Two edits (a swapped pair) only in a longer word: `/foo` is not `/pop`.
        .filter(|(d, _)| *d <= 1 || (*d == 2 && word.chars().count() >= 6))
        .min();
    let hint = near
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    format!(
        "unknown command {word}{hint}: nothing was sent · ? lists the commands · /{word} sends it as a message"
    )
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn an_unknown_command_is_refused_with_the_nearest_known_one() {
        let Slash::Refused(why) = slash("/retyr") else {
            panic!("an unknown command is not a message");
        };
        assert!(why.contains("did you mean /retry?"), "{why}");
        assert!(why.contains("//retyr"), "{why}");
        assert!(matches!(slash("/foo bar"), Slash::Refused(w) if !w.contains("did you mean")));
        // Two commands run together are not a path.
        assert!(matches!(slash("/model/endpoint x"), Slash::Refused(_)));
        assert_eq!(slash("/etc/hosts"), Slash::Message("/etc/hosts".into()));
    }

    #[test]
    fn agents_and_models() {
        assert_eq!(slash("/agent work"), Slash::SwitchAgent("work".into()));
        assert_eq!(slash("/agent"), Slash::OpenAgents);
        assert_eq!(slash("/new"), Slash::NewAgent(String::new()));
        assert!(matches!(slash("/rename"), Slash::Refused(w) if w.contains("/rename NAME")));
        assert_eq!(
            slash("/endpoint ollama qwen3:4b"),
            Slash::Model {
                endpoint: Some("ollama".into()),
                model: Some("qwen3:4b".into())
            }
        );
        assert_eq!(
            slash("/model gpt-4.1"),
            Slash::Model {
                endpoint: None,
                model: Some("gpt-4.1".into())
            }
        );
        assert_eq!(
            slash("/system undo"),
            Slash::Engine(Command::UndoInstructions)
        );
        assert!(matches!(slash("/system please"), Slash::Refused(_)));
    }

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
