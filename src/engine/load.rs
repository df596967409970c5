//! Loading documents into an agent's archival memory.
//!
//! Contract: [`Agent::load_documents`] runs a [`Loader`] to its end or until the
//! [`LoadSink`] asks it to stop: each batch of new passages (at most [`BATCH`], or
//! [`EMBED_BATCH`] while embedding, one request a batch, so progress and a stop come at the
//! embedder's pace) is embedded when a client with an embedding model is given (after an
//! embedding failure the rest is saved without embeddings and the summary says why) and
//! committed in one transaction with its source path and position, so a stop or a crash keeps
//! every batch committed before it. The sink hears a `load_progress` after every batch, a
//! `load_skipped` for every file left out and one `load_finished` (also when a commit fails,
//! before the error is returned); it decides what is shown
//! and journaled. The engine task (`run.rs`, for `/load`) and `memscope load` are its two
//! callers.

use chrono::Utc;

use super::agent::Agent;
use super::run::Engine;
use crate::memory::Passage;
use crate::model::ModelClient;
use crate::protocol::{Command, ErrorKind, Event, EventKind};
use crate::store::StoreError;
use crate::transfer::load::{Loader, NewPiece, Summary};

/// Passages committed per transaction.
pub const BATCH: usize = 64;
/// Passages embedded per request.
pub const EMBED_BATCH: usize = 16;

/// Where a load's events go (already journaled where they are journaled), and whether the
/// user asked it to stop.
pub trait LoadSink {
    fn event(&mut self, ev: Event);
    /// Asked between batches.
    fn stop_requested(&mut self) -> bool;
}

impl Agent {
    /// A loader for `plan` that leaves out the texts archival memory already holds.
    pub fn loader_for(
        &mut self,
        plan: crate::transfer::load::read::Plan,
        chunk_tokens: u32,
    ) -> Result<Loader, StoreError> {
        // One passage read at a time: only the texts' fingerprints are kept.
        let mut loader = Loader::new(plan, [], chunk_tokens);
        self.store.scan(
            crate::store::Table::Archival,
            self.name(),
            |_, p: Passage| {
                loader.know(&p.text);
                Ok::<(), StoreError>(())
            },
        )?;
        Ok(loader)
    }

    pub async fn load_documents(
        &mut self,
        mut loader: Loader,
        client: Option<&ModelClient>,
        sink: &mut (dyn LoadSink + Send),
    ) -> Result<Summary, StoreError> {
        let embedder = client.filter(|c| c.has_embeddings());
        let mut embedded = 0usize;
        let mut embed_failed: Option<String> = None;
        let mut stopped = false;
        self.tell(sink, EventKind::LoadProgress(loader.progress().clone()));
        loop {
            if sink.stop_requested() {
                stopped = !loader.is_done();
                break;
            }
            let counter = self.counter.clone();
            // While embedding, a batch is one request: progress and stops come at its pace.
            let size = match embedder {
                Some(_) if embed_failed.is_none() => EMBED_BATCH,
                _ => BATCH,
            };
            let batch = loader.next_batch(size, &counter);
            for (path, reason) in loader.take_skips() {
                self.tell(sink, EventKind::LoadSkipped { path, reason });
            }
            if batch.is_empty() {
                break;
            }
            let vectors = match embedder {
                Some(c) if embed_failed.is_none() => match embed(c, &batch).await {
                    Ok(v) => Some((c.embedding_model().unwrap_or_default(), v)),
                    Err(e) => {
                        embed_failed = Some(e);
                        None
                    }
                },
                _ => None,
            };
            let now = Utc::now();
            let passages: Vec<Passage> = batch
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, piece)| {
                    let id = self.state.next_passage_id;
                    self.state.next_passage_id += 1;
                    let (embedding, embedding_model) = match &vectors {
                        Some((m, v)) => (Some(v[i].clone()), Some(m.to_string())),
                        None => (None, None),
                    };
                    let NewPiece { text, origin, .. } = piece;
                    Passage {
                        id,
                        text,
                        created_at: now,
                        source: "document".into(),
                        embedding,
                        embedding_model,
                        origin: Some(origin),
                    }
                })
                .collect();
            let embedded_now = if vectors.is_some() { passages.len() } else { 0 };
            if let Err(e) = self.commit(&[], &[], &passages, None) {
                // The faces hear that the load is over (what was committed before stays).
                let mut summary = loader.summary(true, embedded, embed_failed.as_deref());
                summary.message = format!(
                    "{}; then the store could not be written: {e}",
                    summary.message
                );
                self.tell(sink, EventKind::LoadFinished(summary));
                return Err(e);
            }
            loader.committed(&batch);
            embedded += embedded_now;
            self.tell(sink, EventKind::LoadProgress(loader.progress().clone()));
        }
        let summary = loader.summary(stopped, embedded, embed_failed.as_deref());
        self.tell(sink, EventKind::LoadFinished(summary.clone()));
        Ok(summary)
    }

    fn tell(&self, sink: &mut (dyn LoadSink + Send), kind: EventKind) {
        let ev = self.event(kind);
        if let Err(e) = self.journal(&ev) {
            tracing::warn!(error = %e, "cannot journal an event; it is shown all the same");
        }
        sink.event(ev);
    }
}

/// Embeddings for a batch, in one request.
async fn embed(client: &ModelClient, batch: &[NewPiece]) -> Result<Vec<Vec<f32>>, String> {
    let texts: Vec<String> = batch.iter().map(|p| p.text.clone()).collect();
    let v = client.embed(&texts).await.map_err(|e| e.to_string())?;
    if v.len() != texts.len() {
        return Err(format!(
            "the server returned {} embeddings for {} texts",
            v.len(),
            texts.len()
        ));
    }
    Ok(v)
}

/// The engine task's sink: events go to the faces; between batches it reads the commands that
/// came in. `Interrupt` stops the load, `ShutdownNow` stops it and then the engine, and any
/// other command waits until the load is over.
struct EngineSink<'a> {
    events: tokio::sync::mpsc::UnboundedSender<Event>,
    commands: &'a mut tokio::sync::mpsc::UnboundedReceiver<Command>,
    closed: &'a mut bool,
    deferred: &'a mut std::collections::VecDeque<Command>,
}

impl LoadSink for EngineSink<'_> {
    fn event(&mut self, ev: Event) {
        let _ = self.events.send(ev);
    }

    fn stop_requested(&mut self) -> bool {
        use tokio::sync::mpsc::error::TryRecvError;
        loop {
            match self.commands.try_recv() {
                Ok(Command::Interrupt) => return true,
                Ok(Command::ShutdownNow) => {
                    self.deferred.push_back(Command::ShutdownNow);
                    return true;
                }
                Ok(other) => self.deferred.push_back(other),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => {
                    *self.closed = true;
                    return false;
                }
            }
        }
    }
}

impl Engine {
    /// `/load`: documents into archival memory while the faces keep hearing progress.
    pub(super) async fn load(
        &mut self,
        paths: Vec<std::path::PathBuf>,
        chunk_tokens: u32,
    ) -> Result<(), StoreError> {
        if paths.iter().any(|p| p.as_os_str() == "-") {
            self.emit_error(
                ErrorKind::EditRefused,
                "`-` (standard input) can only be loaded with `memscope load -`",
            );
            return Ok(());
        }
        let plan = crate::transfer::load::read::plan(&paths);
        let loader = self.agent.loader_for(plan, chunk_tokens)?;
        let mut sink = EngineSink {
            events: self.event_sender(),
            commands: &mut self.commands,
            closed: &mut self.commands_closed,
            deferred: &mut self.deferred,
        };
        self.agent
            .load_documents(loader, self.client.as_ref(), &mut sink)
            .await?;
        self.emit_budget();
        Ok(())
    }
}
