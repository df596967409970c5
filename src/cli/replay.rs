//! `memscope replay --step N`: a recorded call sent again, as it was or edited, to the same
//! or another model and endpoint, its answer shown beside the recorded one.
//!
//! Contract: the store is opened read-only and nothing is written anywhere: the agent does not
//! hear of it. The body sent is the recorded request's bytes, unchanged unless `--request`
//! gives another body or `--model` another model; a streamed call is asked for whole
//! (`stream` off), so the answer can be read beside the recorded one.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use super::history::safe_json;
use crate::config::Resolved;
use crate::engine::history::view;
use crate::model::ModelClient;
use crate::session::{Failure, Outcome, open_existing, open_reader};
use crate::text;

pub async fn replay(
    cfg: &Resolved,
    step: u64,
    request: Option<&Path>,
    json_out: bool,
    out: &mut dyn Write,
) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let recorded = view::step_detail(&agent.store, agent.name(), step)?.ok_or_else(|| {
        Failure::start(format!(
            "agent '{}' has no step {step} (`memscope steps` lists them)",
            agent.name()
        ))
    })?;
    let mut body = match request {
        Some(path) => std::fs::read(path).map_err(|e| {
            Failure::start(format!("cannot read the request {}: {e}", path.display()))
        })?,
        None => recorded.request.clone(),
    };
    let mut edited = request.is_some();
    let mut parsed: Value = serde_json::from_slice(&body)
        .map_err(|e| Failure::start(format!("the request to replay is not a JSON object: {e}")))?;
    let Some(obj) = parsed.as_object_mut() else {
        return Err(Failure::start("the request to replay is not a JSON object"));
    };
    if cfg.model_given {
        obj.insert("model".into(), Value::String(cfg.engine.model.clone()));
        edited = true;
    }
    if obj.get("stream") == Some(&Value::Bool(true)) {
        obj.remove("stream");
        obj.remove("stream_options");
        edited = true;
    }
    if edited {
        body = serde_json::to_vec(&parsed).expect("json");
    }
    let model = parsed["model"].as_str().unwrap_or("").to_string();
    let Some(mut client_cfg) = cfg.client.clone() else {
        return Err(Failure::start(
            "no endpoint to replay against: pass --base-url (e.g. http://127.0.0.1:8080/v1) or \
             set OPENAI_BASE_URL",
        ));
    };
    client_cfg.stream = false;
    let base_url = client_cfg.base_url.clone();
    let client = ModelClient::new(client_cfg).map_err(Failure::start)?;
    let t0 = std::time::Instant::now();
    let response = client
        .chat_raw(&body)
        .await
        .map_err(|e| Failure::runtime(format!("the replay failed: {e}")))?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let replayed = view::reply_of(&response);
    if json_out {
        let doc = json!({
            "step": step,
            "base_url": base_url,
            "model": model,
            "edited": edited,
            "recorded": {"reply": recorded.reply, "response": recorded.response, "model_ms": recorded.row.model_ms},
            "replayed": {"reply": replayed, "response": response, "model_ms": ms},
        });
        writeln!(out, "{}", safe_json(doc.to_string())).map_err(Failure::output)?;
        return Ok(());
    }
    let mut lines = vec![format!(
        "step {step} sent again to {base_url} (model {model}{}) in {ms:.0} ms; nothing was saved",
        if edited { ", edited" } else { "" }
    )];
    for (title, r, ms) in [
        ("recorded", &recorded.reply, recorded.row.model_ms),
        ("replayed", &replayed, ms),
    ] {
        lines.push(String::new());
        lines.push(format!("== {title} ({ms:.0} ms) =="));
        if let Some(t) = &r.text {
            lines.push(format!("text: {t}"));
        }
        for c in &r.tool_calls {
            lines.push(format!("call: {}({})", c.name, c.arguments));
        }
        lines.push(format!(
            "finish: {}",
            r.finish_reason.as_deref().unwrap_or("-")
        ));
    }
    for l in lines {
        writeln!(out, "{}", text::visible(&l)).map_err(Failure::output)?;
    }
    Ok(())
}
