//! The commands typed in the input box: `/retry`, `/pop`, `/rethink`, `/rewrite`, `/rewind N`,
//! `/fork N NAME`, `/steps`.
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
        _ => Slash::Message(text.to_string()),
    }
}

