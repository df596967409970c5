//! `memscope run`: user messages on stdin, engine events as JSON lines on stdout.

use std::io::Write;

use tokio::io::AsyncBufReadExt;

use super::{Failure, Outcome};
use crate::config::Resolved;
use crate::engine::{self, Agent, Command};
use crate::model::{ModelClient, ModelError};
use crate::store::Store;

/// Connects to the endpoint, checking it answers, and settles the model name.
pub async fn connect(cfg: &mut Resolved) -> Result<ModelClient, Failure> {
    if cfg.client.is_none() {
        // Nothing configured: look for a local server.
        let targets = crate::providers::probe_targets(&|k| std::env::var(k).ok());
        let found = crate::providers::detect(targets, std::time::Duration::from_millis(400)).await;
        if let Some((p, url)) = found.first() {
            eprintln!(
                "memscope: no endpoint configured; using the {} found at {url}",
                p.label
            );
            cfg.use_found(p, url);
        }
    }
    let Some(client_cfg) = cfg.client.clone() else {
        return Err(Failure::start(
            "no model endpoint is configured: pass --base-url (e.g. http://127.0.0.1:8080/v1), set \
             OPENAI_BASE_URL, or set OPENAI_API_KEY for OpenAI",
        ));
    };
    let client = ModelClient::new(client_cfg.clone()).map_err(Failure::start)?;
    match client.list_models().await {
        Ok(models) => {
            if !cfg.model_given
                && let Some(first) = models.first()
            {
                let mut c = client_cfg;
                c.model = first.clone();
                cfg.engine.set_model(first);
                cfg.client = Some(c.clone());
                return ModelClient::new(c).map_err(Failure::start);
            }
            Ok(client)
        }
        Err(e @ (ModelError::Connect(_) | ModelError::Timeout(_))) => Err(Failure::start(format!(
            "cannot reach the model endpoint {}: {e}",
            client.base_url()
        ))),
        // The server answered (even if without a model list): good enough.
        Err(e) => {
            tracing::info!(error = %e, "endpoint answered /models with an error; going on");
            Ok(client)
        }
    }
}

pub async fn run(mut cfg: Resolved, out: &mut (dyn Write + Send)) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let client = connect(&mut cfg).await?;
    let mut agent = Agent::open(store, &cfg.agent, cfg.engine.clone()).map_err(Failure::start)?;
    agent.apply_policy(&cfg.policy).map_err(Failure::start)?;
    let mut handle = engine::spawn(agent, Some(client));
    let commands = handle.commands.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    let line = line.trim_end_matches('\r');
                    if line.trim().is_empty() {
                        continue;
                    }
                    if commands
                        .send(Command::UserMessage(line.to_string()))
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(None) | Err(_) => {
                    let _ = commands.send(Command::Shutdown);
                    break;
                }
            }
        }
    });
    drop(handle.commands);
    while let Some(event) = handle.events.recv().await {
        if writeln!(out, "{}", event.to_json_line())
            .and_then(|_| out.flush())
            .is_err()
        {
            break; // stdout closed: nobody is listening
        }
    }
    match handle.task.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::runtime(e)),
        Err(e) => Err(Failure::runtime(format!(
            "the engine stopped unexpectedly: {e}"
        ))),
    }
}
