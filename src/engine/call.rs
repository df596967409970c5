//! One model call of a step, and applying its reply.
//!
//! Contract: [`Engine::step`] sends the main context, hearing commands while the call is in
//! flight (each goes to the chain machine; `Cancel` drops the call), then applies the reply
//! (`step.rs`) and emits the step's events only after its commit. It answers the machine with
//! what the policy says follows, or `Overflowed` when the server refused the prompt as too long.

use std::time::Instant;

use chrono::Utc;
use tokio::sync::mpsc::unbounded_channel;

use super::chain::{Action, Input};
use super::exec::Embeds;
use super::run::Engine;
use super::step::{StepInput, embedding_inputs, parse_first};
use crate::memory::RequestRecord;
use crate::model::{ChatReply, ModelClient, ModelError};
use crate::protocol::{ErrorKind, Event, EventKind, Trigger, WarningKind};
use crate::store::StoreError;

impl Engine {
    /// A model call that still hears commands. `Err(Interrupted)` when the machine cancels it.
    pub(super) async fn call_model(
        &mut self,
        body: &[u8],
        stream: bool,
    ) -> Result<ChatReply, ModelError> {
        let client = self
            .client
            .clone()
            .ok_or(ModelError::Connect("no model configured".into()))?;
        let (retry_tx, mut retry_rx) = unbounded_channel::<EventKind>();
        let mut on_retry = move |e: &ModelError, attempt: u32, wait: std::time::Duration| {
            let _ = retry_tx.send(EventKind::Retry {
                kind: e.kind(),
                message: e.to_string(),
                attempt,
                wait_ms: wait.as_millis() as u64,
            });
        };
        let delta_tx = self.event_sender();
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
                    let input = match cmd {
                        Some(c) => Input::Command(c),
                        None => {
                            self.commands_closed = true;
                            Input::Closed
                        }
                    };
                    for action in self.chain.handle(input) {
                        match action {
                            Action::Cancel => return Err(ModelError::Interrupted),
                            Action::Side(c) => {
                                if let Err(e) = self.side(c).await {
                                    self.emit_error(ErrorKind::Store, e.to_string());
                                }
                            }
                            other => tracing::warn!(?other, "unexpected action during a call"),
                        }
                    }
                }
            }
        }
    }

    /// One model call and its effects (`retry`: the same step again after an overflow).
    pub(super) async fn step(
        &mut self,
        trigger: &Trigger,
        retry: bool,
    ) -> Result<Input, StoreError> {
        if !retry {
            self.agent.state.step += 1;
        }
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
        // Never send what memscope knows cannot fit.
        if self.agent.pressure(&sent).overfull {
            // The step is dropped, a retried one too.
            self.agent.state.step -= 1;
            self.emit_error(
                ErrorKind::MemoryFull,
                format!(
                    "the prompt ({} tokens, {}) cannot fit the {}-token window even after a flush; \
                     it was not sent. Shorten core memory or raise the context window",
                    sent.deciding, sent.basis, self.agent.settings.context_window
                ),
            );
            return Ok(Input::Stepped(None));
        }
        let segments = self.agent.prompt_segments(&sent);
        let mut cache = self.agent.cache_stat(&segments);
        // One request, one size: the meter and the steps list give the budget's own count.
        cache.prompt_tokens = sent.total;
        cache.shared_tokens = cache.shared_tokens.min(sent.total);
        let local_prompt_tokens = sent.total;
        self.emit(EventKind::ModelCall {
            trigger: trigger.clone(),
        });
        let started_at = Utc::now();
        let t0 = Instant::now();
        crate::crash::point("step:calling_model");
        let result = self.call_model(&body, stream).await;
        // Whatever came of it, the server saw this prompt (unless the call was dropped).
        if !matches!(result, Err(ModelError::Interrupted)) {
            self.agent.prompt_sent(segments);
        }
        let reply = match result {
            Ok(r) => r,
            Err(ModelError::ContextOverflow(msg)) => {
                self.learn_window(&msg);
                // Where the server says how long the prompt was, later counts scale to it (a
                // streamed reply may never say; a chat template can add more than it seems).
                if let Some(server) = crate::model::prompt_in_overflow(&msg) {
                    self.agent.calibrate(local_prompt_tokens, Some(server));
                }
                self.emit_warning(
                    WarningKind::ContextOverflow,
                    format!(
                        "the server says the prompt is too long ({msg}); memory is flushed and the \
                         step sent again once for this input"
                    ),
                );
                return Ok(Input::Overflowed);
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
                return Ok(Input::Stepped(None));
            }
        };
        let model_ms = t0.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            agent = self.agent.name(),
            step = self.agent.state.step,
            %trigger,
            prompt_tokens = local_prompt_tokens,
            server_prompt_tokens = ?reply.usage.prompt_tokens,
            ms = model_ms as u64,
            "model call"
        );
        crate::crash::point("step:reply_received");
        self.check_tools_in_prompt(&sent, reply.usage.prompt_tokens);
        let reply = super::step::interpret(reply, &self.agent.state.policy, self.agent.state.step);
        let parsed = parse_first(&reply);
        let embeds = self.fetch_embeddings(&parsed).await;
        cache.server_prompt = reply.usage.prompt_tokens;
        cache.server_cached = reply.usage.cached_tokens;
        let report = self.agent.apply_step(StepInput {
            trigger,
            request: record,
            reply: &reply,
            parsed,
            embeds,
            started_at,
            model_ms,
            local_prompt_tokens,
            cache,
        })?;
        crate::crash::point("step:committed");
        for ev in report.events {
            self.send(ev);
        }
        Ok(Input::Stepped(Some(report.next)))
    }

    /// Says once when the server's prompt count shows that its chat template left the
    /// function schemas out.
    fn check_tools_in_prompt(&mut self, sent: &crate::tokens::Budget, server: Option<u32>) {
        let native = self.agent.state.policy.tool_mode == crate::memory::ToolMode::Native;
        if self.told_tools_left_out || !super::policy::tools_left_out(sent, server, native) {
            return;
        }
        self.told_tools_left_out = true;
        self.emit_warning(WarningKind::ToolsNotInPrompt,
            format!(
                "the server counted {} prompt tokens where memscope sent {}, {} of them function schemas: \
                 its chat template seems to leave the functions out, so the model cannot see them; \
                 try --tool-mode json",
                server.unwrap_or_default(),
                sent.total,
                sent.functions
            ),
        );
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
}
