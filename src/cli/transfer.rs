//! `export` and `import`.
//!
//! An export reads the store as a reader (it works while the TUI or `run` writes it) and
//! writes to standard output or, with `--out`, to a temporary file beside the target that
//! replaces it only once complete. An import writes one new agent, or nothing.

use std::io::Write;
use std::path::Path;

use crate::config::Resolved;
use crate::session::{Failure, Outcome, open_reader};
use crate::store::Store;
use crate::transfer::agent_file::{self, ModelInfo};
use crate::transfer::export::{export_file, export_to};
use crate::transfer::imported::ImportError;
use crate::transfer::{Format, native};

fn write_err(e: impl std::fmt::Display) -> Failure {
    Failure::runtime(format!("cannot write the export: {e}"))
}

/// A writer that notes whether its reader closed the pipe.
struct PipeWatch<'a> {
    inner: &'a mut dyn Write,
    closed: bool,
}

impl Write for PipeWatch<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(b);
        self.closed |= matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe);
        r
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.closed |= matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe);
        r
    }
}

/// The configured API key (what an export must never hold) and the model an Agent File names.
fn export_context(cfg: &Resolved) -> (Option<String>, ModelInfo) {
    let key = cfg.client.as_ref().and_then(|c| c.api_key.clone());
    (key, ModelInfo::of(cfg.client.as_ref()))
}

/// `memscope export --format F [--out FILE]`.
pub fn export(
    cfg: &Resolved,
    format: Format,
    out_path: Option<&Path>,
    out: &mut dyn Write,
) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    if store.load_agent(&cfg.agent)?.is_none() {
        return Err(Failure::start(format!(
            "there is no agent named '{}' in {}",
            cfg.agent,
            crate::store::display_name(&cfg.store)
        )));
    }
    let (key, info) = export_context(cfg);
    let bad = match out_path {
        None => {
            let mut watched = PipeWatch {
                inner: out,
                closed: false,
            };
            match export_to(
                &store,
                &cfg.agent,
                format,
                key.as_deref(),
                &info,
                &mut watched,
            ) {
                Ok(bad) => bad,
                // The reader went away (`export | head`): not a failure.
                Err(_) if watched.closed => {
                    return Err(Failure::output(std::io::ErrorKind::BrokenPipe.into()));
                }
                Err(e) => return Err(Failure::runtime(e)),
            }
        }
        Some(path) => {
            let bad = export_file(&store, &cfg.agent, format, key.as_deref(), &info, path)
                .map_err(Failure::runtime)?;
            writeln!(
                out,
                "exported agent '{}' as {} to {}",
                cfg.agent,
                format.extension(),
                path.display()
            )
            .map_err(write_err)?;
            bad
        }
    };
    if bad.is_empty() {
        return Ok(());
    }
    for b in &bad {
        eprintln!("memscope: cannot read a record: {b}");
    }
    Err(Failure::runtime(format!(
        "{} record(s) could not be read and were left out of the export; `memscope check --repair` \
         moves them aside",
        bad.len()
    )))
}

/// Imports every agent `text` holds (memscope JSON or an Agent File) into `store`; `name`
/// renames the agent of a file that holds one.
pub fn import_text(
    store: &Store,
    text: &str,
    name: Option<&str>,
    model: &str,
) -> Result<Vec<crate::transfer::ImportReport>, ImportError> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ImportError::Invalid(format!("the file is not JSON: {e}")))?;
    if native::is_native(&doc) {
        return Ok(vec![native::import(store, text, name)?]);
    }
    let mut agents = agent_file::parse(text).map_err(ImportError::Invalid)?;
    if let Some(n) = name {
        if agents.len() > 1 {
            return Err(ImportError::Invalid(format!(
                "the file holds {} agents ({}); import it without --agent to keep their own names",
                agents.len(),
                agents
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        agents[0].name = n.to_string();
    }
    // Every name is checked before anything is written.
    for a in &agents {
        if store.load_agent(&a.name)?.is_some() {
            return Err(ImportError::Exists(a.name.clone()));
        }
    }
    agents.into_iter().map(|a| a.write(store, model)).collect()
}

/// `memscope import FILE [--agent NAME] [--json]`.
pub fn import(
    cfg: &Resolved,
    file: &Path,
    name: Option<&str>,
    json_out: bool,
    out: &mut dyn Write,
) -> Outcome {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::start(format!("cannot read standard input: {e}")))?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Failure::start(format!("cannot read {}: {e}", file.display())))?
    };
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let reports = import_text(&store, &text, name, &cfg.engine.model)
        .map_err(|e| Failure::runtime(format!("{}: {e}; nothing was imported", file.display())))?;
    for r in &reports {
        if json_out {
            writeln!(
                out,
                "{}",
                serde_json::to_string(r).expect("reports serialize")
            )
        } else {
            writeln!(out, "{}", r.describe())
        }
        .map_err(Failure::output)?;
    }
    Ok(())
}
