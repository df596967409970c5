//! Writing an agent out to a writer or a file.
//!
//! Contract: [`export_to`] writes one agent of a store in a [`Format`], reading the store alone
//! (a reader can export while a writer runs), with `secret` (the configured API key) replaced
//! wherever a message quoted it. [`export_file`] writes through a temporary file beside the
//! target that replaces it only once complete, so a failed export never leaves half a file.
//! Both return the records that could not be read and were left out. `memscope export` and
//! the TUI's `/export` call them.

use std::io::Write;
use std::path::Path;

use super::agent_file::{self, ModelInfo};
use super::{Format, Redact, markdown, native};
use crate::store::{Store, Unreadable};

fn write_err(e: impl std::fmt::Display) -> String {
    format!("cannot write the export: {e}")
}

/// Writes `agent` of `store` in `format` to `out` (the configured API key redacted).
pub fn export_to(
    store: &Store,
    agent: &str,
    format: Format,
    secret: Option<&str>,
    info: &ModelInfo,
    out: &mut dyn Write,
) -> Result<Vec<Unreadable>, String> {
    let mut w = Redact::new(out, secret);
    let bad = match format {
        Format::Json => native::export(store, agent, &mut w).map_err(|e| e.to_string())?,
        Format::Markdown => markdown::export(store, agent, &mut w).map_err(|e| e.to_string())?,
        Format::AgentFile => {
            let (doc, bad) = agent_file::export(store, agent, info).map_err(|e| e.to_string())?;
            serde_json::to_writer_pretty(&mut w, &doc).map_err(write_err)?;
            writeln!(w).map_err(write_err)?;
            bad
        }
    };
    w.finish().map_err(write_err)?;
    Ok(bad)
}

/// Exports into `path` through a temporary file beside it.
pub fn export_file(
    store: &Store,
    agent: &str,
    format: Format,
    secret: Option<&str>,
    info: &ModelInfo,
    path: &Path,
) -> Result<Vec<Unreadable>, String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile_in(dir, path)?;
    let written = export_to(store, agent, format, secret, info, &mut tmp.1)
        .and_then(|bad| tmp.1.sync_all().map(|_| bad).map_err(write_err));
    let bad = match written {
        Ok(bad) => bad,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp.0);
            return Err(e);
        }
    };
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        write_err(format!("{}: {e}", path.display()))
    })?;
    Ok(bad)
}

fn tempfile_in(dir: &Path, target: &Path) -> Result<(std::path::PathBuf, std::fs::File), String> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "export".into());
    let tmp = dir.join(format!(".{name}.{}.part", std::process::id()));
    // An export holds the whole memory: readable by its owner alone, as the store is.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts
        .open(&tmp)
        .map_err(|e| write_err(format!("{}: {e}", tmp.display())))?;
    Ok((tmp, file))
}
