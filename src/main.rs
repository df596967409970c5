//! The memscope command line: parses flags, sets up logging to a file, and hands over to a face.

use std::process::ExitCode;

use clap::Parser;

use memscope::cli as commands;
use memscope::cli::args::{
    AgentsCmd, ArchivalCmd, Cli, Cmd, model_for, no_model_flags, refuse_idle_flags,
};
use memscope::config::{self, CommonArgs, ModelArgs, Resolved};
use memscope::session::Failure;
use memscope::tui;

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
        theme: tui::theme::choose(
            theme,
            cfg.theme.clone(),
            std::env::var("NO_COLOR").ok().as_deref(),
        ),
        keys: cfg.keys.clone(),
        watch,
    }
}

fn resolve(common: &CommonArgs, model: &ModelArgs) -> Result<Resolved, Failure> {
    config::resolve(common, model, &|k| std::env::var(k).ok()).map_err(Failure::start)
}

/// `memscope completions SHELL`: clap_complete panics on a write error, so the script is made
/// in memory and written the way every command writes (a closed pipe is not an error).
fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) -> Result<(), Failure> {
    let mut cmd = memscope::cli::args::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "memscope", &mut script);
    out.write_all(&script)
        .and_then(|_| out.flush())
        .map_err(Failure::output)
}

/// `memscope migrate`: `--agent NAME` means what `--name NAME` does (it used to be accepted and
/// ignored); `--store` names neither side and is refused.
fn migrate(
    common: &CommonArgs,
    from: &std::path::Path,
    to: &std::path::Path,
    names: Vec<String>,
    out: &mut dyn std::io::Write,
) -> Result<(), Failure> {
    if common.store.is_some() {
        return Err(Failure::start(
            "`memscope migrate` copies from --from into --to; --store does nothing there",
        ));
    }
    let names: Vec<String> = names.into_iter().chain(common.agent.clone()).collect();
    commands::migrate(from, to, &names, out)
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    refuse_idle_flags(&cli)?;
    let mut stdout = std::io::stdout();
    match cli.command {
        Some(Cmd::Run { model }) => {
            let cfg = resolve(&cli.common, &model_for(&cli.model, &model))?;
            commands::run(cfg, &mut stdout).await
        }
        Some(Cmd::Dump { json, count }) => {
            let model = model_for(&cli.model, &ModelArgs::from(&count));
            commands::dump(&resolve(&cli.common, &model)?, json, &mut stdout)
        }
        Some(Cmd::Check { repair }) => {
            no_model_flags(&cli.model, "check")?;
            commands::check(&resolve(&cli.common, &cli.model)?, repair, &mut stdout)
        }
        Some(Cmd::Completions { shell }) => completions(shell, &mut stdout),
        Some(Cmd::Man) => clap_mangen::Man::new(memscope::cli::args::command())
            .render(&mut stdout)
            .map_err(Failure::output),
        Some(Cmd::Archival {
            action: ArchivalCmd::Reembed { model },
        }) => {
            commands::archival_reembed(
                &resolve(&cli.common, &model_for(&cli.model, &model))?,
                &mut stdout,
            )
            .await
        }
        Some(Cmd::Archival {
            action: ArchivalCmd::Insert { text, model },
        }) => {
            let text = if text == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| Failure::start(format!("cannot read standard input: {e}")))?
            } else {
                text
            };
            commands::archival_insert(
                &resolve(&cli.common, &model_for(&cli.model, &model))?,
                &text,
                &mut stdout,
            )
            .await
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
                &resolve(&cli.common, &model_for(&cli.model, &model))?,
                &query,
                page,
                json,
                &mut stdout,
            )
            .await
        }
        Some(Cmd::Agents { action }) => {
            no_model_flags(&cli.model, "agents")?;
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
            let cfg = resolve(&cli.common, &model_for(&cli.model, &model))?;
            commands::run_commands(cfg, vec![memscope::engine::Command::Retry], &mut stdout).await
        }
        Some(Cmd::Migrate { from, to, names }) => {
            no_model_flags(&cli.model, "migrate")?;
            migrate(&cli.common, &from, &to, names, &mut stdout)
        }
        Some(Cmd::Replay {
            step,
            request,
            json,
            model,
        }) => {
            commands::replay(
                &resolve(&cli.common, &model_for(&cli.model, &model))?,
                step,
                request.as_deref(),
                json,
                &mut stdout,
            )
            .await
        }
        Some(Cmd::Export { format, out, model }) => commands::export(
            &resolve(&cli.common, &model_for(&cli.model, &model))?,
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
            let cfg = resolve(&cli.common, &model_for(&cli.model, &model))?;
            commands::load(&cfg, &paths, chunk_tokens, json, &mut stdout).await
        }
        Some(Cmd::Import { file, json, model }) => {
            let cfg = resolve(&cli.common, &model_for(&cli.model, &model))?;
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
    // No indexing thread may hold a store as the process ends: it would not be closed cleanly.
    memscope::store::stop_indexing();
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
