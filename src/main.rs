//! The memscope command line: parses flags, sets up logging to a file, and hands over to a face.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use memscope::cli as commands;
use memscope::config::{self, CommonArgs, ModelArgs, Resolved};
use memscope::session::Failure;
use memscope::tui;

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
                  looks for a local server (llama.cpp, Ollama, vLLM, LM Studio). Subcommand \
                  flags go after the subcommand: `memscope load --agent work notes/`."
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Colour theme: dark, light, high-contrast, or your own in the config dir's themes/.
    #[arg(long)]
    theme: Option<String>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Open the TUI read-only on a store another memscope process is writing, and follow it.
    Watch {
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
        model: ModelArgs,
    },
    /// Read every record of the store and report any that cannot be read (exit 1 if some).
    Check {
        /// Move unreadable records aside into a quarantine table (never deleted), so the rest
        /// is usable.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        model: ModelArgs,
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
        #[arg(long)]
        json: bool,
    },
    /// One model call: the request exactly as sent, the reply, the memory it left.
    Step {
        n: u64,
        #[arg(long)]
        json: bool,
    },
    /// What changed in the context from step A to step B.
    Diff {
        a: u64,
        b: u64,
        #[arg(long)]
        json: bool,
    },
    /// Make a new agent from this one as it was right after a step (the original is untouched).
    Fork {
        #[arg(long = "from-step")]
        from_step: u64,
        new_agent: String,
    },
    /// Take the agent back to right after a step; what it drops is kept as the agent NAME@undo-K.
    Rewind {
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
    Rethink { text: String },
    /// Replace what the agent last said with send_message.
    Rewrite { text: String },
    /// Write the agent out: a Markdown transcript (md), memscope's lossless JSON (json), or
    /// Letta's Agent File (af).
    Export {
        #[arg(long, default_value = "json")]
        format: memscope::transfer::Format,
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
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// The most tokens in one passage.
        #[arg(long, default_value_t = memscope::transfer::load::DEFAULT_CHUNK_TOKENS)]
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
        file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Send a recorded step's request again, to this or another endpoint and model; nothing
    /// is saved.
    Replay {
        #[arg(long)]
        step: u64,
        /// Send this JSON body instead of the recorded one (edit `memscope step N --json`'s
        /// `request`).
        #[arg(long)]
        request: Option<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        model: ModelArgs,
    },
}

#[derive(Subcommand)]
enum ArchivalCmd {
    /// Save TEXT as archival passages (`-` reads it from stdin).
    Insert {
        text: String,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Search archival memory the way the agent does.
    Search {
        query: String,
        /// Page of results, 0 for the first.
        #[arg(long, default_value_t = 0)]
        page: usize,
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
enum AgentsCmd {
    List,
    Create {
        name: String,
    },
    /// Delete an agent and all its memory (asks first on a terminal; --yes otherwise).
    Delete {
        name: String,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
}

fn init_logging() {
    let dir = config::state_dir();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let Ok(file) = opts.open(dir.join("memscope.log")) else {
        return;
    };
    // MEMSCOPE_LOG, else RUST_LOG, else memscope's own events at info.
    let filter = tracing_subscriber::EnvFilter::try_from_env("MEMSCOPE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("memscope=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(SafeLog(std::sync::Mutex::new(file)))
        .try_init();
    tracing::debug!(version = env!("CARGO_PKG_VERSION"), "memscope starting");
}

/// The log file writer: control characters in what is logged (model text can end up in error
/// messages) are written as visible escapes, never raw.
struct SafeLog(std::sync::Mutex<std::fs::File>);

struct SafeLogLine<'a>(std::sync::MutexGuard<'a, std::fs::File>);

impl std::io::Write for SafeLogLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = memscope::text::visible(&String::from_utf8_lossy(buf));
        self.0.write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SafeLog {
    type Writer = SafeLogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        SafeLogLine(self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn tui_options(cfg: &Resolved, theme: Option<String>, watch: bool) -> tui::TuiOptions {
    tui::TuiOptions {
        theme: theme
            .or_else(|| cfg.theme.clone())
            .unwrap_or_else(|| "dark".into()),
        keys: cfg.keys.clone(),
        watch,
    }
}

fn resolve(common: &CommonArgs, model: &ModelArgs) -> Result<Resolved, Failure> {
    config::resolve(common, model, &|k| std::env::var(k).ok()).map_err(Failure::start)
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let mut stdout = std::io::stdout();
    match cli.command {
        Some(Cmd::Run { model }) => {
            let cfg = resolve(&cli.common, &model)?;
            commands::run(cfg, &mut stdout).await
        }
        Some(Cmd::Dump { json, model }) => {
            commands::dump(&resolve(&cli.common, &model)?, json, &mut stdout)
        }
        Some(Cmd::Check { repair, model }) => {
            commands::check(&resolve(&cli.common, &model)?, repair, &mut stdout)
        }
        Some(Cmd::Archival {
            action: ArchivalCmd::Reembed { model },
        }) => commands::archival_reembed(&resolve(&cli.common, &model)?, &mut stdout).await,
        Some(Cmd::Archival {
            action: ArchivalCmd::Insert { text, model },
        }) => {
            let text = if text == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| Failure::start(format!("cannot read standard input: {e}")))?
            } else {
                text
            };
            commands::archival_insert(&resolve(&cli.common, &model)?, &text, &mut stdout).await
        }
        Some(Cmd::Archival {
            action:
                ArchivalCmd::Search {
                    query,
                    page,
                    json,
                    model,
                },
        }) => {
            commands::archival_search(
                &resolve(&cli.common, &model)?,
                &query,
                page,
                json,
                &mut stdout,
            )
            .await
        }
        Some(Cmd::Agents { action }) => {
            let cfg = resolve(&cli.common, &ModelArgs::default())?;
            match action {
                None | Some(AgentsCmd::List) => commands::agents_list(&cfg, &mut stdout),
                Some(AgentsCmd::Create { name }) => {
                    commands::agents_create(&cfg, &name, &mut stdout)
                }
                Some(AgentsCmd::Delete { name, yes }) => {
                    commands::agents_delete(&cfg, &name, yes, &mut stdout)
                }
            }
        }
        Some(Cmd::Steps { json }) => {
            commands::steps(&resolve(&cli.common, &cli.model)?, json, &mut stdout)
        }
        Some(Cmd::Step { n, json }) => {
            commands::step(&resolve(&cli.common, &cli.model)?, n, json, &mut stdout)
        }
        Some(Cmd::Diff { a, b, json }) => {
            commands::diff(&resolve(&cli.common, &cli.model)?, a, b, json, &mut stdout)
        }
        Some(Cmd::Fork {
            from_step,
            new_agent,
        }) => commands::fork(
            &resolve(&cli.common, &cli.model)?,
            from_step,
            &new_agent,
            &mut stdout,
        ),
        Some(Cmd::Rewind { to_step }) => {
            commands::rewind(&resolve(&cli.common, &cli.model)?, to_step, &mut stdout)
        }
        Some(Cmd::Pop) => commands::pop(&resolve(&cli.common, &cli.model)?, &mut stdout),
        Some(Cmd::Rethink { text }) => commands::edit_reply(
            &resolve(&cli.common, &cli.model)?,
            false,
            &text,
            &mut stdout,
        ),
        Some(Cmd::Rewrite { text }) => {
            commands::edit_reply(&resolve(&cli.common, &cli.model)?, true, &text, &mut stdout)
        }
        Some(Cmd::Retry { model }) => {
            let cfg = resolve(&cli.common, &model)?;
            commands::run_commands(cfg, vec![memscope::engine::Command::Retry], &mut stdout).await
        }
        Some(Cmd::Replay {
            step,
            request,
            json,
            model,
        }) => {
            commands::replay(
                &resolve(&cli.common, &model)?,
                step,
                request.as_deref(),
                json,
                &mut stdout,
            )
            .await
        }
        Some(Cmd::Export { format, out, model }) => commands::export(
            &resolve(&cli.common, &model)?,
            format,
            out.as_deref(),
            &mut stdout,
        ),
        Some(Cmd::Load {
            paths,
            chunk_tokens,
            json,
            model,
        }) => {
            let cfg = resolve(&cli.common, &model)?;
            commands::load(&cfg, &paths, chunk_tokens, json, &mut stdout).await
        }
        Some(Cmd::Import { file, json, model }) => {
            let cfg = resolve(&cli.common, &model)?;
            commands::import(&cfg, &file, cli.common.agent.as_deref(), json, &mut stdout)
        }
        Some(Cmd::Watch { theme }) => {
            let cfg = resolve(&cli.common, &cli.model)?;
            let opts = tui_options(&cfg, theme.or(cli.theme), true);
            tui::run(cfg, opts).await
        }
        None => {
            let cfg = resolve(&cli.common, &cli.model)?;
            let opts = tui_options(&cfg, cli.theme, false);
            tui::run(cfg, opts).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("memscope: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(dispatch(cli));
    // A blocking read of stdin (`memscope run` stopped by a signal) never ends by itself; the
    // faces have already waited for everything that writes.
    rt.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away early (`dump | head`): nothing to say.
        Err(f) if f.code == 0 => ExitCode::SUCCESS,
        Err(f) => {
            tracing::error!(code = f.code, "{}", f.message);
            eprintln!("memscope: {}", f.message);
            ExitCode::from(f.code as u8)
        }
    }
}
