//! Memory pressure: evicting the oldest messages of the queue into a new recursive summary.
//!
//! Contract: [`Engine::flush`] plans the eviction (`policy::plan_eviction`, pure), asks the
//! model for a summary without tools (hearing commands, so an interrupt cancels it and evicts
//! nothing), keeps a plain extract when the summariser fails, and commits the new summary, the
//! shorter queue and a trace in one transaction. Recall keeps every evicted message.

use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use super::policy::plan_eviction;
use super::prompt;
use super::run::Engine;
use crate::memory::{MessageKind, RequestRecord, Role, StepTrace, Summary};
use crate::model::ModelError;
use crate::protocol::{ErrorKind, EventKind};
use crate::store::StoreError;

/// Messages always kept in the queue by a flush.
pub const KEEP_LAST: usize = 3;

impl Engine {
    /// Evicts the oldest messages into a new recursive summary. False when nothing could be
    /// evicted or the user interrupted.
    pub(super) async fn flush(&mut self) -> Result<bool, StoreError> {
        let a = &self.agent;
        let budget = a.budget();
        let summary_cap = a.settings.summary_cap();
        let fixed = budget.total - budget.messages - budget.summary;
        // The target is in the server's tokens; the plan works in local ones.
        let target = ((a.settings.flush_target_tokens() as f64 / a.server_ratio.max(1.0)) as u32)
            .saturating_sub(fixed + summary_cap);
        let tokens: Vec<u32> = a
            .fifo()
            .iter()
            .map(|m| a.message_tokens(m) + crate::tokens::MESSAGE_OVERHEAD)
            .collect();
        let cut_ok: Vec<bool> = a.fifo().iter().map(|m| m.role != Role::Tool).collect();
        let k = plan_eviction(&tokens, &cut_ok, target, KEEP_LAST);
        if k == 0 {
            self.emit_error(ErrorKind::MemoryFull,
                "the context is full but no more messages can be evicted (the newest are always kept); \
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
            request: RequestRecord::Raw { body: request },
            response,
            prompt_tokens: None,
            completion_tokens: None,
            started_at,
            model_ms,
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
