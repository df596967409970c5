//! One agent's memory, loaded from the store: building the main context, counting it, and
//! committing what changes.
//!
//! Contract: [`Agent`] owns the in-memory copy of an agent (state, FIFO messages, archival
//! embeddings) and the store handle. Every change goes through [`Agent::commit`], one redb write
//! transaction. Nothing here talks to the network or the terminal.

use std::sync::{Arc, OnceLock};

use chrono::Utc;
use serde_json::Value;

pub use super::exec::ArchivalCache;
use super::settings::EngineSettings;
use crate::functions;
use crate::memory::{
    AgentState, CompiledSystem, CoreEdits, CoreMemory, Message, MessageKind, Passage, Role,
    StepTrace, ToolMode,
};
use crate::store::{Commit, Store, StoreError};
use crate::tokens::{ExactCounts, TokenCounter};

pub use super::prompt::{BASE_INSTRUCTIONS, DEFAULT_HUMAN, DEFAULT_PERSONA};

/// A mark with its key (the user message's id) and the shared text it names, if any.
type MarkToWrite = (u64, crate::store::Mark, Option<(u64, String)>);

pub struct Agent {
    /// Shared so that faces can read (never write) alongside the engine.
    pub store: Arc<Store>,
    pub state: AgentState,
    /// The FIFO queue, oldest first (mirrors `state.fifo`). Private: it changes only by
    /// [`Agent::commit`] (appends) and [`Agent::evict_front`] (a flush).
    fifo: Vec<Message>,
    pub settings: EngineSettings,
    pub counter: TokenCounter,
    pub(crate) archival: Option<ArchivalCache>,
    pub(super) tools: Value,
    /// `tools` as the text the function section costs in native mode (serialized once).
    tools_text: String,
    /// Token counts, computed on first use so that opening an agent never waits for the
    /// tokenizer to load.
    pub(super) tools_tokens: OnceLock<u32>,
    pub(super) base_tokens: OnceLock<u32>,
    pub(super) core_tokens: OnceLock<u32>,
    pub(super) metadata_tokens: OnceLock<u32>,
    /// `usage.prompt_tokens` of the last model call.
    pub server_prompt_tokens: Option<u32>,
    /// How much larger the server's count of the last prompt was than the local one (at least
    /// 1): memory-pressure decisions scale local counts by it, since a model's own tokenizer can
    /// need far more tokens than the stand-in encoding.
    pub server_ratio: f64,
    /// Counts from the server's tokenizer, when it has one; they replace the local counts.
    pub exact: ExactCounts,
    /// The next journal sequence number (see `journal.rs`).
    pub(super) journal_seq: std::sync::atomic::AtomicU64,
    /// Journal entries that go with the next commit.
    pub(super) staged: Vec<crate::protocol::Event>,
    /// The sections of the last step request sent, with their texts (see `cache.rs`).
    pub(super) last_prompt: Vec<crate::tokens::Segment>,
    /// The next request's sections before the queue, made on first use (see `cache.rs`).
    pub(super) prompt_head: OnceLock<Vec<crate::tokens::Segment>>,
    /// The trace key and commit count of the last step committed this session: while no other
    /// commit follows it, its snapshot is the state a new input's mark needs.
    snapshot_at: Option<(u64, u64)>,
    /// The prompt cache this session: the last call and running figures.
    pub cache: crate::tokens::CacheMeter,
    /// A memory-pressure warning went to the model for the input being answered: an input is
    /// warned at most once, whatever its chain writes (cleared as each input's chain starts).
    pub warned_this_input: bool,
    /// A flush's summary call went to the server after the last step (see `cache.rs`).
    pub(super) summary_between: bool,
}

impl Agent {
    /// Loads `name` from the store, creating it with the default core memory if it is new.
    pub fn open(
        store: impl Into<Arc<Store>>,
        name: &str,
        settings: EngineSettings,
    ) -> Result<Agent, StoreError> {
        let store = store.into();
        if store.is_writer() {
            // One writer per agent (a PostgreSQL store is shared; a redb file has one writer).
            store.claim(name)?;
        }
        let counter = TokenCounter::for_model(&settings.model);
        let loaded = match store.load_agent(name) {
            // A reader shows an agent whose own record is damaged as its newest step snapshot
            // left it (`dump` says so; `check --repair` rebuilds the record the same way).
            Err(e) if !store.is_writer() => match store.rebuild_agent(name).ok().flatten() {
                Some(rebuilt) => Some(rebuilt.state),
                None => return Err(e),
            },
            other => other?,
        };
        let (state, fifo, created) = match loaded {
            Some(state) => {
                // A reader shows what it can of a queue with a damaged record (`dump` and
                // `check` name it); a writer stops before writing anything on top of it.
                let fifo = if store.is_writer() {
                    store.recall_get(name, &state.fifo)?
                } else {
                    store.recall_get_readable(name, &state.fifo)?
                };
                (state, fifo, false)
            }
            None => (
                AgentState::new(
                    name,
                    CoreMemory::with_defaults(DEFAULT_PERSONA, DEFAULT_HUMAN),
                ),
                Vec::new(),
                true,
            ),
        };
        let mut agent = Agent {
            store,
            state,
            fifo,
            settings,
            counter,
            archival: None,
            tools: functions::tools_json(),
            tools_text: functions::tools_json().to_string(),
            tools_tokens: OnceLock::new(),
            base_tokens: OnceLock::new(),
            core_tokens: OnceLock::new(),
            metadata_tokens: OnceLock::new(),
            server_prompt_tokens: None,
            server_ratio: 1.0,
            exact: ExactCounts::default(),
            journal_seq: std::sync::atomic::AtomicU64::new(0),
            staged: Vec::new(),
            last_prompt: Vec::new(),
            snapshot_at: None,
            prompt_head: OnceLock::new(),
            cache: Default::default(),
            warned_this_input: false,
            summary_between: false,
        };
        agent.take_saved_window();
        if agent.state.system.is_none() {
            agent.recompile("opened");
        }
        if let Some(saved) = &agent.state.last_prompt {
            agent.last_prompt = super::cache::restore(saved);
        }
        let next = agent.store.journal_next(name)?;
        agent.journal_seq = std::sync::atomic::AtomicU64::new(next);
        if created && agent.store.is_writer() {
            agent.commit(&[], &[], &[], None)?;
        }
        Ok(agent)
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Applies agent settings given on the command line or in the config file, and saves them
    /// with the agent when they change anything.
    pub fn apply_policy(
        &mut self,
        o: &crate::memory::state::PolicyOverride,
    ) -> Result<(), StoreError> {
        if o.apply(&mut self.state.policy) {
            self.tools_tokens = OnceLock::new();
            self.prompt_head = OnceLock::new();
            // The queue travels differently in the other tool mode.
            let mut fifo = std::mem::take(&mut self.fifo);
            for m in &mut fifo {
                self.count_message(m);
            }
            self.fifo = fifo;
            if self.state.policy.core_edits == CoreEdits::Recompile && self.core_edits_pending() > 0
            {
                self.recompile("core edits set to recompile");
            }
            if self.store.is_writer() {
                self.commit(&[], &[], &[], None)?;
            }
        }
        Ok(())
    }

    /// Switches the model (after asking the server which one it serves).
    pub fn set_model(&mut self, model: &str) {
        self.settings.set_model(model);
        self.counter = TokenCounter::for_model(model);
        self.tools_tokens = OnceLock::new();
        self.base_tokens = OnceLock::new();
        self.core_tokens = OnceLock::new();
        self.metadata_tokens = OnceLock::new();
        self.prompt_head = OnceLock::new();
        self.exact.disable();
    }

    /// Notes an edit of core block `label` by `by` (`the agent`, `the user`): with
    /// [`CoreEdits::Recompile`] the system message is compiled again at once; with
    /// [`CoreEdits::Append`] it stays as it is and the memory-update text to append to the queue
    /// is returned.
    pub fn core_edited(&mut self, label: &str, by: &str) -> Option<String> {
        self.state.core_updated_at = Utc::now();
        match self.state.policy.core_edits {
            CoreEdits::Recompile => {
                self.recompile(&format!("core block '{label}' edited by {by}"));
                None
            }
            CoreEdits::Append => {
                let value = self.state.core.get(label).map(|b| b.value.as_str());
                Some(super::prompt::memory_update(
                    label,
                    value.unwrap_or_default(),
                    by,
                ))
            }
        }
    }

    /// Builds the system message's changing parts again (core memory, metadata), saying why.
    /// Saved with the next commit.
    pub fn recompile(&mut self, reason: &str) {
        self.state.system = Some(super::prompt::compile(&self.state, reason));
        self.core_tokens = OnceLock::new();
        self.metadata_tokens = OnceLock::new();
        self.prompt_head = OnceLock::new();
    }

    /// The system message's changing parts as last compiled.
    pub fn compiled(&self) -> &CompiledSystem {
        self.state
            .system
            .as_ref()
            .expect("compiled when the agent is opened")
    }

    pub(super) fn metadata(&self) -> &str {
        &self.compiled().metadata
    }

    /// Core blocks whose edits have not reached the system message yet.
    pub fn core_edits_pending(&self) -> u32 {
        let shown = &self.compiled().core;
        let live = &self.state.core;
        let differs =
            |b: &crate::memory::Block| shown.get(&b.label).map(|s| &s.value) != Some(&b.value);
        live.blocks.iter().filter(|b| differs(b)).count() as u32
            + shown
                .blocks
                .iter()
                .filter(|b| live.get(&b.label).is_none())
                .count() as u32
    }

    /// The one system message: fixed instructions, core memory as compiled, memory metadata.
    pub fn system_prompt(&self) -> String {
        super::prompt::system_prompt(
            self.state.policy.tool_mode,
            self.state.instructions.as_deref(),
            self.compiled(),
        )
    }

    /// The instructions at the head of the system message: the agent's own, or memscope's.
    pub fn base_instructions(&self) -> &str {
        self.state
            .instructions
            .as_deref()
            .unwrap_or(BASE_INSTRUCTIONS)
    }

    /// The summary as the system-alert event that follows the system message.
    pub fn summary_event(&self) -> Option<String> {
        let s = self.state.summary.as_ref()?;
        Some(if s.rendered.is_empty() {
            super::prompt::summary_event_text(&s.text, s.evicted_total, None, s.created_at)
        } else {
            s.rendered.clone()
        })
    }

    /// The FIFO queue, oldest first.
    pub fn fifo(&self) -> &[Message] {
        &self.fifo
    }

    /// Takes the oldest `k` messages out of the queue (a flush; recall keeps them), with the
    /// exact counts of the messages that left. Committed with the flush's summary.
    pub fn evict_front(&mut self, k: usize) -> Vec<Message> {
        let k = k.min(self.fifo.len());
        let evicted: Vec<Message> = self.fifo.drain(..k).collect();
        self.state.fifo.drain(..k);
        let live: std::collections::HashSet<u64> = self.state.fifo.iter().copied().collect();
        self.exact.retain_messages(|id| live.contains(&id));
        evicted
    }

    /// Keeps only the oldest `len` messages of the queue in memory (they all stay in recall);
    /// nothing is committed. For benchmarks that hold the context at one size.
    #[doc(hidden)]
    pub fn forget_newest(&mut self, len: usize) {
        self.fifo.truncate(len);
        self.state.fifo.truncate(len);
    }

    /// The text the function section costs: the schemas in native mode, their description in
    /// JSON mode.
    pub(super) fn functions_text(&self) -> &str {
        match self.state.policy.tool_mode {
            ToolMode::Native => &self.tools_text,
            ToolMode::Json => crate::functions::json_mode::instructions(),
        }
    }

    /// A new message with the next id and its token count cached.
    pub fn make_message(
        &mut self,
        role: Role,
        kind: MessageKind,
        content: String,
        text: String,
        searchable: bool,
    ) -> Message {
        let id = self.state.next_message_id;
        self.state.next_message_id += 1;
        let mut m = Message {
            id,
            role,
            kind,
            content,
            text,
            searchable,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            created_at: Utc::now(),
            tokens: 0,
            step: self.state.step,
        };
        self.count_message(&mut m);
        m
    }

    /// A user-role JSON event (`user_message`, `heartbeat`, `system_alert`, `login`).
    pub fn event_message(&mut self, kind: MessageKind, text: &str) -> Message {
        let content = super::prompt::event_json(kind, text);
        let searchable = kind == MessageKind::UserMessage;
        self.make_message(Role::User, kind, content, text.to_string(), searchable)
    }

    /// Appends `new` to the queue and recall and writes everything in one transaction.
    /// `recall_only` messages (summaries) go to recall but not the queue.
    pub fn commit(
        &mut self,
        new: &[Message],
        recall_only: &[Message],
        passages: &[Passage],
        trace: Option<&StepTrace>,
    ) -> Result<(), StoreError> {
        self.commit_marked(new, recall_only, passages, trace, None)
    }

    /// A user's input committed with a mark, keyed by the user message's id (the last of
    /// `new`, after any login event): the state as it was before, which retry and pop go back
    /// to.
    pub fn commit_input(
        &mut self,
        new: &[Message],
        passages: &[Passage],
    ) -> Result<(), StoreError> {
        let key = new
            .iter()
            .map(|m| m.id)
            .max()
            .unwrap_or(self.state.next_message_id);
        // The input's messages and passages already took their ids: the state before them
        // had those ids still to give.
        let mut before = self.state.clone();
        if let Some(first) = new.iter().map(|m| m.id).min() {
            before.next_message_id = first;
        }
        if let Some(first) = passages.iter().map(|p| p.id).min() {
            before.next_passage_id = first;
        }
        let journal_next = self.journal_next();
        // Nothing committed since the last step: its snapshot is that state, named by key.
        let mark = match self.snapshot_at {
            Some((trace, commits)) if commits == self.state.commits => (
                key,
                crate::store::Mark {
                    state: None,
                    trace: Some(trace),
                    journal_next,
                },
                None,
            ),
            _ => {
                let (state, text) = crate::memory::snapshot::compact(&before);
                let mark = crate::store::Mark {
                    state: Some(state),
                    trace: None,
                    journal_next,
                };
                (key, mark, Some(text))
            }
        };
        self.commit_marked(new, &[], passages, None, Some(mark))
    }

    fn commit_marked(
        &mut self,
        new: &[Message],
        recall_only: &[Message],
        passages: &[Passage],
        trace: Option<&StepTrace>,
        mark: Option<MarkToWrite>,
    ) -> Result<(), StoreError> {
        self.state.commits += 1;
        self.fifo.extend(new.iter().cloned());
        self.state.fifo.extend(new.iter().map(|m| m.id));
        self.state.recall_count += (new.len() + recall_only.len()) as u64;
        self.state.archival_count += passages.len() as u64;
        let all: Vec<Message>;
        let messages: &[Message] = if recall_only.is_empty() {
            new
        } else {
            all = new.iter().chain(recall_only).cloned().collect();
            &all
        };
        self.state.window = Some(crate::memory::SavedWindow {
            tokens: self.settings.context_window,
            source: self.settings.window_source.as_str().to_string(),
        });
        let key = trace.map(|_| {
            self.state.next_trace_id += 1;
            self.state.next_trace_id - 1
        });
        let journal = self.take_staged();
        // A trace names the system message and summary it shares with others, and keeps the
        // state this commit leaves (its long fields shared the same way).
        let stored = trace.map(|t| {
            let (request, mut texts) = t.request.stored();
            let (after, state_text) = crate::memory::snapshot::compact(&self.state);
            texts.push(state_text);
            let trace = StepTrace {
                request,
                after: Some(after),
                journal_next: Some(self.journal_next()),
                ..t.clone()
            };
            (trace, texts)
        });
        let texts: Vec<(u64, &str)> = stored
            .iter()
            .flat_map(|(_, texts)| texts.iter().map(|(id, t)| (*id, t.as_str())))
            .chain(
                mark.iter()
                    .filter_map(|(_, _, text)| text.as_ref().map(|(id, t)| (*id, t.as_str()))),
            )
            .collect();
        let trace = stored.as_ref().zip(key).map(|((t, _), k)| (k, t));
        let name = self.state.name.clone();
        self.store.commit(
            &name,
            &Commit {
                state: Some(&self.state),
                messages,
                passages,
                delete_passages: &[],
                trace,
                journal: &journal,
                texts: &texts,
                mark: mark.as_ref().map(|(k, m, _)| (*k, m)),
            },
        )?;
        self.snapshot_at = key.map(|k| (k, self.state.commits));
        if let Some(cache) = self.archival.as_mut() {
            passages.iter().for_each(|p| cache.put(p));
        }
        Ok(())
    }

    /// Puts `m` in place of the queued message `id` (rethink, rewrite); false when it is not
    /// in the queue.
    pub(super) fn replace_queued(&mut self, id: u64, m: Message) -> bool {
        match self.fifo.iter_mut().find(|q| q.id == id) {
            Some(q) => {
                *q = m;
                true
            }
            None => false,
        }
    }
}
