//! An agent read from a file, in memscope's terms, and how it becomes a new agent in a store.
//!
//! Contract: [`Imported`] is what every import format parses to. [`Imported::write`] checks it
//! (unique block labels, values within their limits, queue ids that name its messages, tool
//! results that answer a call before them in the queue), counts the queue's tokens, and writes
//! the agent in one transaction (refusing a name already taken), so a failed import writes
//! nothing.

use chrono::Utc;

use crate::memory::{AgentState, Block, CoreMemory, Message, Passage, Role, Summary};
use crate::store::{Store, StoreError};
use crate::tokens::TokenCounter;

/// An agent as an import file holds it.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub name: String,
    /// The agent's own instructions, when they are not memscope's.
    pub instructions: Option<String>,
    /// The context window the file gives the agent, if any (shown until the agent runs).
    pub window: Option<u32>,
    pub blocks: Vec<Block>,
    /// Every message, oldest first, with ids from 1 in that order.
    pub messages: Vec<Message>,
    /// Ids of the messages in the main context, in order.
    pub in_context: Vec<u64>,
    pub passages: Vec<Passage>,
    pub summary: Option<Summary>,
    /// Tools the file gives the agent that memscope does not run.
    pub unsupported_tools: Vec<String>,
    /// Things the import kept differently or left out, to tell the user.
    pub notes: Vec<String>,
}

/// Messages put in the queue when a file's context holds none of its conversation.
const NEWEST_IN_CONTEXT: usize = 20;

/// What an import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub agent: String,
    pub blocks: usize,
    pub messages: usize,
    pub in_context: usize,
    pub passages: usize,
    pub unsupported_tools: Vec<String>,
    pub notes: Vec<String>,
}

impl ImportReport {
    pub fn describe(&self) -> String {
        let mut s = format!(
            "imported agent '{}': {} core blocks, {} messages ({} in context), {} passages",
            self.agent, self.blocks, self.messages, self.in_context, self.passages
        );
        if !self.unsupported_tools.is_empty() {
            s.push_str(&format!(
                "\nnot imported: {} tool(s) memscope cannot run: {} (messages that called them are \
                 kept)",
                self.unsupported_tools.len(),
                self.unsupported_tools.join(", ")
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("\nnote: {n}"));
        }
        s
    }
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "an agent named '{0}' already exists in this store; import it under another name with --agent NAME"
    )]
    Exists(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Exists(n) => ImportError::Exists(n),
            other => ImportError::Store(other),
        }
    }
}

impl Imported {
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(format!(
                "the agent name {:?} is not printable text",
                self.name
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for b in &self.blocks {
            if b.label.trim().is_empty() {
                return Err("a core block has an empty label".into());
            }
            if !seen.insert(b.label.as_str()) {
                return Err(format!("two core blocks are labelled '{}'", b.label));
            }
            if b.chars() > b.limit {
                return Err(format!(
                    "core block '{}' holds {} characters, over its limit of {}",
                    b.label,
                    b.chars(),
                    b.limit
                ));
            }
        }
        let ids: std::collections::HashSet<u64> = self.messages.iter().map(|m| m.id).collect();
        for id in &self.in_context {
            if !ids.contains(id) {
                return Err(format!(
                    "the context names message {id}, which the file lacks"
                ));
            }
        }
        Ok(())
    }

    /// Writes the agent into `store` as a new agent, counting tokens with `model`'s tokenizer.
    pub fn write(mut self, store: &Store, model: &str) -> Result<ImportReport, ImportError> {
        self.check().map_err(ImportError::Invalid)?;
        let counter = TokenCounter::for_model(model);
        for m in &mut self.messages {
            m.tokens = counter.count(&m.token_text());
        }
        self.leave_out_system_prompt();
        let system_messages = self
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .count();
        if system_messages > 0 {
            self.notes.push(format!(
                "{} kept in recall only (the agent's own system prompt heads its context)",
                crate::text::count(system_messages as u64, "system message")
            ));
        }
        let (mut queue, orphans) = self.queue_of(&self.in_context);
        if orphans > 0 {
            self.notes.push(format!(
                "{orphans} function result(s) whose call was not in the context stay in recall only"
            ));
        }
        // A file whose context holds none of its conversation (older Letta exports keep only
        // the system prompt there): the newest messages make the queue, so the model sees them.
        if queue.is_empty() {
            let newest: Vec<u64> = self
                .messages
                .iter()
                .filter(|m| m.role != Role::System)
                .rev()
                .take(NEWEST_IN_CONTEXT)
                .map(|m| m.id)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            queue = self.queue_of(&newest).0;
            if !queue.is_empty() {
                self.notes.push(format!(
                    "the file's context held none of its conversation: its newest {} put in the \
                     queue",
                    if queue.len() == 1 {
                        "message was".to_string()
                    } else {
                        format!("{} messages were", queue.len())
                    }
                ));
            }
        }
        let mut state = AgentState::new(
            &self.name,
            CoreMemory {
                blocks: self.blocks.clone(),
            },
        );
        state.core_updated_at = Utc::now();
        state.fifo = queue;
        state.next_message_id = self.messages.iter().map(|m| m.id + 1).max().unwrap_or(1);
        state.next_passage_id = self.passages.iter().map(|p| p.id + 1).max().unwrap_or(1);
        state.recall_count = self.messages.len() as u64;
        state.archival_count = self.passages.len() as u64;
        state.summary = self.summary.clone();
        state.instructions = self.instructions.clone();
        state.window = self.window.map(|tokens| crate::memory::state::SavedWindow {
            tokens,
            source: crate::engine::WindowSource::Imported.as_str().to_string(),
        });
        state.system = Some(crate::engine::prompt::compile(&state, "imported"));
        let recall = self
            .messages
            .iter()
            .map(|m| (m.id, serde_json::to_vec(m).expect("messages serialize")))
            .collect();
        let archival = self
            .passages
            .iter()
            .map(|p| (p.id, serde_json::to_vec(p).expect("passages serialize")))
            .collect();
        store.import(&state, &[("recall", recall), ("archival", archival)])?;
        Ok(ImportReport {
            agent: self.name,
            blocks: state.core.blocks.len(),
            messages: self.messages.len(),
            in_context: state.fifo.len(),
            passages: self.passages.len(),
            unsupported_tools: self.unsupported_tools,
            notes: self.notes,
        })
    }
}

impl Imported {
    /// The queue `ids` make where the server will accept it: a tool result whose call is not
    /// before it stays in recall only (counted), and system messages are never in it.
    fn queue_of(&self, ids: &[u64]) -> (Vec<u64>, usize) {
        let by_id: std::collections::HashMap<u64, &Message> =
            self.messages.iter().map(|m| (m.id, m)).collect();
        let mut calls = std::collections::HashSet::new();
        let mut queue = Vec::new();
        let mut orphans = 0;
        for id in ids {
            let Some(m) = by_id.get(id) else { continue };
            if m.role == Role::System {
                continue;
            }
            if m.role == Role::Tool {
                let answered = m.tool_call_id.as_ref().is_some_and(|c| calls.contains(c));
                if !answered {
                    orphans += 1;
                    continue;
                }
            }
            for c in &m.tool_calls {
                calls.insert(c.id.clone());
            }
            queue.push(*id);
        }
        (queue, orphans)
    }

    /// Leaves out the messages that are the agent's own system prompt (Letta keeps it as the
    /// first message): they are its instructions, not part of the conversation, and would show
    /// as a long system alert at its head.
    fn leave_out_system_prompt(&mut self) {
        let Some(head) = self.instructions.as_deref().map(|i| {
            let t = i.trim();
            t.char_indices()
                .nth(200)
                .map_or(t, |(at, _)| &t[..at])
                .to_string()
        }) else {
            return;
        };
        if head.is_empty() {
            return;
        }
        let prompts: Vec<u64> = self
            .messages
            .iter()
            .filter(|m| m.role == Role::System && m.content.trim_start().starts_with(&head))
            .map(|m| m.id)
            .collect();
        if prompts.is_empty() {
            return;
        }
        self.messages.retain(|m| !prompts.contains(&m.id));
        self.in_context.retain(|id| !prompts.contains(id));
        self.notes.push(match prompts.len() {
            1 => "the agent's system prompt was left out of its messages (it is its instructions)"
                .to_string(),
            n => format!(
                "{n} copies of the agent's system prompt were left out of its messages (they are \
                 its instructions)"
            ),
        });
    }
}
