//! Keeping the budget's counts true: the server's tokenizer when it has one, and the context
//! window the server states.
//!
//! Contract: [`Engine::find_tokenizer`] probes for a tokenize endpoint only when the local
//! encoding is a stand-in; [`Engine::refresh_counts`] asks it for each text of the main context
//! not counted yet (a few per step), and gives up on it, with one note, after a refusal or three
//! failing rounds in a row. Nothing here decides what the agent does.

use super::run::Engine;
use crate::protocol::WarningKind;

impl Engine {
    /// Looks for the server's tokenizer, unless the settings say local or tiktoken already
    /// knows the model's own encoding. Runs after `ready` is out, so that neither the probe nor
    /// the first counting delays it; the next `budget` names the counter.
    pub(super) async fn find_tokenizer(&mut self) {
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

    /// Asks the server's tokenizer for every text of the main context it has not counted yet.
    /// True when it asked. What fails keeps its local estimate and is asked again next time (a
    /// busy server can be slow to answer); a refusal, or three rounds in a row with failures,
    /// ends server counting with a note, and the local counts stand from then on.
    pub(super) async fn refresh_counts(&mut self) -> bool {
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
            self.emit_warning(WarningKind::Tokenizer,
                format!(
                    "the server's tokenizer failed ({e}); counting with {} (approximate) from now on",
                    self.agent.counter.encoding
                ),
            );
        }
        true
    }

    /// Brings the counts up to date and sends the budget again if anything was counted.
    pub(super) async fn recount(&mut self) {
        if self.refresh_counts().await {
            self.emit_budget();
        }
    }

    /// Takes the window an overflow error states when it is smaller than the one in use (the
    /// server's limit is the real one, whatever the settings or the model table said).
    pub(super) fn learn_window(&mut self, overflow: &str) {
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
            self.emit_budget();
        }
    }
}
