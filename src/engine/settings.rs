//! Engine settings that shape the main context and the loop.

/// Where the context window figure came from, from most to least trusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WindowSource {
    /// Flags, environment or config file.
    Config,
    /// The server said so.
    Server,
    /// memscope's table of known model names.
    ModelTable,
    /// The file an agent was imported from (Letta's `llm_config.context_window`): shown until
    /// the agent runs, never preferred to a server's figure.
    Imported,
    /// Nothing said: 8192.
    #[default]
    Default,
}

impl WindowSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowSource::Config => "config",
            WindowSource::Server => "server",
            WindowSource::ModelTable => "model table",
            WindowSource::Imported => "imported file",
            WindowSource::Default => "default",
        }
    }

    /// The source named by [`WindowSource::as_str`].
    pub fn parse(s: &str) -> Option<WindowSource> {
        [
            WindowSource::Config,
            WindowSource::Server,
            WindowSource::ModelTable,
            WindowSource::Imported,
            WindowSource::Default,
        ]
        .into_iter()
        .find(|w| w.as_str() == s)
    }
}

/// The context window for a model name when nothing better says: memscope's table of known
/// models, else 8192.
pub fn table_window(model: &str) -> (u32, WindowSource) {
    match tiktoken_rs::model::get_context_size(model) {
        Some(n) => (n as u32, WindowSource::ModelTable),
        None => (8192, WindowSource::Default),
    }
}

impl EngineSettings {
    /// Switches the model name; a window that only came from the name follows it.
    pub fn set_model(&mut self, model: &str) {
        self.model = model.to_string();
        if matches!(
            self.window_source,
            WindowSource::ModelTable | WindowSource::Imported | WindowSource::Default
        ) {
            (self.context_window, self.window_source) = table_window(model);
        }
    }
}

/// Limits and thresholds of one agent's loop.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Model name, used for the token encoding and sent with each request.
    pub model: String,
    pub context_window: u32,
    /// `max_tokens` for each reply.
    pub max_tokens: u32,
    /// Most model calls per user input.
    pub chain_cap: u32,
    /// A memory-pressure warning fires above this share of the window.
    pub warn_ratio: f32,
    /// Messages are evicted when the prompt plus room for the reply would pass this share.
    pub flush_ratio: f32,
    /// A flush evicts down to this share of the window.
    pub flush_target: f32,
    /// Longest non-search function output, in characters.
    pub output_limit: usize,
    /// Where the context window figure came from.
    pub window_source: WindowSource,
    /// How JSON mode constrains replies (depends on the server).
    pub json_format: crate::functions::json_mode::JsonFormat,
    /// Count tokens with the server's tokenizer when it has one (else tiktoken only).
    pub server_tokenizer: bool,
    /// Ask streams for a closing usage chunk (`stream_options.include_usage`), so the server's
    /// prompt count is known with streaming too. Set by provider presets whose servers take it.
    pub stream_usage: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            model: "gpt-4o-mini".into(),
            context_window: 8192,
            max_tokens: 1024,
            chain_cap: 10,
            warn_ratio: 0.75,
            flush_ratio: 1.0,
            flush_target: 0.5,
            output_limit: 3000,
            window_source: WindowSource::Default,
            json_format: Default::default(),
            server_tokenizer: true,
            stream_usage: false,
        }
    }
}

impl EngineSettings {
    /// Tokens kept free for the reply.
    pub fn reply_reserve(&self) -> u32 {
        self.max_tokens.min(self.context_window / 8)
    }

    pub fn warn_at(&self) -> u32 {
        (self.context_window as f32 * self.warn_ratio) as u32
    }

    pub fn flush_at(&self) -> u32 {
        ((self.context_window as f32 * self.flush_ratio) as u32)
            .saturating_sub(self.reply_reserve())
    }

    /// The most tokens a summary may take: a tenth of the window, within 64 and 1024.
    pub fn summary_cap(&self) -> u32 {
        (self.context_window / 10).clamp(64, 1024)
    }

    pub fn flush_target_tokens(&self) -> u32 {
        (self.context_window as f32 * self.flush_target) as u32
    }
}
