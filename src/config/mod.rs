//! Settings from flags, the environment and the config file, in that order of precedence.
//!
//! Contract: [`resolve`] is pure apart from reading the config file: the environment is passed
//! in as a lookup function so tests can inject it. The API key comes only from the environment
//! (`OPENAI_API_KEY`) or the config file, never from a flag, and is never logged or stored.
//! Without a base URL (and without `OPENAI_API_KEY`, which implies OpenAI) there is no model
//! client; memory can still be browsed and edited.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::engine::{EngineSettings, WindowSource};
use crate::memory::ToolChoice;
pub use crate::memory::state::PolicyOverride;
pub use paths::{default_config_path, default_store_path, exports_dir, home_dir, state_dir};

mod paths;
use crate::model::{ClientConfig, RetryPolicy};
use crate::providers::Provider;

pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Flags shared by every command that opens an agent.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// The store: a redb file (default: memscope.redb in the XDG data dir), or a PostgreSQL
    /// database as postgres://user@host/db (its password from PGPASSWORD, never the URL).
    #[arg(long, global = true)]
    pub store: Option<PathBuf>,
    /// Which agent in the store.
    #[arg(long, global = true)]
    pub agent: Option<String>,
    /// Config file (default: memscope/config.toml in the XDG config dir).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

fn providers() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::providers::PROVIDERS.iter().map(|p| p.name))
}

/// Flags for counting tokens in a command that talks to no model (`dump`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CountArgs {
    /// The model whose tokenizer counts the budget.
    #[arg(long)]
    pub model: Option<String>,
    /// Context window in tokens.
    #[arg(long)]
    pub context_window: Option<u32>,
}

impl From<&CountArgs> for ModelArgs {
    fn from(c: &CountArgs) -> Self {
        ModelArgs {
            model: c.model.clone(),
            context_window: c.context_window,
            ..Default::default()
        }
    }
}

/// Flags for talking to a model.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct ModelArgs {
    /// Provider preset (its base URL and what its server can do).
    #[arg(long, value_parser = providers())]
    pub provider: Option<String>,
    /// OpenAI-compatible base URL including /v1, e.g. http://127.0.0.1:8080/v1.
    #[arg(long)]
    pub base_url: Option<String>,
    /// How function calls travel: native (the server's tools) or json (MemGPT's JSON replies).
    /// Saved with the agent.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["native", "json"]))]
    pub tool_mode: Option<String>,
    /// What text without a function call is: thought (wait for the user) or message (deliver
    /// it). Saved with the agent.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["thought", "message"]))]
    pub no_tool_reply: Option<String>,
    /// tool_choice in native mode: auto or required. Saved with the agent.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["auto", "required"]))]
    pub tool_choice: Option<String>,
    /// How core-memory edits reach the model: recompile (the system message is built again at
    /// once, MemGPT's way) or append (a memory-update event in the queue, folded into the
    /// system message at the next flush; keeps the prompt prefix cached). Saved with the agent.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["recompile", "append"]))]
    pub core_edits: Option<String>,
    /// Stream replies (server-sent events): true or false.
    #[arg(long)]
    pub stream: Option<bool>,
    /// Model name sent with each request.
    #[arg(long)]
    pub model: Option<String>,
    /// Context window in tokens.
    #[arg(long)]
    pub context_window: Option<u32>,
    /// Most model calls per user input.
    #[arg(long)]
    pub chain_cap: Option<u32>,
    /// max_tokens for each reply.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Seconds to wait for one model call.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Token counter: auto (the server's tokenizer where it has one, else tiktoken) or local
    /// (tiktoken only).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["auto", "local"]))]
    pub token_counter: Option<String>,
    /// Embedding model for archival memory (enables ranking by meaning).
    #[arg(long)]
    pub embedding_model: Option<String>,
    /// Base URL of the embedding server, when it is not the chat server.
    #[arg(long)]
    pub embedding_base_url: Option<String>,
}

impl ModelArgs {
    /// These flags, with `other`'s filling in what these leave unset.
    pub fn or(self, other: &ModelArgs) -> ModelArgs {
        let o = other.clone();
        ModelArgs {
            provider: self.provider.or(o.provider),
            base_url: self.base_url.or(o.base_url),
            tool_mode: self.tool_mode.or(o.tool_mode),
            no_tool_reply: self.no_tool_reply.or(o.no_tool_reply),
            tool_choice: self.tool_choice.or(o.tool_choice),
            core_edits: self.core_edits.or(o.core_edits),
            stream: self.stream.or(o.stream),
            model: self.model.or(o.model),
            context_window: self.context_window.or(o.context_window),
            chain_cap: self.chain_cap.or(o.chain_cap),
            max_tokens: self.max_tokens.or(o.max_tokens),
            timeout: self.timeout.or(o.timeout),
            token_counter: self.token_counter.or(o.token_counter),
            embedding_model: self.embedding_model.or(o.embedding_model),
            embedding_base_url: self.embedding_base_url.or(o.embedding_base_url),
        }
    }
}

/// The config file (TOML). Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub model: Option<String>,
    pub context_window: Option<u32>,
    pub max_tokens: Option<u32>,
    pub chain_cap: Option<u32>,
    pub warn_ratio: Option<f32>,
    pub flush_ratio: Option<f32>,
    pub flush_target: Option<f32>,
    pub store: Option<PathBuf>,
    pub agent: Option<String>,
    pub timeout_secs: Option<f64>,
    pub max_retries: Option<u32>,
    pub retry_base_ms: Option<u64>,
    pub embedding_model: Option<String>,
    pub embedding_base_url: Option<String>,
    pub provider: Option<String>,
    pub tool_mode: Option<String>,
    pub no_tool_reply: Option<String>,
    pub tool_choice: Option<String>,
    /// `recompile` or `append`, as `--core-edits`.
    pub core_edits: Option<String>,
    pub stream: Option<bool>,
    /// `auto` or `local`, as `--token-counter`.
    pub token_counter: Option<String>,
    /// TUI theme name (built in: dark, light, high-contrast; or `themes/NAME.toml` here).
    pub theme: Option<String>,
    /// TUI key bindings: `action = "key"` or `action = ["key", ...]`.
    #[serde(default)]
    pub keys: std::collections::HashMap<String, KeyList>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub store: PathBuf,
    pub agent: String,
    /// None when no endpoint is configured.
    pub client: Option<ClientConfig>,
    /// Whether the model name was given (else it is asked of the server).
    pub model_given: bool,
    pub engine: EngineSettings,
    /// The provider preset in use, when one was named.
    pub provider: Option<&'static Provider>,
    /// Agent settings to apply (and save) when the agent opens.
    pub policy: PolicyOverride,
    /// The client settings, for an endpoint found later (see [`Resolved::use_found`]).
    pub template: ClientConfig,
    /// TUI theme name from the config file (a flag overrides it).
    pub theme: Option<String>,
    pub keys: std::collections::HashMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {0}: {1}")]
    Read(PathBuf, String),
    #[error("the config file {0} is not valid: {1}")]
    Parse(PathBuf, String),
    #[error("{0}")]
    Invalid(String),
}

impl Resolved {
    /// Uses a server found on this machine (nothing was configured).
    pub fn use_found(&mut self, provider: &'static Provider, base_url: &str) {
        self.provider = Some(provider);
        self.engine.json_format = provider.json_format;
        self.engine.stream_usage = provider.stream_usage;
        self.client = Some(ClientConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            stream: self.template.stream || provider.streaming,
            ..self.template.clone()
        });
    }
}

pub fn load_file(path: &Path, required: bool) -> Result<FileConfig, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_path_buf(), e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            Ok(FileConfig::default())
        }
        Err(e) => Err(ConfigError::Read(path.to_path_buf(), e.to_string())),
    }
}

fn parse_env<T: std::str::FromStr>(
    env: &dyn Fn(&str) -> Option<String>,
    key: &str,
) -> Result<Option<T>, ConfigError> {
    match env(key).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::Invalid(format!("{key}={v} is not a valid value"))),
    }
}

/// Merges flags, environment and config file.
pub fn resolve(
    common: &CommonArgs,
    model: &ModelArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, ConfigError> {
    let (path, required) = match (&common.config, env("MEMSCOPE_CONFIG")) {
        (Some(p), _) => (Some(p.clone()), true),
        (None, Some(p)) if !p.is_empty() => (Some(PathBuf::from(p)), true),
        _ => (default_config_path(), false),
    };
    let file = match path {
        Some(p) => load_file(&p, required)?,
        None => FileConfig::default(),
    };
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());

    let store = common
        .store
        .clone()
        .or_else(|| nonempty(env("MEMSCOPE_STORE")).map(PathBuf::from))
        .or(file.store.clone())
        .unwrap_or_else(default_store_path);
    let agent = common
        .agent
        .clone()
        .or_else(|| nonempty(env("MEMSCOPE_AGENT")))
        .or(file.agent.clone())
        .unwrap_or_else(|| "default".into());
    if agent.trim().is_empty() || agent.chars().any(char::is_control) {
        return Err(ConfigError::Invalid(
            "the agent name must be non-empty printable text".into(),
        ));
    }
    let api_key = nonempty(env("OPENAI_API_KEY")).or(file.api_key.clone());
    let provider = match model.provider.clone().or(file.provider.clone()) {
        Some(name) => Some(crate::providers::find(&name).map_err(ConfigError::Invalid)?),
        None => None,
    };
    let base_url = model
        .base_url
        .clone()
        .or_else(|| nonempty(env("OPENAI_BASE_URL")))
        .or(file.base_url.clone())
        .or_else(|| provider.map(|p| p.base_url.to_string()))
        .or_else(|| api_key.as_ref().map(|_| OPENAI_BASE_URL.to_string()));
    if let Some(p) = provider
        && p.needs_key
        && api_key.is_none()
    {
        return Err(ConfigError::Invalid(format!(
            "{} needs an API key: set OPENAI_API_KEY or api_key in the config file",
            p.label
        )));
    }
    fn setting<T: std::str::FromStr<Err = String>>(
        flag: &Option<String>,
        file: &Option<String>,
        what: &str,
    ) -> Result<Option<T>, ConfigError> {
        flag.as_ref()
            .or(file.as_ref())
            .map(|v| {
                v.parse()
                    .map_err(|e| ConfigError::Invalid(format!("{what}: {e}")))
            })
            .transpose()
    }
    let policy = PolicyOverride {
        tool_mode: setting(&model.tool_mode, &file.tool_mode, "tool mode")?,
        no_tool_reply: setting(&model.no_tool_reply, &file.no_tool_reply, "no-tool replies")?,
        tool_choice: setting(&model.tool_choice, &file.tool_choice, "tool choice")?,
        core_edits: setting(&model.core_edits, &file.core_edits, "core edits")?,
    };
    if policy.tool_choice == Some(ToolChoice::Required)
        && let Some(p) = provider
        && !p.tool_choice_required
    {
        return Err(ConfigError::Invalid(format!(
            "{} does not support tool_choice \"required\"",
            p.label
        )));
    }
    let stream = model
        .stream
        .or(file.stream)
        .unwrap_or_else(|| provider.is_some_and(|p| p.streaming));
    let model_name = model
        .model
        .clone()
        .or_else(|| nonempty(env("MEMSCOPE_MODEL")))
        .or(file.model.clone());
    let model_given = model_name.is_some();
    let model_name = model_name.unwrap_or_else(|| "gpt-4o-mini".to_string());
    let (context_window, window_source) = match model.context_window {
        Some(w) => (w, WindowSource::Config),
        None => match parse_env::<u32>(env, "MEMSCOPE_CONTEXT_WINDOW")? {
            Some(w) => (w, WindowSource::Config),
            None => match file.context_window {
                Some(w) => (w, WindowSource::Config),
                None => crate::engine::settings::table_window(&model_name),
            },
        },
    };
    if context_window < 512 {
        return Err(ConfigError::Invalid(format!(
            "the context window must be at least 512 tokens, not {context_window}"
        )));
    }
    let server_tokenizer = match model
        .token_counter
        .as_deref()
        .or(file.token_counter.as_deref())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("auto") | Some("server") => true,
        Some("local") | Some("tiktoken") => false,
        Some(other) => {
            return Err(ConfigError::Invalid(format!(
                "token counter: '{other}' is not one of auto, local"
            )));
        }
    };
    let defaults = EngineSettings::default();
    let engine = EngineSettings {
        server_tokenizer,
        model: model_name.clone(),
        context_window,
        max_tokens: model
            .max_tokens
            .or(file.max_tokens)
            .unwrap_or(defaults.max_tokens),
        chain_cap: model
            .chain_cap
            .or(parse_env(env, "MEMSCOPE_CHAIN_CAP")?)
            .or(file.chain_cap)
            .unwrap_or(defaults.chain_cap)
            .max(1),
        warn_ratio: file.warn_ratio.unwrap_or(defaults.warn_ratio),
        flush_ratio: file.flush_ratio.unwrap_or(defaults.flush_ratio),
        flush_target: file.flush_target.unwrap_or(defaults.flush_target),
        output_limit: defaults.output_limit,
        window_source,
        json_format: provider
            .map(|p| p.json_format)
            .unwrap_or(defaults.json_format),
        stream_usage: provider.is_some_and(|p| p.stream_usage),
    };
    if !(0.1..=1.0).contains(&engine.flush_target)
        || !(0.1..=1.0).contains(&engine.warn_ratio)
        || !(0.1..=1.0).contains(&engine.flush_ratio)
        || engine.flush_target >= engine.flush_ratio
    {
        return Err(ConfigError::Invalid(
            "warn_ratio, flush_ratio and flush_target must lie between 0.1 and 1.0, with flush_target below flush_ratio".into(),
        ));
    }
    let timeout = model
        .timeout
        .or(file.timeout_secs)
        .unwrap_or(300.0)
        .clamp(0.05, 3600.0);
    let retry = RetryPolicy {
        max_retries: parse_env(env, "MEMSCOPE_MAX_RETRIES")?
            .or(file.max_retries)
            .unwrap_or(3),
        base: Duration::from_millis(
            parse_env(env, "MEMSCOPE_RETRY_BASE_MS")?
                .or(file.retry_base_ms)
                .unwrap_or(500),
        ),
        ..RetryPolicy::default()
    };
    let template = ClientConfig {
        base_url: String::new(),
        api_key,
        model: model_name,
        timeout: Duration::from_secs_f64(timeout),
        retry,
        embedding_model: model
            .embedding_model
            .clone()
            .or_else(|| nonempty(env("MEMSCOPE_EMBEDDING_MODEL")))
            .or(file.embedding_model.clone()),
        embedding_base_url: model
            .embedding_base_url
            .clone()
            .or(file.embedding_base_url.clone()),
        stream,
    };
    let client = base_url.map(|u| ClientConfig {
        base_url: u.trim_end_matches('/').to_string(),
        ..template.clone()
    });
    let keys = file
        .keys
        .iter()
        .map(|(k, v)| (k.clone(), v.to_vec()))
        .collect();
    Ok(Resolved {
        store,
        agent,
        client,
        provider,
        policy,
        template,
        model_given,
        engine,
        theme: file.theme.clone(),
        keys,
    })
}

#[cfg(test)]
mod tests;
