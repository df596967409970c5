//! The effects the runtime carries out besides engine commands and store reads: an export
//! written on a blocking thread, a copy to the clipboard, the mouse given to the terminal.
//!
//! Contract: none of these blocks the event loop. An export reads the store alone and writes
//! through a temporary file (`transfer::export`), with the configured API key redacted; its
//! outcome comes back as an `AppEvent` for the status bar, and [`Jobs::finish`] waits for any
//! still running before the store is closed. Copies and the mouse go through
//! [`Control`](super::control::Control).

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::app::{AppEvent, Loaded};
use crate::store::Store;
use crate::transfer::Format;
use crate::transfer::agent_file::ModelInfo;

#[derive(Default)]
pub struct Jobs {
    /// The configured API key: an export must never hold it.
    pub secret: Option<String>,
    /// What an Agent File says about the model (the model name follows the one in use).
    pub info: ModelInfo,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// `NAME-YYYYMMDD-HHMMSS.EXT` in memscope's exports folder (`exports/` in its XDG data
/// directory, made when absent; never the current directory, which may be a checkout), the
/// name kept to safe characters.
pub fn default_export_path(agent: &str, format: Format) -> PathBuf {
    let dir = crate::config::exports_dir();
    let _ = std::fs::create_dir_all(&dir);
    dir.join(export_file_name(agent, format))
}

fn export_file_name(agent: &str, format: Format) -> PathBuf {
    let safe: String = agent
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!(
        "{safe}-{}.{}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        format.extension()
    ))
}

impl Jobs {
    /// Writes `agent` to `path` in the background; the outcome arrives on `tx`.
    pub fn export(
        &mut self,
        store: Arc<Store>,
        agent: String,
        model: Option<String>,
        format: Format,
        path: PathBuf,
        tx: UnboundedSender<AppEvent>,
    ) {
        let secret = self.secret.clone();
        let mut info = self.info.clone();
        if model.is_some() {
            info.model = model;
        }
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::task::spawn_blocking(move || {
            let r = crate::transfer::export::export_file(
                &store,
                &agent,
                format,
                secret.as_deref(),
                &info,
                &path,
            );
            let shown = path.display();
            let loaded = match r {
                Ok(bad) if bad.is_empty() => Loaded::Done(format!(
                    "exported '{agent}' as {} to {shown}",
                    format.extension()
                )),
                Ok(bad) => Loaded::Done(format!(
                    "exported '{agent}' to {shown}, leaving out {} records that cannot be read \
                     (`memscope check --repair` moves them aside)",
                    bad.len()
                )),
                Err(e) => Loaded::Failed(format!("{shown}: {e}")),
            };
            let _ = tx.send(AppEvent::Loaded(loaded));
        }));
    }

    /// Waits for every export still running (each holds the store open).
    pub async fn finish(&mut self) {
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}
