//! The command line's grammar: every command, flag and argument, with its help text.
//!
//! Contract: this is the one definition `main` parses with and `completions` and `man` are
//! generated from, so the three never disagree. Every option has help text (a test walks the
//! tree). Model flags act where a model is talked to; given before a subcommand they count
//! as that subcommand's ([`model_for`]), and one that does not talk to a model refuses them.

use clap::{Parser, Subcommand};

use crate::config::{CommonArgs, CountArgs, ModelArgs};
use crate::session::Failure;

#[derive(Parser)]
#[command(
    name = "memscope",
    version,
    about = "A terminal memory inspector for LLM agents that manage their own memory",
    long_about = "A terminal memory inspector for LLM agents that manage their own memory \
                  (MemGPT-style).\n\nWithout a subcommand, memscope opens the TUI on the \
                  default store and agent. A model endpoint comes from --base-url or \
                  --provider, OPENAI_BASE_URL / OPENAI_API_KEY, or the config file \
                  (~/.config/memscope/config.toml, or MEMSCOPE_CONFIG); with none, memscope \
                  looks for a local server (llama.cpp, Ollama, vLLM, LM Studio). In the TUI, \
                  ? lists the keys and / commands; /agents, /model and /endpoint change the \
                  agent or the model without restarting.",
    after_long_help = "Environment:\n  OPENAI_BASE_URL, OPENAI_API_KEY  the endpoint and its key (a key is never a \
                       flag)\n  MEMSCOPE_CONFIG  the config file\n  MEMSCOPE_LOG     log filter (e.g. \
                       memscope=debug), else RUST_LOG; the log is memscope.log in the state dir\n  \
                       NO_COLOR         draw without colour (the mono theme)\n\nExit status:\n  0  \
                       done (also when a reader such as `head` closed the output early)\n  1  \
                       failed while working (a model or store error, damage found by check)\n  \
                       2  could not start: bad flags or config, unknown agent, store in use, \
                       endpoint unreachable"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Colour theme: dark, light, high-contrast, mono (no colour; the default when NO_COLOR is
    /// set), or your own in the config dir's themes/.
    #[arg(long)]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Open the TUI read-only on a store another memscope process is writing, and follow it.
    Watch {
        /// Colour theme (as for the TUI).
        #[arg(long)]
        theme: Option<String>,
    },
    /// Read one user message per line on stdin; print every event as a JSON line on stdout.
    Run {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Print the agent's whole state.
    Dump {
        /// As one JSON document.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        count: CountArgs,
    },
    /// Read every record of the store and report any that cannot be read (exit 1 if some).
    Check {
        /// Move unreadable records aside into a quarantine table (never deleted), so the rest
        /// is usable.
        #[arg(long)]
        repair: bool,
    },
    /// Seed or check archival memory by hand.
    Archival {
        #[command(subcommand)]
        action: ArchivalCmd,
    },
    /// List, create or delete the agents in a store.
    Agents {
        #[command(subcommand)]
        action: Option<AgentsCmd>,
    },
    /// List every model call of the agent (steps numbered as the events' `step`).
    Steps {
        /// As one JSON document: `{"agent", "steps": [one object a call]}`.
        #[arg(long)]
        json: bool,
    },
    /// One model call: the request exactly as sent, the reply, the memory it left.
    Step {
        /// The step number (as `memscope steps` lists them).
        n: u64,
        /// As one JSON document (the request exactly as sent under `request`).
        #[arg(long)]
        json: bool,
    },
    /// What changed in the context from step A to step B.
    Diff {
        /// The earlier step.
        a: u64,
        /// The later step.
        b: u64,
        /// As one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Make a new agent from this one as it was right after a step (the original is untouched).
    Fork {
        /// The step whose end the new agent starts from.
        #[arg(long = "from-step")]
        from_step: u64,
        /// The new agent's name.
        new_agent: String,
    },
    /// Take the agent back to right after a step; what it drops is kept as the agent NAME@undo-K.
    Rewind {
        /// The step to go back to the end of.
        #[arg(long = "to-step")]
        to_step: u64,
    },
    /// Send the last user message again from the state before it (no duplicate message).
    Retry {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Drop the last user message and all that followed (kept as the agent NAME@undo-K).
    Pop,
    /// Replace the agent's last inner thought.
    Rethink {
        /// The new inner thought.
        text: String,
    },
    /// Replace what the agent last said with send_message.
    Rewrite {
        /// The new message.
        text: String,
    },
    /// Write the agent out: a Markdown transcript (md), memscope's lossless JSON (json), or
    /// Letta's Agent File (af).
    Export {
        /// md (a readable transcript), json (memscope's own, lossless) or af (Agent File).
        #[arg(long, default_value = "json")]
        format: crate::transfer::Format,
        /// Write to FILE (replaced only once the export is complete) instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Load documents into archival memory: files, directories (recursively) or `-` for
    /// stdin; text, Markdown, source code and HTML, split into passages of about
    /// --chunk-tokens tokens (embedded when an embedding model is configured). What the agent
    /// already holds is left out, so loading again adds only what changed.
    Load {
        /// Files and directories to load, or `-` for standard input.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// The most tokens in one passage.
        #[arg(long, default_value_t = crate::transfer::load::DEFAULT_CHUNK_TOKENS)]
        chunk_tokens: u32,
        /// Print the load's events as JSON lines on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Make a new agent from a memscope JSON export or a Letta Agent File (current or legacy
    /// schema); --agent names it (default: the name in the file). `-` reads stdin.
    Import {
        /// The file to read, or `-` for standard input.
        file: std::path::PathBuf,
        /// Say what was made as one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Copy agents from one store to another, row for row and byte for byte (state, memory,
    /// traces, journal), each agent in one transaction; the source is only read. Every name is
    /// checked in both stores before anything is written.
    Migrate {
        /// The store to copy from.
        #[arg(long)]
        from: std::path::PathBuf,
        /// The store to copy into (made when absent).
        #[arg(long)]
        to: std::path::PathBuf,
        /// Copy only this agent (again for more); every agent when none is named.
        #[arg(long = "name", value_name = "NAME")]
        names: Vec<String>,
    },
    /// Send a recorded step's request again, to this or another endpoint and model; nothing
    /// is saved.
    Replay {
        /// The step whose request is sent again.
        #[arg(long)]
        step: u64,
        /// Send this JSON body instead of the recorded one (edit `memscope step N --json`'s
        /// `request`).
        #[arg(long)]
        request: Option<std::path::PathBuf>,
        /// Print the reply as one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Print a completion script for SHELL on stdout (e.g. `memscope completions bash >
    /// ~/.local/share/bash-completion/completions/memscope`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `memscope man > memscope.1`.
    Man,
}

#[derive(Subcommand)]
pub enum ArchivalCmd {
    /// Save TEXT as archival passages (`-` reads it from stdin).
    Insert {
        /// The text to save, or `-` to read it from standard input.
        text: String,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Search archival memory the way the agent does.
    Search {
        /// Words (or, with an embedding model, a meaning) to look for.
        query: String,
        /// Page of results, 0 for the first.
        #[arg(long, default_value_t = 0)]
        page: usize,
        /// As one JSON document.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Embed again, with the configured embedding model, every passage embedded with another
    /// one (or none); progress goes to stderr.
    Reembed {
        #[command(flatten)]
        model: ModelArgs,
    },
}

#[derive(Subcommand)]
pub enum AgentsCmd {
    /// Each agent with its steps, messages, passages and when it was made.
    List,
    /// Make a new, empty agent (the only way, besides the TUI, to make one other than
    /// `default`).
    Create {
        /// Printable, not empty, not taken.
        name: String,
    },
    /// Delete an agent and all its memory (asks first on a terminal; --yes otherwise).
    Delete {
        /// The agent to delete.
        name: String,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
}

/// The model flags a subcommand acts on: its own, with any given before it (`memscope
/// --base-url URL run`) filling the rest in.
pub fn model_for(top: &ModelArgs, sub: &ModelArgs) -> ModelArgs {
    sub.clone().or(top)
}

/// Refuses model flags given before a subcommand that talks to no model.
pub fn no_model_flags(top: &ModelArgs, command: &str) -> Result<(), Failure> {
    if *top == ModelArgs::default() {
        return Ok(());
    }
    Err(Failure::start(format!(
        "`memscope {command}` talks to no model: its model flags (--base-url, --model, …) do \
         nothing; leave them out"
    )))
}

/// Refuses the model flags of a command that talks to no model but counts tokens as a model
/// would (`watch`): only --model, --context-window and --token-counter do something there.
pub fn only_count_flags(top: &ModelArgs, command: &str) -> Result<(), Failure> {
    let counting = ModelArgs {
        model: top.model.clone(),
        context_window: top.context_window,
        token_counter: top.token_counter.clone(),
        ..Default::default()
    };
    if *top == counting {
        return Ok(());
    }
    Err(Failure::start(format!(
        "`memscope {command}` talks to no model: only --model, --context-window and \
         --token-counter (how it counts tokens) do something there; leave the others out"
    )))
}

impl Cmd {
    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Cmd::Watch { .. } => "watch",
            Cmd::Run { .. } => "run",
            Cmd::Dump { .. } => "dump",
            Cmd::Check { .. } => "check",
            Cmd::Archival { .. } => "archival",
            Cmd::Agents { .. } => "agents",
            Cmd::Steps { .. } => "steps",
            Cmd::Step { .. } => "step",
            Cmd::Diff { .. } => "diff",
            Cmd::Fork { .. } => "fork",
            Cmd::Rewind { .. } => "rewind",
            Cmd::Retry { .. } => "retry",
            Cmd::Pop => "pop",
            Cmd::Rethink { .. } => "rethink",
            Cmd::Rewrite { .. } => "rewrite",
            Cmd::Export { .. } => "export",
            Cmd::Load { .. } => "load",
            Cmd::Import { .. } => "import",
            Cmd::Migrate { .. } => "migrate",
            Cmd::Replay { .. } => "replay",
            Cmd::Completions { .. } => "completions",
            Cmd::Man => "man",
        }
    }
}

/// Refuses the flags given before `command` that do nothing there: --theme before anything but
/// `watch`, model flags before the history commands (which read the store and call no model),
/// any but the counting ones before `watch`. Commands that take model flags of their own, or
/// refuse them themselves, are left to do so.
pub fn refuse_idle_flags(cli: &Cli) -> Result<(), Failure> {
    let Some(cmd) = &cli.command else {
        return Ok(());
    };
    let name = cmd.name();
    match cmd {
        Cmd::Watch { .. } => return only_count_flags(&cli.model, name),
        Cmd::Steps { .. }
        | Cmd::Step { .. }
        | Cmd::Diff { .. }
        | Cmd::Fork { .. }
        | Cmd::Rewind { .. }
        | Cmd::Pop
        | Cmd::Rethink { .. }
        | Cmd::Rewrite { .. }
        | Cmd::Completions { .. }
        | Cmd::Man => no_model_flags(&cli.model, name)?,
        _ => {}
    }
    no_theme(&cli.theme, name)
}

/// Refuses --theme before a command that draws nothing.
pub fn no_theme(theme: &Option<String>, command: &str) -> Result<(), Failure> {
    match theme {
        None => Ok(()),
        Some(_) => Err(Failure::start(format!(
            "`memscope {command}` draws no screen: --theme is for the TUI and `watch`; leave it out"
        ))),
    }
}

/// The whole command tree (for completions and the man page).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_is_sound_and_every_option_says_what_it_does() {
        let cmd = command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in c.get_subcommands() {
                if s.get_name() == "help" {
                    continue;
                }
                if s.get_about().is_none() {
                    missing.push(format!("{path} {} (the command)", s.get_name()));
                }
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        walk(&cmd, "memscope", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn enumerated_flags_list_their_values() {
        let mut cmd = command();
        let help = cmd.render_long_help().to_string();
        for values in [
            "openai, llamacpp, ollama, vllm, lmstudio, openrouter",
            "native, json",
            "recompile, append",
            "auto, local",
        ] {
            assert!(help.contains(values), "{values} not listed in:\n{help}");
        }
        let e = Cli::try_parse_from(["memscope", "--tool-mode", "xml"])
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("possible values: native, json"),
            "{e}"
        );
    }

    #[test]
    fn model_flags_before_a_subcommand_count_as_its_own() {
        let cli = Cli::try_parse_from([
            "memscope",
            "--base-url",
            "http://h:1/v1",
            "run",
            "--model",
            "m",
        ])
        .unwrap();
        let Some(Cmd::Run { model }) = &cli.command else {
            panic!()
        };
        let m = model_for(&cli.model, model);
        assert_eq!(m.base_url.as_deref(), Some("http://h:1/v1"));
        assert_eq!(m.model.as_deref(), Some("m"));
        assert!(no_model_flags(&cli.model, "steps").is_err());
        assert!(no_model_flags(&ModelArgs::default(), "steps").is_ok());
    }
}
