//! `memscope load PATH...`: documents into the agent's archival memory.
//!
//! Progress goes to stderr: a bar with rate and time left when stderr is a terminal, a plain
//! line per file otherwise; `--json` prints every load event as one JSON object per line on
//! stdout instead. Ctrl-C stops the load after the batch in flight; what was committed stays.
//! The summary line goes to stdout. The load fails (exit 1) only when there were files and
//! none could be read. A store another memscope is writing is refused with what to do instead.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Resolved;
use crate::engine::load::LoadSink;
use crate::model::ModelClient;
use crate::protocol::{Event, EventKind};
use crate::session::{Failure, Outcome};
use crate::store::{Store, StoreError};
use crate::transfer::load::read;

fn out_err(e: std::io::Error) -> Failure {
    Failure::output(e)
}

pub async fn load(
    cfg: &Resolved,
    paths: &[PathBuf],
    chunk_tokens: u32,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Outcome {
    let store = match Store::open(&cfg.store) {
        Ok(s) => s,
        Err(StoreError::InUse(path)) => {
            return Err(Failure::start(format!(
                "another memscope is writing the store {}: load from inside it with `/load PATH` \
                 (type it in the input box), or quit it and run this again",
                path.display()
            )));
        }
        Err(e) => return Err(Failure::start(e)),
    };
    let mut agent = crate::session::open_for_writing(cfg, store)?;
    let client = match cfg.client.clone().filter(|c| c.embedding_model.is_some()) {
        Some(c) => Some(ModelClient::new(c).map_err(Failure::start)?),
        None => None,
    };
    let plan = read::plan(paths);
    let loader = agent
        .loader_for(plan, chunk_tokens)
        .map_err(Failure::runtime)?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
            }
        })
    };
    let mut sink = CliSink {
        stop,
        json,
        out,
        bar: None,
        plain_done: 0,
        failed: None,
    };
    let summary = agent
        .load_documents(loader, client.as_ref(), &mut sink)
        .await;
    watcher.abort();
    if let Some(bar) = sink.bar.take() {
        bar.finish_and_clear();
    }
    if let Some(e) = sink.failed.take() {
        return Err(out_err(e));
    }
    let summary = summary.map_err(Failure::runtime)?;
    if !json {
        writeln!(sink.out, "{}", summary.message).map_err(out_err)?;
    }
    if summary.files > 0 && summary.skipped == summary.files {
        return Err(Failure::runtime("none of the files could be loaded"));
    }
    Ok(())
}

struct CliSink<'a> {
    stop: Arc<AtomicBool>,
    json: bool,
    out: &'a mut (dyn Write + Send),
    bar: Option<indicatif::ProgressBar>,
    /// Files done when the last plain line was printed.
    plain_done: usize,
    /// Writing the JSON lines failed.
    failed: Option<std::io::Error>,
}

impl CliSink<'_> {
    fn bar(&mut self, bytes: u64) -> &indicatif::ProgressBar {
        self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(bytes),
                indicatif::ProgressDrawTarget::stderr(),
            );
            let style = indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} · {binary_bytes_per_sec} · {eta} left · {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        })
    }
}

impl LoadSink for CliSink<'_> {
    fn event(&mut self, ev: Event) {
        if self.json {
            if let Err(e) = writeln!(self.out, "{}", ev.to_json_line())
                && self.failed.is_none()
            {
                self.failed = Some(e);
            }
            return;
        }
        let tty = std::io::stderr().is_terminal();
        match &ev.kind {
            EventKind::LoadProgress(p) if tty => {
                let msg = format!(
                    "{}/{} files · {} passages · {}",
                    p.files_done,
                    p.files,
                    p.passages,
                    crate::text::visible(p.current.as_deref().unwrap_or(""))
                );
                let bar = self.bar(p.bytes);
                bar.set_position(p.bytes_done);
                bar.set_message(msg);
            }
            EventKind::LoadProgress(p) if p.files_done > self.plain_done => {
                self.plain_done = p.files_done;
                eprintln!(
                    "loading: {}/{} files, {} passages, {} already held",
                    p.files_done, p.files, p.passages, p.duplicates
                );
            }
            EventKind::LoadSkipped { path, reason } => {
                let line = format!(
                    "skipped {}: {}",
                    crate::text::visible(path),
                    crate::text::visible(reason)
                );
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            _ => {}
        }
    }

    fn stop_requested(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}
