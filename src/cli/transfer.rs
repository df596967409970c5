//! `export` and `import`.
//!
//! An export reads the store as a reader (it works while the TUI or `run` writes it) and
//! writes to standard output or, with `--out`, to a temporary file beside the target that
//! replaces it only once complete. An import writes one new agent, or nothing.

use std::io::Write;
use std::path::Path;

use crate::config::Resolved;
use crate::session::{Failure, Outcome, open_reader};
use crate::store::{Store, Unreadable};
use crate::transfer::agent_file::{self, ModelInfo};
use crate::transfer::imported::ImportError;
use crate::transfer::{Format, Redact, markdown, native};

fn write_err(e: impl std::fmt::Display) -> Failure {
    Failure::runtime(format!("cannot write the export: {e}"))
}

/// Writes `agent` of `store` in `format` to `out` (the configured API key redacted).
pub fn export_to(
    cfg: &Resolved,
    store: &Store,
    agent: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<Vec<Unreadable>, Failure> {
    let key = cfg.client.as_ref().and_then(|c| c.api_key.clone());
    let mut w = Redact::new(out, key.as_deref());
    let bad = match format {
        Format::Json => native::export(store, agent, &mut w).map_err(Failure::runtime)?,
        Format::Markdown => markdown::export(store, agent, &mut w).map_err(Failure::runtime)?,
        Format::AgentFile => {
            let info = ModelInfo {
                model: cfg
                    .client
                    .as_ref()
                    .map(|c| c.model.clone())
                    .filter(|m| !m.is_empty()),
                embedding_model: cfg.client.as_ref().and_then(|c| c.embedding_model.clone()),
            };
            let (doc, bad) = agent_file::export(store, agent, &info).map_err(Failure::runtime)?;
            serde_json::to_writer_pretty(&mut w, &doc).map_err(write_err)?;
            writeln!(w).map_err(write_err)?;
            bad
        }
    };
    w.finish().map_err(write_err)?;
    Ok(bad)
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
        return Err(Failure::runtime(format!(
            "there is no agent named '{}' in {}",
            cfg.agent,
            cfg.store.display()
        )));
    }
    let bad = match out_path {
        None => export_to(cfg, &store, &cfg.agent, format, out)?,
        Some(path) => {
            let bad = export_file(cfg, &store, &cfg.agent, format, path)?;
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

/// Exports into `path` through a temporary file beside it.
pub fn export_file(
    cfg: &Resolved,
    store: &Store,
    agent: &str,
    format: Format,
    path: &Path,
) -> Result<Vec<Unreadable>, Failure> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir, path)?;
    let bad = export_to(cfg, store, agent, format, &mut tmp.1)?;
    tmp.1.sync_all().map_err(write_err)?;
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        write_err(format!("{}: {e}", path.display()))
    })?;
    Ok(bad)
}

fn tempfile_in(dir: &Path, target: &Path) -> Result<(std::path::PathBuf, std::fs::File), Failure> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export".into());
    let tmp = dir.join(format!(".{name}.{}.part", std::process::id()));
    let file =
        std::fs::File::create(&tmp).map_err(|e| write_err(format!("{}: {e}", tmp.display())))?;
    Ok((tmp, file))
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
        .map_err(|e| Failure::runtime(format!("cannot write the output: {e}")))?;
    }
    Ok(())
}
