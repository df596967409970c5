//! The commands typed in the input box: `/retry`, `/pop`, `/rethink`, `/rewrite`, `/rewind N`,
//! `/fork N NAME`, `/steps`, `/load PATH...`, `/export FORMAT [FILE]`; agents and models:
//! `/agents`, `/agent NAME`, `/new [NAME]`, `/rename NAME`, `/model NAME`,
//! `/endpoint URL|PROVIDER [MODEL]`, `/system [undo|reset]`.
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
        _ => Slash::Message(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
