//! The app's side of engine events and background reads: the transcript (`transcript.rs`
//! makes the entries and log rows), the run state, core memory, the budget, notices, and the
//! reads to start.

use super::*;
use crate::engine::{EditSource, ErrorKind, Event, EventKind};
use crate::tui::transcript;

impl App {
    pub(super) fn on_engine(&mut self, e: Event) -> Vec<Effect> {
        self.step = e.step;
        // The agent went back in time: its story is read again from the journal.
        if matches!(e.kind, EventKind::Rewound { .. }) {
            self.convo = Default::default();
            self.log.clear();
            self.log_selected = 0;
        }
        let log_len = self.log.len();
        transcript::apply(&mut self.convo, &mut self.log, &e);
        if self.log.len() > log_len {
            self.log_selected = self.log.len() - 1;
        }
        let mut fx = Vec::new();
        match e.kind {
            EventKind::Ready {
                model,
                base_url,
                policy,
                ..
            } => self.ready(model, base_url, policy),
            EventKind::UserMessage { ref text, .. } => {
                self.convo.scroll = 0;
                if let Some(i) = self.unconfirmed.iter().position(|t| t == text) {
                    self.unconfirmed.remove(i);
                }
            }
            EventKind::MessageNotSaved { ref text } => {
                if let Some(i) = self.unconfirmed.iter().position(|t| t == text) {
                    self.unconfirmed.remove(i);
                }
                self.give_back(text);
                self.notice = Some("your unsaved message is back in the input box".into());
            }
            EventKind::ModelCall { trigger } => {
                self.unanswered = 0;
                self.run = RunState::Waiting {
                    since: self.now,
                    trigger: trigger.to_string(),
                };
            }
            EventKind::Retry {
                message,
                attempt,
                wait_ms,
                ..
            } => {
                self.notice = Some(format!(
                    "retry {attempt} in {:.1}s: {}",
                    wait_ms as f64 / 1000.0,
                    text::visible(&message)
                ));
            }
            EventKind::Paused { trigger, budget } => {
                self.run = RunState::Paused {
                    trigger: trigger.to_string(),
                };
                self.budget = budget;
            }
            EventKind::Summary { .. } => fx.push(Effect::Load(Load::Recall)),
            EventKind::CoreMemoryUpdated {
                label,
                value,
                chars,
                limit,
                source,
            } => {
                match self.core.iter_mut().find(|b| b.label == label) {
                    Some(b) => {
                        b.value = value;
                        b.limit = limit;
                    }
                    None => self.core.push(Block {
                        limit,
                        ..Block::new(&label, &value)
                    }),
                }
                if source == EditSource::User {
                    self.notice =
                        Some(format!("saved {} ({chars}/{limit})", text::visible(&label)));
                }
            }
            EventKind::InstructionsEdited {
                instructions,
                custom,
                undo,
            } => {
                self.instructions = instructions;
                self.instructions_custom = custom;
                self.notice = Some(
                    if undo {
                        "instructions restored (the model reads them from the next call)"
                    } else {
                        "instructions saved (the model reads them from the next call; /system undo reverts)"
                    }
                    .into(),
                );
            }
            EventKind::ArchivalEdited { message, .. } => {
                self.notice = Some(text::visible(&message));
                fx.push(Effect::Load(Load::Archival));
            }
            // Every commit ends with the budget it leaves: the stores pane follows each one
            // (a step in step mode, a flush, an edit), not just the chain's end. Reads of one
            // kind coalesce, so a burst of commits costs one read of each list.
            EventKind::Budget(b) => {
                self.budget = b;
                fx.push(Effect::Load(Load::Recall));
                fx.push(Effect::Load(Load::Archival));
            }
            EventKind::Error { kind, message } => {
                let message = text::visible(&message);
                if kind == ErrorKind::NoModel {
                    self.unanswered += 1;
                }
                // A refused edit, what the user stopped, a message waiting for a model: said,
                // but not as a failure.
                if matches!(
                    kind,
                    ErrorKind::EditRefused | ErrorKind::Interrupted | ErrorKind::NoModel
                ) {
                    self.notice = Some(message);
                } else {
                    self.error = Some(message);
                }
            }
            EventKind::Warning { message, .. } => self.notice = Some(text::visible(&message)),
            EventKind::ChainEnded { .. } => {
                self.run = RunState::Idle;
                fx.push(Effect::Load(Load::Recall));
                fx.push(Effect::Load(Load::Archival));
                fx.extend(self.refresh_steps());
            }
            EventKind::Rewound {
                core,
                history_before,
                backup,
                ..
            } => {
                self.core = core;
                self.history_before = history_before;
                self.notice = Some(format!(
                    "rewound; the agent as it was is kept as '{}'",
                    text::visible(&backup)
                ));
                fx.push(Effect::History(history_before));
                fx.push(Effect::Load(Load::Recall));
                fx.push(Effect::Load(Load::Archival));
            }
            EventKind::Forked { name, .. } => {
                self.notice = Some(format!("forked as '{}'", text::visible(&name)));
            }
            EventKind::LoadProgress(p) => self.loading = Some(p),
            EventKind::LoadFinished(s) => {
                self.loading = None;
                self.notice = Some(text::visible(&s.message));
                fx.push(Effect::Load(Load::Archival));
            }
            EventKind::ThoughtDelta { .. }
            | EventKind::LoadSkipped { .. }
            | EventKind::MessageEdited { .. }
            | EventKind::Thought { .. }
            | EventKind::FunctionCall { .. }
            | EventKind::FunctionReturn { .. }
            | EventKind::AssistantMessage { .. }
            | EventKind::Heartbeat { .. }
            | EventKind::CacheBreak { .. }
            | EventKind::MemoryWarning { .. } => {}
        }
        fx
    }

    /// The engine is (again) ready: its model, endpoint and policy; a change of endpoint or
    /// model is done, so "connecting…" gives way to what is.
    fn ready(&mut self, model: Option<String>, base_url: Option<String>, policy: String) {
        if self
            .notice
            .as_deref()
            .is_some_and(|n| n.starts_with("connecting") || n.starts_with("model "))
        {
            self.notice = Some(format!(
                "connected: {} @ {}",
                text::visible(model.as_deref().unwrap_or("(no model named)")),
                text::visible(base_url.as_deref().unwrap_or("-"))
            ));
        }
        self.model = model;
        self.endpoint = base_url;
        self.policy = policy;
    }

    pub(super) fn on_loaded(&mut self, l: Loaded) -> Vec<Effect> {
        match l {
            Loaded::History { entries, log } => {
                // What was typed before (this agent's, from its journal) comes back with ↑.
                let earlier: Vec<String> = entries
                    .iter()
                    .filter(|e| e.kind == EntryKind::User)
                    .map(|e| e.text.clone())
                    .collect();
                let keep = earlier.len().saturating_sub(super::SENT_KEPT);
                self.sent.splice(0..0, earlier.into_iter().skip(keep));
                self.convo.prepend(entries);
                let n = log.len();
                let live_log = std::mem::take(&mut self.log);
                self.log = log.into_iter().chain(live_log).collect();
                self.log_selected = if self.log_selected == 0 && n > 0 {
                    self.log.len().saturating_sub(1)
                } else {
                    self.log_selected + n
                }
                .min(self.log.len().saturating_sub(1));
            }
            Loaded::Agents(rows) => self.on_agents_loaded(rows),
            Loaded::Archival(rows, total) => set_rows(&mut self.stores.archival, rows, total),
            Loaded::Recall(rows, total) => set_rows(&mut self.stores.recall, rows, total),
            Loaded::Search {
                tab,
                query,
                rows,
                total,
                note,
            } => {
                self.stores.tab = tab;
                let mut list = StoreList::default();
                set_rows(&mut list, rows, total);
                list.note = note.map(|n| text::visible(&n));
                self.stores.search = Some((query, list));
            }
            Loaded::Watched {
                events,
                core,
                budget,
                step,
            } => {
                let at_bottom = self.convo.scroll == 0;
                let following = self.log_selected + 1 >= self.log.len();
                let selected = self.log_selected;
                for ev in events {
                    self.on_engine(ev);
                }
                if at_bottom {
                    self.convo.scroll = 0;
                }
                // The log follows new rows unless the user moved up to read an older one.
                if !following {
                    self.log_selected = selected;
                }
                self.core = core;
                self.budget = budget;
                self.step = step;
                return vec![Effect::Load(Load::Archival), Effect::Load(Load::Recall)];
            }
            l @ (Loaded::Steps { .. } | Loaded::StepDetail(_) | Loaded::StepDiff(_)) => {
                self.on_steps_loaded(l)
            }
            Loaded::Failed(e) => self.error = Some(text::visible(&e)),
            Loaded::Done(what) => self.notice = Some(text::visible(&what)),
            Loaded::Partial(rows, note) => {
                let fx = self.on_loaded(*rows);
                self.notice = Some(text::visible(&note));
                return fx;
            }
            Loaded::Found { provider, config } => {
                // Shown at once; the engine's `ready` confirms (or corrects the model name).
                self.model = Some(config.model.clone());
                self.endpoint = Some(config.base_url.clone());
                self.notice = Some(format!(
                    "no endpoint was configured; connected to the {} found at {}",
                    provider.label, config.base_url
                ));
                return vec![Effect::Engine(Command::Connect {
                    client: config,
                    provider: Some(provider),
                    keep_model: false,
                })];
            }
        }
        Vec::new()
    }
}
