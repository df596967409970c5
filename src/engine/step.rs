//! Applying one model reply to the agent: the synchronous heart of a step.
//!
//! Contract: [`Agent::apply_step`] takes what the model answered (and any embeddings fetched
//! for it), runs the first tool call, answers every other call with a Failed result so the
//! transcript stays valid, decides what follows ([`policy::next`]), and commits the step —
//! reply, results, any heartbeat or warning, state and trace — in one write transaction. It
//! returns the events to show, in order, only after the commit succeeded; the commit journals
//! them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::agent::Agent;
use super::exec::{Effects, Embeds, FnResult};
use super::policy::{self, Next, StepOutcome};
use crate::functions::{Call, CallError, ParsedCall, parse_call};
use crate::memory::{
    AgentPolicy, Message, MessageKind, NoToolReply, RequestRecord, Role, StepTrace, ToolCall,
    ToolMode, TraceResult,
};
use crate::model::ChatReply;
use crate::protocol::{EditSource, EventKind, Status, Trigger};
use crate::store::StoreError;
use crate::text;

/// Function calls of one reply kept in the transcript (each answered; only the first runs).
pub const MAX_CALLS_PER_REPLY: usize = 8;

pub struct StepInput<'a> {
    pub trigger: &'a Trigger,
    /// The request as sent.
    pub request: RequestRecord,
    pub reply: &'a ChatReply,
    /// The first tool call, parsed (see [`parse_first`]).
    pub parsed: Option<Result<ParsedCall, CallError>>,
    pub embeds: Option<Embeds>,
    pub started_at: DateTime<Utc>,
    pub model_ms: f64,
    /// The local token count of the prompt that was sent.
    pub local_prompt_tokens: u32,
    /// The prompt cache figures of the request (the server's fields filled from the reply).
    pub cache: crate::tokens::CacheStat,
}

#[derive(Debug)]
pub struct StepReport {
    pub events: Vec<EventKind>,
    pub next: Next,
}

/// Reads calls that are not in `tool_calls`: a JSON-mode reply object, or (in native mode) a call
/// written out in the text. Each such reading is noted.
pub fn interpret(mut reply: ChatReply, policy: &AgentPolicy, step: u64) -> ChatReply {
    if !reply.tool_calls.is_empty() {
        return reply;
    }
    let Some(content) = reply.content.as_deref().filter(|c| !c.trim().is_empty()) else {
        return reply;
    };
    let found = match policy.tool_mode {
        ToolMode::Json => crate::functions::json_mode::parse_reply(content).map(
            |(thought, name, args, repairs)| {
                let mut notes = vec!["read from the JSON-mode reply".to_string()];
                notes.extend(repairs);
                (Some(thought), name, args, notes)
            },
        ),
        ToolMode::Native => crate::functions::text_call::call_in_text(content)
            .map(|(name, args, note)| (None, name, args, vec![note])),
    };
    if let Some((thought, name, arguments, notes)) = found {
        reply.thought = thought;
        reply.tool_calls.push(ToolCall {
            id: format!("call_{step}"),
            name,
            arguments,
        });
        reply.notes.extend(notes);
    }
    reply
}

/// Parses the first tool call of a reply, if there is one.
pub fn parse_first(reply: &ChatReply) -> Option<Result<ParsedCall, CallError>> {
    reply
        .tool_calls
        .first()
        .map(|c| parse_call(&c.name, &c.arguments))
}

/// The text that needs embedding before the call runs, if any.
pub fn embedding_inputs(parsed: &Option<Result<ParsedCall, CallError>>) -> Option<Vec<String>> {
    match parsed {
        Some(Ok(ParsedCall {
            call: Call::ArchivalMemoryInsert { content, .. },
            ..
        })) => Some(crate::memory::chunk::chunk_text(
            content,
            crate::memory::chunk::DEFAULT_CHUNK_CHARS,
        ))
        .filter(|c| !c.is_empty()),
        Some(Ok(ParsedCall {
            call: Call::ArchivalMemorySearch { query, .. },
            ..
        })) => Some(vec![query.clone()]).filter(|q| !q[0].trim().is_empty()),
        _ => None,
    }
}

impl Agent {
    pub fn apply_step(&mut self, input: StepInput<'_>) -> Result<StepReport, StoreError> {
        let reply = input.reply;
        self.calibrate(input.local_prompt_tokens, reply.usage.prompt_tokens);
        let mut events = Vec::new();
        let cache = input.cache;
        if let Some(b) = &cache.broke {
            events.push(EventKind::CacheBreak {
                section: b.section.clone(),
                cause: b.cause.clone(),
                shared_tokens: cache.shared_tokens,
                prompt_tokens: cache.prompt_tokens,
            });
        }
        self.cache.record(cache.clone());
        let content = reply.content.clone().unwrap_or_default();
        let thought = reply.thought.clone().unwrap_or_else(|| content.clone());
        // Text without a call: inner thought (MemGPT's rule), or a message to the user.
        let text_is_message =
            reply.tool_calls.is_empty() && self.state.policy.no_tool_reply == NoToolReply::Message;
        if !thought.trim().is_empty() {
            events.push(if text_is_message {
                EventKind::AssistantMessage {
                    text: thought.trim().to_string(),
                }
            } else {
                EventKind::Thought {
                    text: thought.trim().to_string(),
                }
            });
        } else if reply.tool_calls.is_empty() {
            events.push(EventKind::Error {
                kind: crate::protocol::ErrorKind::EmptyReply,
                message:
                    "the model replied with neither text nor a function call; waiting for the user"
                        .into(),
            });
        }

        let mut assistant = self.make_message(
            Role::Assistant,
            MessageKind::Assistant,
            content.clone(),
            thought.trim().to_string(),
            true,
        );
        // Every call kept in the transcript needs a result; a flood of calls is cut short.
        let kept = &reply.tool_calls[..reply.tool_calls.len().min(MAX_CALLS_PER_REPLY)];
        if kept.len() < reply.tool_calls.len() {
            events.push(EventKind::Warning {
                kind: crate::protocol::WarningKind::TooManyCalls,
                message: format!(
                    "the reply held {} function calls; only the first {MAX_CALLS_PER_REPLY} were kept (and only the first runs)",
                    reply.tool_calls.len()
                ),
            });
        }
        assistant.tool_calls = kept.to_vec();
        // What the model wrote goes back to it in the queue: a reply that could not fit the
        // context at all is shortened there (the trace and the journal keep it whole).
        self.shorten_for_queue(&mut assistant);
        // The calls' names and arguments are part of what the message costs.
        self.count_message(&mut assistant);
        let mut results: Vec<Message> = Vec::new();
        let mut traces = Vec::new();
        let mut outcome = StepOutcome::default();
        let mut fx = Effects::default();
        let mut return_index = None;

        if let (Some(call), Some(parsed)) = (reply.tool_calls.first(), input.parsed) {
            let shown_name = text::visible(&text::one_line(&call.name, 80));
            let t0 = std::time::Instant::now();
            let (args, repairs, result, call_kind) = match parsed {
                Ok(p) => {
                    let r = self.execute(&p.call, input.embeds.as_ref(), &mut fx)?;
                    let mut repairs = reply.notes.clone();
                    repairs.extend(p.repairs);
                    (p.arguments, repairs, r, Some(p.call))
                }
                Err(e) => {
                    let args = if e.arguments.is_null() {
                        Value::String(text::visible(&text::truncate(&call.arguments, 500)))
                    } else {
                        e.arguments
                    };
                    let mut repairs = reply.notes.clone();
                    repairs.extend(e.repairs);
                    (args, repairs, FnResult::failed(e.message), None)
                }
            };
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            events.push(EventKind::FunctionCall {
                name: shown_name.clone(),
                arguments: args,
                call_id: text::visible(&call.id),
                repairs,
            });
            if let Some(sent) = &fx.sent {
                events.push(EventKind::AssistantMessage { text: sent.clone() });
                assistant.text = if assistant.text.is_empty() {
                    sent.clone()
                } else {
                    format!("{}\n{}", assistant.text, sent)
                };
            }
            if let Some((label, value, chars, limit)) = &fx.core_edit {
                events.push(EventKind::CoreMemoryUpdated {
                    label: label.clone(),
                    value: value.clone(),
                    chars: *chars,
                    limit: *limit,
                    source: EditSource::Agent,
                });
            }
            let status = if result.ok {
                Status::Ok
            } else {
                Status::Failed
            };
            outcome = StepOutcome {
                function: Some(shown_name.clone()),
                failed: !result.ok,
                request_heartbeat: call_kind.as_ref().is_some_and(Call::request_heartbeat),
                ends_chain: matches!(
                    call_kind,
                    Some(Call::SendMessage { .. } | Call::PauseHeartbeats { .. })
                ),
            };
            results.push(self.tool_message(call, status, &result.message));
            return_index = Some(events.len());
            events.push(EventKind::FunctionReturn {
                name: shown_name.clone(),
                call_id: text::visible(&call.id),
                status,
                message: result.message.clone(),
                heartbeat: false,
                duration_ms: ms,
            });
            traces.push(TraceResult {
                name: shown_name,
                status: status.as_str().into(),
                message: result.message,
                duration_ms: ms,
            });
        }
        for extra in kept.iter().skip(1) {
            let name = text::visible(&text::one_line(&extra.name, 80));
            let msg = format!(
                "not run: only the first function call of a reply runs; call {name} again in your next turn if you still need it"
            );
            results.push(self.tool_message(extra, Status::Failed, &msg));
            events.push(EventKind::FunctionCall {
                name: name.clone(),
                arguments: Value::String(text::visible(&text::truncate(&extra.arguments, 500))),
                call_id: text::visible(&extra.id),
                repairs: Vec::new(),
            });
            events.push(EventKind::FunctionReturn {
                name: name.clone(),
                call_id: text::visible(&extra.id),
                status: Status::Failed,
                message: msg.clone(),
                heartbeat: false,
                duration_ms: 0.0,
            });
            traces.push(TraceResult {
                name,
                status: "Failed".into(),
                message: msg,
                duration_ms: 0.0,
            });
        }

        let mut new = Vec::with_capacity(results.len() + 2);
        new.push(assistant);
        new.extend(results);

        // What follows, decided on the queue as it will be after this step.
        let paused = self
            .state
            .heartbeats_paused_until
            .is_some_and(|t| t > Utc::now());
        // The figure the decision uses is the one the warning quotes.
        let budget = self.budget();
        let deciding = {
            let extra: u32 = new
                .iter()
                .map(|m| self.message_tokens(m) + crate::tokens::MESSAGE_OVERHEAD)
                .sum();
            self.effective(budget.total + extra)
        };
        // When the fixed part alone passes the threshold, warning the model cannot help (the
        // user is told instead, see `fixed_part_notice`).
        let stuck = self.pressure(&budget).stuck;
        if let Some(message) = self.fixed_part_notice(&budget) {
            events.push(EventKind::Warning {
                kind: crate::protocol::WarningKind::FixedPartTooLarge,
                message,
            });
        }
        let warning_pending = !stuck
            && !self.state.warned
            && !self.warned_this_input
            && deciding > self.settings.warn_at();
        let next = policy::next(&outcome, warning_pending, paused);
        match &next {
            Next::Warn => {
                let window = self.settings.context_window;
                let text = super::prompt::memory_warning(
                    self.settings.warn_ratio,
                    deciding,
                    window,
                    &self.basis(),
                );
                new.push(self.event_message(MessageKind::SystemAlert, &text));
                self.state.warned = true;
                self.warned_this_input = true;
                events.push(EventKind::MemoryWarning {
                    message: text,
                    used: deciding,
                    context_window: window,
                });
            }
            Next::Heartbeat(trigger) => {
                let reason = super::prompt::heartbeat_reason(trigger);
                new.push(self.event_message(MessageKind::Heartbeat, &reason));
                events.push(EventKind::Heartbeat { reason });
            }
            Next::Yield => {}
        }
        if let Some(i) = return_index
            && let EventKind::FunctionReturn { heartbeat, .. } = &mut events[i]
        {
            *heartbeat = !matches!(next, Next::Yield);
        }

        let trace = StepTrace {
            step: self.state.step,
            trigger: input.trigger.to_string(),
            request: input.request,
            response: reply.raw.clone(),
            prompt_tokens: reply.usage.prompt_tokens,
            completion_tokens: reply.usage.completion_tokens,
            started_at: input.started_at,
            model_ms: input.model_ms,
            results: traces,
            cache: Some(cache),
            after: None,
            journal_next: None,
        };
        for ev in &events {
            self.stage(ev);
        }
        self.commit(&new, &[], &fx.passages, Some(&trace))?;
        events.push(EventKind::Budget(self.budget()));
        Ok(StepReport { events, next })
    }

    fn shorten_for_queue(&self, m: &mut Message) {
        let limit = self.message_room() as usize;
        let too_long = |t: &str| t.len() > limit && self.counter.count(t) as usize > limit;
        for c in &mut m.tool_calls {
            if too_long(&c.arguments) {
                c.arguments = serde_json::json!({
                    "left_out": format!(
                        "{} characters of arguments, more than fits the context",
                        c.arguments.chars().count()
                    )
                })
                .to_string();
            }
        }
        if too_long(&m.content) {
            // Half as many characters as the room has tokens fits whatever the script.
            let keep = limit / 2;
            let n = m.content.chars().count();
            m.content = format!(
                "{}… [{} characters left out: more than fits the context]",
                m.content.chars().take(keep).collect::<String>(),
                n.saturating_sub(keep)
            );
        }
    }

    fn tool_message(
        &mut self,
        call: &crate::memory::ToolCall,
        status: Status,
        message: &str,
    ) -> Message {
        let content = super::prompt::result_json(status.as_str(), message);
        let mut m = self.make_message(
            Role::Tool,
            MessageKind::ToolResult,
            content,
            format!("{}: {}", status.as_str(), message),
            false,
        );
        m.tool_call_id = Some(call.id.clone());
        m.name = Some(text::visible(&call.name));
        self.count_message(&mut m);
        m
    }
}
