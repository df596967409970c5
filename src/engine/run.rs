//! The engine task: commands in, events out, model calls in between.
//!
//! Contract: [`spawn`] moves an [`Agent`] into a tokio task that owns it. The task handles one
//! command at a time; a user message runs a whole chain (bounded by the chain cap). Before each
//! model call it flushes when memory is full and, in step mode, waits at the step gate. While a
//! call is in flight it still hears commands: `Interrupt` drops the unfinished step, core edits
//! apply at once, anything else is queued. The user's message is committed before the first
//! call, and each step commits once, so an interruption or crash never loses committed work.

use std::collections::VecDeque;
use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::agent::Agent;
use super::events::{Command, EditSource, Event, EventKind, Trigger};
use super::exec::Embeds;
use super::policy::{Next, plan_eviction};
use super::step::{StepInput, embedding_inputs, parse_first};
use crate::memory::{MessageKind, RequestRecord, Role, StepTrace, Summary};
use crate::model::{ChatReply, ModelClient, ModelError, ServerTokenizer};
use crate::store::StoreError;
use crate::text;

const SUMMARIZER: &str = include_str!("../../assets/summarizer.md");
/// Messages always kept in the queue by a flush.
pub const KEEP_LAST: usize = 3;

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
    let engine = Engine {
        agent,
        client,
        commands: cmd_rx,
        events: ev_tx,
        pending: VecDeque::new(),
        step_mode: false,
        run_to_end: false,
        commands_closed: false,
        stopping: false,
        discover_model,
        logged_in: false,
        tokenizer: None,
        tokenizer_failures: 0,
        told_tools_left_out: false,
    };
    let task = tokio::spawn(engine.run());
    EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}

enum Gate {
    Go,
    Stop,
}

enum Heard {
    Interrupt,
    Handled,
}

struct Engine {
    agent: Agent,
    client: Option<ModelClient>,
    commands: UnboundedReceiver<Command>,
    events: UnboundedSender<Event>,
    pending: VecDeque<Command>,
    step_mode: bool,
    /// `Continue` was given: no more pauses until the chain ends.
    run_to_end: bool,
    commands_closed: bool,
    /// `ShutdownNow` was heard: no further command runs.
    stopping: bool,
    discover_model: bool,
    /// A login event was sent this session.
    logged_in: bool,
    /// The server's tokenizer, when it has one and the local encoding is only a stand-in.
    tokenizer: Option<ServerTokenizer>,
    /// Rounds of counting in a row in which the tokenizer failed.
    tokenizer_failures: u32,
    /// The "functions left out of the prompt" hint was given this session.
    told_tools_left_out: bool,
}

impl Engine {
    fn emit(&self, kind: EventKind) {
        let _ = self.events.send(Event {
            step: self.agent.state.step,
            time: Utc::now(),
            kind,
        });
    }

    fn emit_error(&self, kind: &str, message: impl Into<String>) {
        self.emit(EventKind::Error {
            kind: kind.to_string(),
            message: message.into(),
        });
    }

    async fn next_command(&mut self) -> Option<Command> {
        if self.stopping {
            return None;
        }
        if let Some(c) = self.pending.pop_front() {
            return Some(c);
        }
        if self.commands_closed {
            return None;
        }
        let c = self.commands.recv().await;
        if c.is_none() {
            self.commands_closed = true;
        }
        c
    }

    /// Asks the server what the configuration left open: the context window (when no setting
    /// gave one) and, with `model_too`, which model it serves.
    async fn discover(&mut self, model_too: bool) {
        let Some(client) = self.client.clone() else {
            return;
        };
        if model_too {
            match client.list_models().await {
                Ok(models) if !models.is_empty() => {
                    let mut cfg = client.config().clone();
                    cfg.model = models[0].clone();
                    self.agent.set_model(&cfg.model);
                    self.client = ModelClient::new(cfg).ok().or(self.client.take());
                }
                Ok(_) => {}
                Err(e) => self.emit_error(
                    e.kind(),
                    format!("cannot ask the endpoint for its models: {e}"),
                ),
            }
        }
        if self.agent.settings.window_source != super::WindowSource::Config
            && let Some(c) = self.client.clone()
            && let Some(n) = c.server_context_window().await
        {
            self.agent.settings.context_window = n;
            self.agent.settings.window_source = super::WindowSource::Server;
        }
    }

    /// Looks for the server's tokenizer, unless the settings say local or tiktoken already
    /// knows the model's own encoding. Runs after `ready` is out, so that neither the probe nor
    /// the first counting delays it; the next `budget` names the counter.
    async fn find_tokenizer(&mut self) {
        self.tokenizer = None;
        self.agent.exact.disable();
        let Some(client) = self.client.clone() else {
            return;
        };
        if !self.agent.settings.server_tokenizer || !self.agent.counter.approximate {
            return;
        }
        if let Some(tok) = client.detect_tokenizer().await {
            self.agent.exact.enable(tok.label());
            self.tokenizer = Some(tok);
        }
    }

    /// Asks the server's tokenizer for every text of the main context it has not counted yet
    /// (a few per step: the new messages, the metadata, whatever changed). True when it asked.
    /// What fails keeps its local estimate and is asked again next time (a busy server can be
    /// slow to answer); a refusal, or three rounds in a row with failures, ends server counting
    /// with a note, and the local counts stand from then on.
    async fn refresh_counts(&mut self) -> bool {
        use futures_util::StreamExt;
        let Some(tok) = self.tokenizer.clone() else {
            return false;
        };
        let jobs = self.agent.uncounted();
        if jobs.is_empty() {
            return false;
        }
        let results: Vec<_> = futures_util::stream::iter(jobs)
            .map(|(key, text)| {
                let tok = tok.clone();
                async move { (key, tok.count(&text).await) }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        let mut failure = None;
        for (key, r) in results {
            match r {
                Ok(n) => self.agent.record_count(key, n),
                Err(e) => failure = Some(e),
            }
        }
        match &failure {
            None => self.tokenizer_failures = 0,
            Some(e) if e.retryable() && self.tokenizer_failures < 2 => {
                self.tokenizer_failures += 1;
                tracing::warn!(error = %e, "the server's tokenizer failed; asking again next time");
                failure = None;
            }
            Some(_) => {}
        }
        if let Some(e) = failure {
            self.tokenizer = None;
            self.tokenizer_failures = 0;
            self.agent.exact.disable();
            self.emit_error(
                "tokenizer",
                format!(
                    "the server's tokenizer failed ({e}); counting with {} (approximate) from now on",
                    self.agent.counter.encoding
                ),
            );
        }
        true
    }

    /// Takes the window an overflow error states when it is smaller than the one in use (the
    /// server's limit is the real one, whatever the settings or the model table said).
    fn learn_window(&mut self, overflow: &str) {
        let s = &mut self.agent.settings;
        if let Some(n) = crate::model::window_in_overflow(overflow)
            && n < s.context_window
        {
            tracing::info!(
                from = s.context_window,
                to = n,
                "the server states a smaller context window"
            );
            s.context_window = n;
            s.window_source = super::WindowSource::Server;
            self.emit(EventKind::Budget(self.agent.budget()));
        }
    }

    /// Brings the counts up to date and sends the budget again if anything was counted.
    async fn recount(&mut self) {
        if self.refresh_counts().await {
            self.emit(EventKind::Budget(self.agent.budget()));
        }
    }

    fn emit_ready(&mut self) {
        let a = &self.agent;
        self.emit(EventKind::Ready {
            agent: a.name().to_string(),
            model: self.client.as_ref().map(|c| c.model().to_string()),
            base_url: self.client.as_ref().map(|c| c.base_url().to_string()),
            recall: a.state.recall_count,
            archival: a.state.archival_count,
            queue: a.fifo.len(),
            policy: a.state.policy.describe(),
        });
        self.emit(EventKind::Budget(self.agent.budget()));
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
        let stale = match self.agent.archival_cache() {
            Ok(c) => c
                .passages
                .values()
                .filter(|p| p.embedding_model.as_deref() != Some(model.as_str()))
                .count(),
            Err(e) => return self.emit_error("store", e.to_string()),
        };
        if stale > 0 {
            self.emit_error(
                "embedding_model_changed",
                format!(
                    "{stale} archival passages are not embedded with {model}; searches rank them by words after the rest. \
                     Run `memscope archival reembed --embedding-model {model}` to embed them again"
                ),
            );
        }
    }

    async fn run(mut self) -> Result<(), StoreError> {
        self.discover(self.discover_model).await;
        self.emit_ready();
        self.find_tokenizer().await;
        self.recount().await;
        while let Some(cmd) = self.next_command().await {
            match cmd {
                Command::UserMessage(text) => self.run_chain(text).await?,
                Command::Connect { client, provider } => match ModelClient::new(client) {
                    Ok(client) => {
                        self.client = Some(client);
                        if let Some(p) = provider {
                            self.agent.settings.json_format = p.json_format;
                            self.agent.settings.stream_usage = p.stream_usage;
                        }
                        self.discover(true).await;
                        self.emit_ready();
                        self.find_tokenizer().await;
                        self.recount().await;
                    }
                    Err(e) => self.emit_error(e.kind(), e.to_string()),
                },
                Command::Shutdown | Command::ShutdownNow => break,
                Command::InsertPassage(text) => {
                    let embeds = self.embed_passage(&text).await;
                    self.insert_passage(&text, embeds.as_ref())?;
                    self.recount().await;
                }
                other => {
                    self.handle_side_command(other)?;
                    self.recount().await;
                }
            }
        }
        Ok(())
    }

    /// Commands that never start a chain. Returns true for `Interrupt`.
    fn handle_side_command(&mut self, cmd: Command) -> Result<bool, StoreError> {
        match cmd {
            Command::SetStepMode(on) => {
                self.step_mode = on;
                if !on {
                    self.run_to_end = false;
                }
            }
            Command::EditCore { label, value } => self.edit_core(&label, &value)?,
            Command::Interrupt => return Ok(true),
            Command::ShutdownNow => {
                self.stopping = true;
                return Ok(true);
            }
            // With an embedding model the passage is embedded first, which waits for the
            // chain to end; without one it is saved at once.
            Command::InsertPassage(text) => {
                match self.client.as_ref().is_some_and(|c| c.has_embeddings()) {
                    true => self.pending.push_back(Command::InsertPassage(text)),
                    false => self.insert_passage(&text, None)?,
                }
            }
            Command::DeletePassage(id) => match self.agent.delete_passage(id)? {
                true => self.emit(EventKind::ArchivalEdited {
                    added: vec![],
                    deleted: vec![id],
                    message: format!("deleted passage {id}"),
                }),
                false => self.emit_error("edit_refused", format!("there is no passage {id}")),
            },
            Command::Step | Command::Continue => {}
            Command::UserMessage(_) | Command::Shutdown | Command::Connect { .. } => {
                self.pending.push_back(cmd)
            }
        }
        Ok(false)
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
            Ok((added, message)) => {
                self.emit(EventKind::ArchivalEdited {
                    added,
                    deleted: vec![],
                    message,
                });
                self.emit(EventKind::Budget(self.agent.budget()));
            }
            Err(why) => self.emit_error("edit_refused", why),
        }
        Ok(())
    }

    fn edit_core(&mut self, label: &str, value: &str) -> Result<(), StoreError> {
        match self.agent.edit_core_by_hand(label, value)? {
            Ok(done) => {
                self.emit(EventKind::CoreMemoryUpdated {
                    label: label.to_string(),
                    value: value.to_string(),
                    chars: done.chars,
                    limit: done.limit,
                    source: EditSource::User,
                });
                self.emit(EventKind::Budget(self.agent.budget()));
            }
            Err(why) => self.emit_error("edit_refused", why),
        }
        Ok(())
    }

    async fn run_chain(&mut self, text: String) -> Result<(), StoreError> {
        // The first message of a session is preceded by a login event, so the agent knows a new
        // session began (and when the last one was).
        let mut new = Vec::with_capacity(2);
        if !self.logged_in {
            self.logged_in = true;
            let last = self
                .agent
                .fifo
                .last()
                .map(|m| m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string());
            new.push(
                self.agent
                    .event_message(MessageKind::Login, last.as_deref().unwrap_or("never")),
            );
        }
        let msg = self.agent.event_message(MessageKind::UserMessage, &text);
        let id = msg.id;
        new.push(msg);
        self.agent.commit(&new, &[], &[], None)?;
        self.emit(EventKind::UserMessage { id, text });
        self.refresh_counts().await;
        self.emit(EventKind::Budget(self.agent.budget()));
        self.run_to_end = false;
        let mut trigger = Trigger::UserMessage;
        let mut steps = 0u32;
        if self.client.is_none() {
            self.emit_error(
                "no_model",
                "no model endpoint is configured: set --base-url (or OPENAI_BASE_URL) and --model; \
                 the message was saved",
            );
            self.emit(EventKind::ChainEnded { steps });
            return Ok(());
        }
        loop {
            if steps >= self.agent.settings.chain_cap {
                self.emit_error(
                    "chain_cap",
                    format!(
                        "stopped after {steps} model calls for one input (the chain cap); the agent now waits for you"
                    ),
                );
                break;
            }
            self.recount().await;
            if self.agent.needs_flush() {
                match self.flush().await? {
                    true => {}
                    false => break,
                }
            }
            if let Gate::Stop = self.gate(&trigger).await? {
                self.emit_error(
                    "interrupted",
                    "the chain was stopped before the next model call",
                );
                break;
            }
            steps += 1;
            match self.step(&trigger).await? {
                Some(Next::Warn) => trigger = Trigger::MemoryWarning,
                Some(Next::Heartbeat(t)) => trigger = t,
                Some(Next::Yield) | None => break,
            }
        }
        self.recount().await;
        self.emit(EventKind::ChainEnded { steps });
        Ok(())
    }

    /// The step gate: in step mode, wait for `Step` or `Continue`.
    async fn gate(&mut self, trigger: &Trigger) -> Result<Gate, StoreError> {
        if !self.step_mode || self.run_to_end {
            return Ok(Gate::Go);
        }
        self.emit(EventKind::Paused {
            trigger: trigger.clone(),
            budget: self.agent.budget(),
        });
        loop {
            let cmd = if self.commands_closed {
                None
            } else {
                self.commands.recv().await
            };
            match cmd {
                None => {
                    self.commands_closed = true;
                    return Ok(Gate::Stop);
                }
                Some(Command::Step) => return Ok(Gate::Go),
                Some(Command::Continue) => {
                    self.run_to_end = true;
                    return Ok(Gate::Go);
                }
                Some(Command::SetStepMode(false)) => {
                    self.step_mode = false;
                    return Ok(Gate::Go);
                }
                Some(Command::Interrupt) => return Ok(Gate::Stop),
                Some(Command::ShutdownNow) => {
                    self.stopping = true;
                    return Ok(Gate::Stop);
                }
                Some(Command::Shutdown) => {
                    self.pending.push_front(Command::Shutdown);
                    return Ok(Gate::Stop);
                }
                Some(Command::EditCore { label, value }) => {
                    self.edit_core(&label, &value)?;
                    self.emit(EventKind::Paused {
                        trigger: trigger.clone(),
                        budget: self.agent.budget(),
                    });
                }
                Some(other) => {
                    self.handle_side_command(other)?;
                }
            }
        }
    }

    /// A model call that still hears commands. `Err(Interrupted)` when the user interrupts.
    async fn call_model(&mut self, body: &[u8], stream: bool) -> Result<ChatReply, ModelError> {
        let client = self
            .client
            .clone()
            .ok_or(ModelError::Connect("no model configured".into()))?;
        let (retry_tx, mut retry_rx) = unbounded_channel::<EventKind>();
        let mut on_retry = move |e: &ModelError, attempt: u32, wait: std::time::Duration| {
            let _ = retry_tx.send(EventKind::Retry {
                kind: e.kind().to_string(),
                message: e.to_string(),
                attempt,
                wait_ms: wait.as_millis() as u64,
            });
        };
        let delta_tx = self.events.clone();
        let step = self.agent.state.step;
        let mut on_delta = move |piece: &str| {
            let _ = delta_tx.send(Event {
                step,
                time: Utc::now(),
                kind: EventKind::ThoughtDelta {
                    text: piece.to_string(),
                },
            });
        };
        let call = client.chat(body, stream, &mut on_retry, &mut on_delta);
        tokio::pin!(call);
        loop {
            tokio::select! {
                r = &mut call => {
                    while let Ok(ev) = retry_rx.try_recv() { self.emit(ev); }
                    return r;
                }
                Some(ev) = retry_rx.recv() => self.emit(ev),
                cmd = self.commands.recv(), if !self.commands_closed => {
                    let heard = match cmd {
                        None => { self.commands_closed = true; Heard::Handled }
                        Some(c) => match self.handle_side_command(c) {
                            Ok(true) => Heard::Interrupt,
                            Ok(false) => Heard::Handled,
                            Err(e) => { self.emit_error("store", e.to_string()); Heard::Handled }
                        },
                    };
                    if let Heard::Interrupt = heard {
                        return Err(ModelError::Interrupted);
                    }
                }
            }
        }
    }

    /// One model call and its effects. `None` when the chain must stop (error, interrupt).
    async fn step(&mut self, trigger: &Trigger) -> Result<Option<Next>, StoreError> {
        self.agent.state.step += 1;
        let mut overflowed = false;
        loop {
            let stream = self.client.as_ref().is_some_and(ModelClient::streams);
            let mut record = self.agent.request_record();
            if let RequestRecord::Step {
                stream: s,
                stream_usage,
                ..
            } = &mut record
            {
                *s = stream;
                *stream_usage = stream && self.agent.settings.stream_usage;
            }
            let body = self.agent.encode_request(&record);
            let sent = self.agent.budget();
            let local_prompt_tokens = sent.total;
            self.emit(EventKind::ModelCall {
                trigger: trigger.clone(),
            });
            let started_at = Utc::now();
            let t0 = Instant::now();
            crate::crash::point("step:calling_model");
            let reply = match self.call_model(&body, stream).await {
                Ok(r) => r,
                Err(ModelError::ContextOverflow(msg)) if !overflowed => {
                    overflowed = true;
                    self.learn_window(&msg);
                    self.emit_error(
                        "context_overflow",
                        format!("the server says the prompt is too long ({msg}); evicting"),
                    );
                    if self.flush().await? {
                        continue;
                    }
                    self.agent.state.step -= 1;
                    return Ok(None);
                }
                Err(e) => {
                    self.agent.state.step -= 1;
                    let message = match &e {
                        ModelError::Interrupted => {
                            "the model call was interrupted; the unfinished step was dropped"
                                .to_string()
                        }
                        other => format!("{other}; the message was kept and the agent is waiting"),
                    };
                    self.emit_error(e.kind(), message);
                    return Ok(None);
                }
            };
            let model_ms = t0.elapsed().as_secs_f64() * 1000.0;
            crate::crash::point("step:reply_received");
            let native = self.agent.state.policy.tool_mode == crate::memory::ToolMode::Native;
            if !self.told_tools_left_out
                && super::policy::tools_left_out(&sent, reply.usage.prompt_tokens, native)
            {
                self.told_tools_left_out = true;
                self.emit_error(
                    "tools_not_in_prompt",
                    format!(
                        "the server counted {} prompt tokens where memscope sent {}, {} of them function schemas: \
                         its chat template seems to leave the functions out, so the model cannot see them; \
                         try --tool-mode json",
                        reply.usage.prompt_tokens.unwrap_or_default(),
                        sent.total,
                        sent.functions
                    ),
                );
            }
            let reply =
                super::step::interpret(reply, &self.agent.state.policy, self.agent.state.step);
            let parsed = parse_first(&reply);
            let embeds = self.fetch_embeddings(&parsed).await;
            let report = self.agent.apply_step(StepInput {
                trigger,
                request: record,
                reply: &reply,
                parsed,
                embeds,
                started_at,
                model_ms,
                local_prompt_tokens,
            })?;
            crate::crash::point("step:committed");
            for ev in report.events {
                self.emit(ev);
            }
            return Ok(Some(report.next));
        }
    }

    async fn fetch_embeddings(
        &self,
        parsed: &Option<Result<crate::functions::ParsedCall, crate::functions::CallError>>,
    ) -> Option<Embeds> {
        let client = self.client.as_ref().filter(|c| c.has_embeddings())?;
        let inputs = embedding_inputs(parsed)?;
        let model = client.embedding_model()?.to_string();
        let result = client.embed(&inputs).await.map_err(|e| e.to_string());
        Some(Embeds { model, result })
    }

    /// Evicts the oldest messages into a new recursive summary. False when nothing could be
    /// evicted or the user interrupted.
    async fn flush(&mut self) -> Result<bool, StoreError> {
        let a = &self.agent;
        let budget = a.budget();
        let window = a.settings.context_window;
        let summary_cap = (window / 10).clamp(64, 1024);
        let fixed = budget.total - budget.messages - budget.summary;
        // The target is in the server's tokens; the plan works in local ones.
        let target = ((a.settings.flush_target_tokens() as f64 / a.server_ratio.max(1.0)) as u32)
            .saturating_sub(fixed + summary_cap);
        let tokens: Vec<u32> = a
            .fifo
            .iter()
            .map(|m| a.message_tokens(m) + crate::tokens::MESSAGE_OVERHEAD)
            .collect();
        let cut_ok: Vec<bool> = a.fifo.iter().map(|m| m.role != Role::Tool).collect();
        let k = plan_eviction(&tokens, &cut_ok, target, KEEP_LAST);
        if k == 0 {
            self.emit_error(
                "memory_full",
                "the context is full but no more messages can be evicted (the newest are always kept); \
                 shorten core memory or raise the context window",
            );
            return Ok(false);
        }
        let previous = a.state.summary.as_ref().map(|s| s.text.clone());
        let transcript = a.fifo[..k]
            .iter()
            .map(|m| format!("[{}] {}", label(m), text::truncate(&m.text, 2000)))
            .collect::<Vec<_>>()
            .join("\n");
        let prompt = format!(
            "Previous summary:\n{}\n\nMessages leaving the context ({} of them):\n{}",
            previous.as_deref().unwrap_or("(none yet)"),
            k,
            transcript
        );
        let body = json!({
            "model": a.settings.model,
            "messages": [
                {"role": "system", "content": SUMMARIZER},
                {"role": "user", "content": prompt},
            ],
            "max_tokens": summary_cap,
        });
        let started_at = Utc::now();
        let t0 = Instant::now();
        crate::crash::point("flush:calling_model");
        let result = self
            .call_model(&serde_json::to_vec(&body).expect("json"), false)
            .await;
        let model_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let (summary_text, raw) = match result {
            Ok(r) if r.content.as_deref().is_some_and(|c| !c.trim().is_empty()) => (
                r.content.clone().unwrap_or_default().trim().to_string(),
                r.raw,
            ),
            Err(ModelError::Interrupted) => {
                self.emit_error(
                    "interrupted",
                    "the summary call was interrupted; nothing was evicted",
                );
                return Ok(false);
            }
            other => {
                let why = match other {
                    Ok(_) => "the model returned an empty summary".to_string(),
                    Err(e) => e.to_string(),
                };
                self.emit_error(
                    "summary_failed",
                    format!("{why}; kept a plain extract of the evicted messages instead"),
                );
                (
                    fallback_summary(previous.as_deref(), &self.agent.fifo[..k]),
                    Value::Null,
                )
            }
        };
        crate::crash::point("flush:summary_received");
        self.apply_flush(k, summary_text, body, raw, started_at, model_ms)?;
        crate::crash::point("flush:committed");
        Ok(true)
    }

    fn apply_flush(
        &mut self,
        k: usize,
        summary_text: String,
        request: Value,
        response: Value,
        started_at: chrono::DateTime<Utc>,
        model_ms: f64,
    ) -> Result<(), StoreError> {
        let a = &mut self.agent;
        let cap_tokens = (a.settings.context_window / 10).clamp(64, 1024);
        let mut summary_text = summary_text;
        // Keep the summary within its share of the window even if the model ignored max_tokens.
        while a.counter.count(&summary_text) > cap_tokens && summary_text.chars().count() > 16 {
            let keep = summary_text.chars().count() * 3 / 4;
            summary_text = summary_text.chars().take(keep).collect::<String>() + "…";
        }
        let evicted_total = a
            .state
            .summary
            .as_ref()
            .map(|s| s.evicted_total)
            .unwrap_or(0)
            + k as u64;
        a.fifo.drain(..k);
        a.state.fifo.drain(..k);
        let live: std::collections::HashSet<u64> = a.state.fifo.iter().copied().collect();
        a.exact.retain_messages(|id| live.contains(&id));
        let rendered = super::agent::summary_event_text(
            &summary_text,
            evicted_total,
            a.state.recall_count + 1,
        );
        let tokens = a.counter.count(&rendered);
        a.state.summary = Some(Summary {
            text: summary_text.clone(),
            created_at: Utc::now(),
            evicted_total,
            tokens,
        });
        a.state.warned = false;
        let summary_msg = a.make_message(
            Role::System,
            MessageKind::Summary,
            rendered,
            summary_text.clone(),
            false,
        );
        let trace = StepTrace {
            step: a.state.step,
            trigger: format!("summary of {k} evicted messages"),
            request: RequestRecord::Raw { body: request },
            response,
            prompt_tokens: None,
            completion_tokens: None,
            started_at,
            model_ms,
            results: Vec::new(),
        };
        a.commit(&[], &[summary_msg], &[], Some(&trace))?;
        self.emit(EventKind::Summary {
            evicted: k,
            summary: summary_text,
        });
        self.emit(EventKind::Budget(self.agent.budget()));
        Ok(())
    }
}

fn label(m: &crate::memory::Message) -> &'static str {
    match m.kind {
        MessageKind::UserMessage => "user",
        MessageKind::Assistant => "agent",
        MessageKind::ToolResult => "function result",
        MessageKind::Heartbeat => "heartbeat",
        MessageKind::SystemAlert | MessageKind::Summary => "system",
        MessageKind::Login => "login",
    }
}

/// A summary made without the model: the previous summary and the start of each message.
fn fallback_summary(previous: Option<&str>, evicted: &[crate::memory::Message]) -> String {
    let mut s = previous.map(|p| format!("{p}\n")).unwrap_or_default();
    s.push_str("Later (extract, the summariser was unavailable):");
    for m in evicted.iter().filter(|m| !m.text.trim().is_empty()) {
        s.push_str(&format!(" [{}] {}", label(m), text::one_line(&m.text, 80)));
    }
    s
}
