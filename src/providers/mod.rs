//! Provider presets and finding a local model server when nothing is configured.
//!
//! Contract: [`Provider`] holds what differs between OpenAI-compatible servers (default base
//! URL, whether a key is needed, `tool_choice: "required"`, streaming, embeddings, how JSON mode
//! is constrained). [`detect`] asks the usual local ports on 127.0.0.1 at once, each with a short
//! timeout, and returns those that answered, in preset order; it never takes longer than its
//! timeout.

use std::time::Duration;

use crate::functions::json_mode::JsonFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provider {
    pub name: &'static str,
    pub label: &'static str,
    pub base_url: &'static str,
    pub needs_key: bool,
    pub tool_choice_required: bool,
    pub streaming: bool,
    pub embeddings: bool,
    pub json_format: JsonFormat,
    /// Takes `stream_options: {"include_usage": true}` (and then reports usage in streams).
    pub stream_usage: bool,
}

pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "openai",
        label: "OpenAI",
        base_url: "https://api.openai.com/v1",
        needs_key: true,
        tool_choice_required: true,
        streaming: true,
        embeddings: true,
        json_format: JsonFormat::JsonSchema,
        stream_usage: true,
    },
    Provider {
        name: "llamacpp",
        label: "llama.cpp server",
        base_url: "http://127.0.0.1:8080/v1",
        needs_key: false,
        tool_choice_required: true,
        streaming: true,
        embeddings: true,
        json_format: JsonFormat::JsonObject,
        stream_usage: true,
    },
    Provider {
        name: "ollama",
        label: "Ollama",
        base_url: "http://127.0.0.1:11434/v1",
        needs_key: false,
        tool_choice_required: false,
        streaming: true,
        embeddings: true,
        json_format: JsonFormat::JsonSchema,
        stream_usage: true,
    },
    Provider {
        name: "vllm",
        label: "vLLM",
        base_url: "http://127.0.0.1:8000/v1",
        needs_key: false,
        tool_choice_required: true,
        streaming: true,
        embeddings: false,
        json_format: JsonFormat::JsonSchema,
        stream_usage: true,
    },
    Provider {
        name: "lmstudio",
        label: "LM Studio",
        base_url: "http://127.0.0.1:1234/v1",
        needs_key: false,
        tool_choice_required: true,
        streaming: true,
        embeddings: true,
        json_format: JsonFormat::JsonSchema,
        stream_usage: false,
    },
    Provider {
        name: "openrouter",
        label: "OpenRouter",
        base_url: "https://openrouter.ai/api/v1",
        needs_key: true,
        tool_choice_required: true,
        streaming: true,
        embeddings: false,
        json_format: JsonFormat::JsonSchema,
        stream_usage: true,
    },
];

pub fn find(name: &str) -> Result<&'static Provider, String> {
    PROVIDERS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
            format!(
                "there is no provider '{name}' (known: {})",
                names.join(", ")
            )
        })
}

/// Where to look for a local server: the presets' own ports, or `MEMSCOPE_PROBE`
/// (`name=host:port,…`) when set.
pub fn probe_targets(env: &dyn Fn(&str) -> Option<String>) -> Vec<(&'static Provider, String)> {
    if let Some(list) = env("MEMSCOPE_PROBE").filter(|v| !v.trim().is_empty()) {
        return list
            .split(',')
            .filter_map(|item| {
                let (name, addr) = item.split_once('=')?;
                Some((find(name).ok()?, format!("http://{}/v1", addr.trim())))
            })
            .collect();
    }
    PROVIDERS
        .iter()
        .filter(|p| !p.needs_key)
        .map(|p| (p, p.base_url.to_string()))
        .collect()
}

/// The targets that answer `GET /models`, in the order given.
pub async fn detect(
    targets: Vec<(&'static Provider, String)>,
    timeout: Duration,
) -> Vec<(&'static Provider, String)> {
    let Ok(http) = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
    else {
        return Vec::new();
    };
    let probes = targets.into_iter().map(|(p, url)| {
        let http = http.clone();
        async move {
            let ok = http
                .get(format!("{}/models", url.trim_end_matches('/')))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            ok.then_some((p, url))
        }
    });
    let mut handles = Vec::new();
    for p in probes {
        handles.push(tokio::spawn(p));
    }
    let mut found = Vec::new();
    for h in handles {
        if let Ok(Some(x)) = h.await {
            found.push(x);
        }
    }
    found
}
