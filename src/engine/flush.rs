//! Memory pressure: evicting the oldest messages of the queue into a new recursive summary.
//!
//! Contract: [`Engine::flush`] plans the eviction (`policy::plan_eviction`, pure), asks the
//! model for a summary without tools (hearing commands, so an interrupt cancels it and evicts
//! nothing), keeps a plain extract when the summariser fails, and commits the new summary, the
//! shorter queue and a trace in one transaction. Recall keeps every evicted message.

use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use super::policy::{echoes_prompt, plan_flush};
use super::prompt;
use super::run::Engine;
use crate::memory::{MessageKind, RequestRecord, Role, StepTrace, Summary};
use crate::model::ModelError;
use crate::protocol::{ErrorKind, EventKind};
use crate::store::StoreError;

/// Messages a flush keeps in the queue when that still leaves it under the warning line (else
/// it keeps only the newest).
pub const KEEP_LAST: usize = 3;

/// The summary call of a flush, as its trace keeps it.
struct SummaryCall {
    request: Value,
    response: Value,
    usage: crate::model::Usage,
    started_at: chrono::DateTime<Utc>,
    model_ms: f64,
}

impl Engine {
    /// Evicts the oldest messages into a new recursive summary. False when the user
    /// interrupted, or nothing could be evicted from a prompt that cannot fit; true when there
    /// was nothing to evict but the prompt still fits (it goes out with less room to reply).
    pub(super) async fn flush(&mut self) -> Result<bool, StoreError> {
        let a = &self.agent;
        let budget = a.budget();
        let summary_cap = a.settings.summary_cap();
        let fixed = budget.total - budget.messages - budget.summary;
        // The marks are in the server's tokens; the plan works in local ones, with the new
        // summary's room set aside.
        let local = |server: u32| (server as f64 / a.server_ratio.max(1.0)) as u32;
        let room = |line: u32| local(line).saturating_sub(fixed + summary_cap);
        let under_warning = room(a.settings.warn_at());
        // The low-water mark: the share of the window a flush aims for, and never more than half
        // the queue's room under the warning line, so the steps after it do not flush again.
        let low_water = room(a.settings.flush_target_tokens()).min(under_warning / 2);
        let tokens: Vec<u32> = a
            .fifo()
            .iter()
            .map(|m| a.message_tokens(m) + crate::tokens::MESSAGE_OVERHEAD)
            .collect();
        let cut_ok: Vec<bool> = a.fifo().iter().map(|m| m.role != Role::Tool).collect();
        let k = plan_flush(&tokens, &cut_ok, low_water, under_warning, KEEP_LAST);
        if k == 0 {
            // Nothing to evict: a prompt that still fits goes out with the room it leaves for
            // the reply (`reply_room`); one that cannot fit is refused here.
            if !a.pressure(&budget).overfull {
                return Ok(true);
            }
            self.emit_error(ErrorKind::MemoryFull,
                "the context is full but no more messages can be evicted (the newest is always kept); \
                 shorten core memory or raise the context window",
            );
            return Ok(false);
        }
        let previous = a.state.summary.as_ref().map(|s| s.text.clone());
        let body = crate::model::request::summary_request(
            &a.settings.model,
            prompt::SUMMARIZER,
            &prompt::summary_prompt(previous.as_deref(), &a.fifo()[..k]),
            summary_cap,
        );
        // What a summary must not be a copy of: the instructions and the evicted messages
        // (carrying the previous summary over word for word is fine).
        let echo_source = format!(
            "{}\n{}",
            prompt::SUMMARIZER,
            prompt::summary_prompt(None, &a.fifo()[..k])
        );
        let started_at = Utc::now();
        let t0 = Instant::now();
        crate::crash::point("flush:calling_model");
        let result = self
            .call_model(&serde_json::to_vec(&body).expect("json"), false)
            .await;
        let model_ms = t0.elapsed().as_secs_f64() * 1000.0;
        // Whatever came of it, the server saw the summary prompt last (unless it was dropped).
        if !matches!(result, Err(ModelError::Interrupted)) {
            self.agent.summary_sent();
        }
        let usage = result.as_ref().map(|r| r.usage.clone()).unwrap_or_default();
        let (summary_text, raw) = match result {
            Ok(r)
                if r.content
                    .as_deref()
                    .is_some_and(|c| echoes_prompt(c, &echo_source)) =>
            {
                self.emit_error(
                    ErrorKind::SummaryFailed,
                    "the model wrote its summary prompt back instead of a summary; kept a plain \
                     extract of the evicted messages instead",
                );
                (
                    prompt::fallback_summary(previous.as_deref(), &self.agent.fifo()[..k]),
                    r.raw,
                )
            }
            Ok(r) if r.content.as_deref().is_some_and(|c| !c.trim().is_empty()) => (
                r.content.clone().unwrap_or_default().trim().to_string(),
                r.raw,
            ),
            Err(ModelError::Interrupted) => {
                self.emit_error(
                    ErrorKind::Interrupted,
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
                    ErrorKind::SummaryFailed,
                    format!("{why}; kept a plain extract of the evicted messages instead"),
                );
                (
                    prompt::fallback_summary(previous.as_deref(), &self.agent.fifo()[..k]),
                    Value::Null,
                )
            }
        };
        tracing::info!(
            agent = self.agent.name(),
            evicted = k,
            ms = model_ms as u64,
            "flush"
        );
        crate::crash::point("flush:summary_received");
        let call = SummaryCall {
            request: body,
            response: raw,
            usage,
            started_at,
            model_ms,
        };
        self.apply_flush(k, summary_text, call)?;
        crate::crash::point("flush:committed");
        Ok(true)
    }

    fn apply_flush(
        &mut self,
        k: usize,
        summary_text: String,
        call: SummaryCall,
    ) -> Result<(), StoreError> {
        let a = &mut self.agent;
        let cap_tokens = a.settings.summary_cap();
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
        a.evict_front(k);
        let now = Utc::now();
        let rendered = prompt::summary_event_text(
            &summary_text,
            evicted_total,
            Some(a.state.recall_count + 1),
            now,
        );
        let tokens = a.counter.count(&rendered);
        a.state.summary = Some(Summary {
            text: summary_text.clone(),
            created_at: now,
            evicted_total,
            tokens,
            rendered: rendered.clone(),
        });
        a.state.warned = false;
        // The flush already breaks the prompt prefix: fold pending core edits and refresh the
        // metadata now.
        let pending = a.core_edits_pending();
        a.recompile(&if pending > 0 {
            format!("a flush folded in {pending} core edit(s) made since the last one")
        } else {
            "a flush refreshed it".to_string()
        });
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
            request: RequestRecord::Raw { body: call.request },
            response: call.response,
            prompt_tokens: call.usage.prompt_tokens,
            completion_tokens: call.usage.completion_tokens,
            started_at: call.started_at,
            model_ms: call.model_ms,
            results: Vec::new(),
            cache: None,
            after: None,
            journal_next: None,
        };
        let shown = EventKind::Summary {
            evicted: k,
            summary: summary_text,
        };
        a.stage(&shown);
        a.commit(&[], &[summary_msg], &[], Some(&trace))?;
        self.send(shown);
        self.emit_budget();
        Ok(())
    }
}
