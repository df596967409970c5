//! Keeping the budget's counts true: the server's tokenizer when it has one, and the context
//! window the server states.
//!
//! Contract: [`Engine::discover`] asks the server for its model, its window and (only when the
//! local encoding is a stand-in) its tokenize endpoint, all at once with short timeouts; [`Engine::refresh_counts`] asks it for each text of the main context
//! not counted yet (a few per step), and gives up on it, with one note, after a refusal or three
//! failing rounds in a row. Nothing here decides what the agent does.

use super::run::Engine;

/// The search for the server's tokenizer, running.
pub(super) type TokenizerProbe = tokio::task::JoinHandle<Option<crate::model::ServerTokenizer>>;
use crate::protocol::WarningKind;

impl Engine {
    /// Asks the server what the configuration left open: with `model_too`, which model it
    /// serves; then the context window (when no setting gave one) while the search for its
    /// tokenizer runs alongside (returned, to be awaited once `ready` is out). Each question has
    /// a short timeout and they run at once, so a server that answers none of them costs one
    /// short wait before the first call, not one per question.
    pub(super) async fn discover(&mut self, model_too: bool) -> Option<TokenizerProbe> {
        let client = self.client.clone()?;
        if model_too {
            match client.for_served_model().await {
                Ok(Some(served)) => {
                    self.agent.set_model(served.model());
                    self.client = Some(served);
                }
                Ok(None) => {}
                Err(e) => self.emit_error(
                    e.kind(),
                    format!("cannot ask the endpoint for its models: {e}"),
                ),
            }
        }
        let client = self.client.clone()?;
        self.tokenizer = None;
        self.agent.exact.disable();
        // Unless the settings say local, or tiktoken knows the model's own encoding.
        let probe =
            (self.agent.settings.server_tokenizer && self.agent.counter.approximate).then(|| {
                let c = client.clone();
                tokio::spawn(async move { c.detect_tokenizer().await })
            });
        if self.agent.settings.window_source != super::WindowSource::Config {
            match client.server_context_window().await {
                Some(n) => {
                    self.agent.settings.context_window = n;
                    self.agent.settings.window_source = super::WindowSource::Server;
                }
                // The window another server stated does not hold for this one: back to what
                // the model's name says.
                None if self.agent.settings.window_source == super::WindowSource::Server => {
                    let (n, source) = super::settings::table_window(client.model());
                    self.agent.settings.context_window = n;
                    self.agent.settings.window_source = source;
                }
                None => {}
            }
        }
        probe
    }

    /// Takes up the server's tokenizer the probe found, if it found one; the next `budget`
    /// names the counter.
    pub(super) async fn find_tokenizer(&mut self, probe: Option<TokenizerProbe>) {
        let Some(probe) = probe else { return };
        if let Ok(Some(tok)) = probe.await {
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
