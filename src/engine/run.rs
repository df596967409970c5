//! The engine task: the async driver of the chain state machine.
//!
//! Contract: [`spawn`] moves an [`Agent`] into a tokio task that owns it. The task feeds every
//! command, and the outcome of every action it runs, to [`Chain`] (`chain.rs`, pure) and runs
//! the actions it returns: committing a user message, counting, flushing (`flush.rs`), calling
//! the model (`call.rs`), manual changes (`manual.rs`). While a call is in flight it still
//! hears commands. The user's message is committed before the first call, and each step
//! commits once, so an interruption or crash never loses committed work. The task ends on
//! `Shutdown`, `ShutdownNow`, or when every face is gone. A failed write is reported, the
//! chain in progress ends, and the session goes on once the store can be reopened
//! (`recovery.rs`); the task then returns how many writes failed.

use std::collections::VecDeque;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::agent::Agent;
use super::chain::{Action, Chain, Ended, Input};
use super::exec::Embeds;
use crate::memory::MessageKind;
use crate::model::{ModelClient, ServerTokenizer};
use crate::protocol::{Command, ErrorKind, Event, EventKind, WarningKind};
use crate::store::StoreError;

pub struct EngineHandle {
    pub commands: UnboundedSender<Command>,
    pub events: UnboundedReceiver<Event>,
    pub task: tokio::task::JoinHandle<Result<(), StoreError>>,
}

/// Starts the engine task. The first event is `ready`.
pub fn spawn(agent: Agent, client: Option<ModelClient>) -> EngineHandle {
    spawn_with(agent, client, false)
}

/// Like [`spawn`]; with `discover_model`, the engine first asks the server's `/models` which
/// model it serves and uses that (the UI is not kept waiting for the answer).
pub fn spawn_with(agent: Agent, client: Option<ModelClient>, discover_model: bool) -> EngineHandle {
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let (ev_tx, ev_rx) = unbounded_channel();
    let chain = Chain::new(
        agent.settings.chain_cap,
        client.is_some(),
        client.as_ref().is_some_and(ModelClient::has_embeddings),
    );
    let engine = Engine {
        agent,
        client,
        chain,
        commands: cmd_rx,
        events: ev_tx,
        commands_closed: false,
        discover_model,
        logged_in: false,
        tokenizer: None,
        tokenizer_failures: 0,
        told_tools_left_out: false,
        store_broken: false,
        store_failures: 0,
        unsaved: None,
        deferred: VecDeque::new(),
    };
    let task = tokio::spawn(engine.run());
    EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}

pub(super) struct Engine {
    pub(super) agent: Agent,
    pub(super) client: Option<ModelClient>,
    pub(super) chain: Chain,
    pub(super) commands: UnboundedReceiver<Command>,
    events: UnboundedSender<Event>,
    pub(super) commands_closed: bool,
    discover_model: bool,
    /// A login event was sent this session.
    pub(super) logged_in: bool,
    /// The server's tokenizer, when it has one and the local encoding is only a stand-in.
    pub(super) tokenizer: Option<ServerTokenizer>,
    /// Rounds of counting in a row in which the tokenizer failed.
    pub(super) tokenizer_failures: u32,
    /// The "functions left out of the prompt" hint was given this session.
    pub(super) told_tools_left_out: bool,
    /// A write failed and the store has not been reopened since (see `recovery.rs`).
    pub(super) store_broken: bool,
    /// Writes that failed this session.
    pub(super) store_failures: u32,
    /// The user message being committed, until it is.
    pub(super) unsaved: Option<String>,
    /// Commands that came in while a load ran, in order; heard before the channel.
    pub(super) deferred: VecDeque<Command>,
}

impl Engine {
    /// Sends an event to the faces, journaling it first when it is journaled (an event that
    /// went into a commit is sent with [`Engine::send`] instead).
    pub(super) fn emit(&self, kind: EventKind) {
        let ev = self.agent.event(kind);
        if let Err(e) = self.agent.journal(&ev) {
            tracing::warn!(error = %e, "cannot journal an event; it is shown all the same");
        }
        let _ = self.events.send(ev);
    }

    /// Sends an event whose journal entry was already committed with the change it reports.
    pub(super) fn send(&self, kind: EventKind) {
        let _ = self.events.send(self.agent.event(kind));
    }

    pub(super) fn event_sender(&self) -> UnboundedSender<Event> {
        self.events.clone()
    }

    pub(super) fn emit_error(&self, kind: ErrorKind, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(agent = self.agent.name(), %kind, %message, "error");
        self.emit(EventKind::Error { kind, message });
    }

    pub(super) fn emit_warning(&self, kind: WarningKind, message: impl Into<String>) {
        let message = message.into();
        tracing::info!(agent = self.agent.name(), %kind, %message, "warning");
        self.emit(EventKind::Warning { kind, message });
    }

    pub(super) fn emit_budget(&self) {
        self.emit(EventKind::Budget(self.agent.budget()));
    }

    async fn run(mut self) -> Result<(), StoreError> {
        let tokenizer = self.discover(self.discover_model).await;
        self.emit_ready();
        self.find_tokenizer(tokenizer).await;
        self.recount().await;
        let mut inbox: VecDeque<Input> = VecDeque::new();
        // Messages saved in an earlier session that had no model are answered now.
        if self.client.is_some() {
            self.chain.unanswered = self.agent.unanswered_messages();
            inbox.push_back(Input::ModelReady);
        }
        loop {
            let input = match inbox.pop_front() {
                Some(i) => i,
                None if !self.deferred.is_empty() => {
                    Input::Command(self.deferred.pop_front().expect("not empty"))
                }
                None if self.commands_closed => Input::Closed,
                None => match self.commands.recv().await {
                    Some(c) => Input::Command(c),
                    None => {
                        self.commands_closed = true;
                        Input::Closed
                    }
                },
            };
            let idle_command =
                matches!(input, Input::Command(_)) && self.chain.state == super::chain::State::Idle;
            for action in self.chain.handle(input) {
                if action == Action::Stop {
                    return self.outcome();
                }
                match self.perform(action).await {
                    Ok(Some(outcome)) => inbox.push_back(outcome),
                    Ok(None) => {}
                    Err(e) => {
                        // Said where the faces look; what the failed actions were to do next
                        // is dropped, and the machine ends the chain.
                        self.store_failed(&e);
                        inbox.clear();
                        inbox.push_back(Input::StoreFailed);
                        break;
                    }
                }
            }
            if idle_command && inbox.is_empty() {
                self.recount().await;
            }
        }
    }

    /// Runs one action; what it answers goes back to the machine.
    async fn perform(&mut self, action: Action) -> Result<Option<Input>, StoreError> {
        if let Action::StartChain(text) = &action {
            self.unsaved = Some(text.clone());
        }
        // Nothing is written by an agent that a failed write left untrusted.
        if matches!(
            action,
            Action::StartChain(_) | Action::Flush | Action::Call { .. } | Action::Side(_)
        ) {
            self.recover()?;
        }
        Ok(match action {
            Action::StartChain(text) => {
                self.start_chain(text).await?;
                self.unsaved = None;
                Some(Input::Started)
            }
            Action::Check => {
                self.recount().await;
                let budget = self.agent.budget();
                if let Some(message) = self.agent.fixed_part_notice(&budget) {
                    self.emit_warning(WarningKind::FixedPartTooLarge, message);
                }
                let p = self.agent.pressure(&budget);
                Some(Input::Checked {
                    needs_flush: p.needs_flush,
                })
            }
            Action::Flush => Some(Input::Flushed(self.flush().await?)),
            Action::Pause(trigger) => {
                self.emit(EventKind::Paused {
                    trigger,
                    budget: self.agent.budget(),
                });
                None
            }
            Action::Call { trigger, retry } => Some(self.step(&trigger, retry).await?),
            Action::DropStep => {
                self.agent.state.step = self.agent.state.step.saturating_sub(1);
                self.emit_error(
                    ErrorKind::ContextOverflow,
                    "the server still refuses the prompt as too long and this input has had its \
                     flush; the step was dropped and the agent waits (the next input flushes again)",
                );
                None
            }
            // Only ever returned while a call is in flight, where `call.rs` handles it.
            Action::Cancel => None,
            Action::Side(
                cmd @ (Command::Rewind(_)
                | Command::Fork { .. }
                | Command::Retry
                | Command::Pop
                | Command::Rethink(_)
                | Command::Rewrite(_)),
            ) => self
                .history(cmd)
                .await?
                .map(|text| Input::Command(Command::UserMessage(text))),
            Action::Side(cmd) => {
                let connect = matches!(cmd, Command::Connect { .. });
                self.side(cmd).await?;
                // Messages saved while there was no model are answered now.
                (connect && self.client.is_some()).then_some(Input::ModelReady)
            }
            Action::EndChain { steps, ended } => {
                self.end_chain(steps, ended).await;
                None
            }
            Action::Stop => None,
        })
    }

    async fn start_chain(&mut self, text: String) -> Result<(), StoreError> {
        self.agent.warned_this_input = false;
        // The first message of a session is preceded by a login event, so the agent knows a new
        // session began (and when the last one was).
        let mut new = Vec::with_capacity(2);
        // A fork or rewind to a point its original went on from in the same session.
        if std::mem::take(&mut self.agent.state.no_login) {
            self.logged_in = true;
        }
        if !self.logged_in {
            self.logged_in = true;
            let last = self
                .agent
                .fifo()
                .last()
                .map(|m| m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string());
            new.push(
                self.agent
                    .event_message(MessageKind::Login, last.as_deref().unwrap_or("never")),
            );
        }
        // A message too long for the context is kept whole; the model gets what fits.
        let input = self.agent.user_message(&text);
        let shown = EventKind::UserMessage {
            id: input.message.id,
            text,
        };
        new.push(input.message);
        self.agent.stage(&shown);
        let warning = input.warning.map(|message| EventKind::Warning {
            kind: WarningKind::MessageTooLong,
            message,
        });
        if let Some(w) = &warning {
            self.agent.stage(w);
        }
        self.agent.commit_input(&new, &input.passages)?;
        self.send(shown);
        if let Some(w) = warning {
            self.send(w);
        }
        self.refresh_counts().await;
        self.emit_budget();
        Ok(())
    }

    async fn end_chain(&mut self, steps: u32, ended: Ended) {
        match ended {
            Ended::Normally => {}
            Ended::Cap => self.emit_error(ErrorKind::ChainCap,
                format!(
                    "stopped after {steps} model calls for one input (the chain cap); the agent now waits for you"
                ),
            ),
            Ended::NoModel => self.emit_error(ErrorKind::NoModel,
                "no model endpoint is configured: the message is saved and waits; it is answered \
                 once a model is (/endpoint URL in the TUI; --base-url, --provider or \
                 OPENAI_BASE_URL at start)",
            ),
            Ended::AtGate => self.emit_error(ErrorKind::Interrupted,
                "the chain was stopped before the next model call",
            ),
        }
        if ended != Ended::NoModel {
            self.recount().await;
        }
        self.emit(EventKind::ChainEnded { steps });
    }

    /// Commands that change memory or the connection without starting a chain.
    pub(super) async fn side(&mut self, cmd: Command) -> Result<(), StoreError> {
        match cmd {
            Command::EditCore { label, value } => self.edit_core(&label, &value)?,
            Command::InsertPassage(text) => {
                let embeds = self.embed_passage(&text).await;
                self.insert_passage(&text, embeds.as_ref())?;
            }
            Command::DeletePassage(id) => match self.agent.delete_passage_by_hand(id)? {
                Ok(shown) => self.send(shown),
                Err(why) => self.emit_error(ErrorKind::EditRefused, why),
            },
            Command::Connect {
                client,
                provider,
                keep_model,
            } => self.connect(client, provider, keep_model).await,
            Command::SetInstructions(text) => {
                let done = self.agent.set_instructions_by_hand(text)?;
                self.report_manual(done);
            }
            Command::UndoInstructions => {
                let done = self.agent.undo_instructions()?;
                self.report_manual(done);
            }
            Command::Load {
                paths,
                chunk_tokens,
            } => self.load(paths, chunk_tokens).await?,
            other => tracing::warn!(?other, "not a side command; ignored"),
        }
        Ok(())
    }

    async fn connect(
        &mut self,
        client: crate::model::ClientConfig,
        provider: Option<&'static crate::providers::Provider>,
        keep_model: bool,
    ) {
        match ModelClient::new(client) {
            Ok(client) => {
                self.chain.has_model = true;
                self.chain.embeds_passages = client.has_embeddings();
                self.client = Some(client);
                if let Some(p) = provider {
                    self.agent.settings.json_format = p.json_format;
                    self.agent.settings.stream_usage = p.stream_usage;
                }
                if keep_model {
                    let model = self.client.as_ref().map(|c| c.model().to_string());
                    if let Some(m) = model {
                        self.agent.set_model(&m);
                    }
                }
                let tokenizer = self.discover(!keep_model).await;
                self.emit_ready();
                self.find_tokenizer(tokenizer).await;
            }
            Err(e) => self.emit_error(e.kind(), e.to_string()),
        }
    }

    pub(super) fn emit_ready(&mut self) {
        let a = &self.agent;
        self.emit(EventKind::Ready {
            agent: a.name().to_string(),
            model: self.client.as_ref().map(|c| c.model().to_string()),
            base_url: self.client.as_ref().map(|c| c.base_url().to_string()),
            recall: a.state.recall_count,
            archival: a.state.archival_count,
            queue: a.fifo().len(),
            policy: a.state.policy.describe(),
        });
        self.emit_budget();
        self.check_embeddings();
    }

    /// Says so when archival passages were embedded with another model than the one
    /// configured: they are ranked by words, never mixed with the new embeddings.
    fn check_embeddings(&mut self) {
        let Some(model) = self
            .client
            .as_ref()
            .and_then(|c| c.embedding_model())
            .map(String::from)
        else {
            return;
        };
        let total = self.agent.state.archival_count as usize;
        let stale = match self.agent.archival_cache() {
            Ok(c) => total.saturating_sub(c.count(&model)),
            Err(e) => return self.emit_error(ErrorKind::Store, e.to_string()),
        };
        if stale > 0 {
            self.emit_warning(WarningKind::EmbeddingModelChanged,
                format!(
                    "{stale} archival passages are not embedded with {model}; searches rank them by words after the rest. \
                     Run `memscope archival reembed --embedding-model {model}` to embed them again"
                ),
            );
        }
    }

    /// Embeddings for a passage the user adds, when an embedding model is configured.
    async fn embed_passage(&self, text: &str) -> Option<Embeds> {
        let client = self.client.as_ref().filter(|c| c.has_embeddings())?;
        let chunks =
            crate::memory::chunk::chunk_text(text, crate::memory::chunk::DEFAULT_CHUNK_CHARS);
        if chunks.is_empty() {
            return None;
        }
        let model = client.embedding_model()?.to_string();
        let result = client.embed(&chunks).await.map_err(|e| e.to_string());
        Some(Embeds { model, result })
    }

    fn insert_passage(&mut self, text: &str, embeds: Option<&Embeds>) -> Result<(), StoreError> {
        match self.agent.insert_passage_by_hand(text, embeds)? {
            Ok(shown) => {
                self.send(shown);
                self.emit_budget();
            }
            Err(why) => self.emit_error(ErrorKind::EditRefused, why),
        }
        Ok(())
    }

    fn edit_core(&mut self, label: &str, value: &str) -> Result<(), StoreError> {
        let done = self.agent.edit_core_by_hand(label, value)?;
        self.report_manual(done);
        Ok(())
    }

    /// Reports a manual change made (with the budget it leaves) or why it was refused.
    fn report_manual(&mut self, done: Result<EventKind, String>) {
        match done {
            Ok(shown) => {
                self.send(shown);
                self.emit_budget();
            }
            Err(why) => self.emit_error(ErrorKind::EditRefused, why),
        }
    }
}
