//! Agents and models from inside the TUI, the runtime's side.
//!
//! Contract: an [`AgentOp`] the app asked for is carried out here, between two frames: a switch
//! stops the engine (letting it finish its commit), opens the other agent through the engine's
//! own constructor, starts an engine on it with the connection in use, and puts a fresh app in
//! place (theme, keys, model and endpoint kept; the transcript read again from that agent's
//! journal). Creating, renaming and deleting go through `Agent` and the store's one-transaction
//! operations on a blocking thread; the agent in use is renamed with its engine stopped and
//! restarted, and never deleted. A model or endpoint change is a `Connect` command: the engine
//! asks the new server for its window, so the budget follows. An API key is only ever sent to
//! the host it was configured for.

use ratatui::backend::Backend;

use super::app::{AgentOp, NewAgent};
use super::{Runtime, initial_app, reads};
use crate::config::Resolved;
use crate::engine::{self, Agent, Command, WindowSource};
use crate::model::{ClientConfig, ModelClient};
use crate::store::Store;

/// Makes an agent with the form's persona, human and extra blocks, in the store the TUI has
/// open; each block is a recorded manual edit, as if typed into the new agent's editor.
pub fn create_agent(
    store: std::sync::Arc<Store>,
    cfg: &Resolved,
    new: &NewAgent,
) -> Result<(), String> {
    crate::engine::history::check_name(&new.name).map_err(|e| e.to_string())?;
    if store
        .load_agent(&new.name)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err(format!("an agent named '{}' already exists", new.name));
    }
    let mut agent = Agent::open(store, &new.name, cfg.engine.clone()).map_err(|e| e.to_string())?;
    agent.apply_policy(&cfg.policy).map_err(|e| e.to_string())?;
    let mut edits: Vec<(&str, &str)> = Vec::new();
    if !new.persona.is_empty() {
        edits.push(("persona", &new.persona));
    }
    if !new.human.is_empty() {
        edits.push(("human", &new.human));
    }
    for (label, value) in edits {
        agent
            .edit_core_by_hand(label, value)
            .map_err(|e| e.to_string())??;
    }
    for (label, value) in &new.blocks {
        agent
            .add_block_by_hand(label, value)
            .map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// `endpoint` as a base URL: a provider preset's name (`ollama`) or a URL.
fn endpoint_url(
    endpoint: &str,
) -> Result<(String, Option<&'static crate::providers::Provider>), String> {
    if let Ok(p) = crate::providers::find(endpoint) {
        return Ok((p.base_url.to_string(), Some(p)));
    }
    if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        return Ok((endpoint.trim_end_matches('/').to_string(), None));
    }
    Err(format!(
        "'{endpoint}' is neither a URL (http://…/v1) nor a provider ({})",
        crate::providers::PROVIDERS
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

/// The client settings a model or endpoint change asks for, from those in use (or the
/// configuration's template), and what to tell the user.
pub fn changed_client(
    current: Option<&ClientConfig>,
    template: &ClientConfig,
    endpoint: Option<&str>,
    model: Option<&str>,
) -> Result<
    (
        ClientConfig,
        Option<&'static crate::providers::Provider>,
        String,
    ),
    String,
> {
    let mut c = current.cloned().unwrap_or_else(|| template.clone());
    let mut provider = None;
    let mut said = Vec::new();
    if let Some(e) = endpoint {
        let (url, p) = endpoint_url(e)?;
        if current.is_some_and(|cur| host(&cur.base_url) != host(&url)) && c.api_key.is_some() {
            c.api_key = None;
            said.push("the API key stays with its own host".to_string());
        }
        if let Some(p) = p {
            c.stream = c.stream || p.streaming;
        }
        if c.embedding_base_url.is_none() {
            c.embedding_model = c
                .embedding_model
                .filter(|_| p.is_some_and(|p| p.embeddings));
        }
        said.insert(0, format!("connecting to {url}"));
        c.base_url = url;
        provider = p;
    } else if current.is_none() {
        return Err(
            "no endpoint yet: /endpoint URL [MODEL] (or a provider: ollama, llamacpp…)".into(),
        );
    }
    if let Some(m) = model {
        c.model = m.to_string();
        said.push(format!("model {m}"));
    }
    Ok((c, provider, said.join(" · ")))
}

impl<B: Backend> Runtime<B> {
    /// Sends the engine a `Connect` for the model or endpoint asked for.
    pub(super) fn change_model(&mut self, endpoint: Option<String>, model: Option<String>) {
        let Some(cfg) = self.session.as_ref() else {
            self.app.notice = Some("changing the model is not available here".into());
            return;
        };
        match changed_client(
            self.client.as_ref(),
            &cfg.template,
            endpoint.as_deref(),
            model.as_deref(),
        ) {
            Err(e) => self.app.notice = Some(e),
            Ok((client, provider, said)) => {
                self.app.notice = Some(format!("{said}…"));
                if model.is_some() {
                    self.app.model = Some(client.model.clone());
                }
                self.app.endpoint = Some(client.base_url.clone());
                self.client = Some(client.clone());
                self.send(Command::Connect {
                    client,
                    provider,
                    keep_model: model.is_some(),
                });
            }
        }
    }

    /// Carries out an agent operation the app asked for.
    pub(super) async fn agent_op(&mut self, op: AgentOp) {
        let Some(cfg) = self.session.clone() else {
            self.app.notice = Some("agents cannot be changed here".into());
            return;
        };
        let store = self.store.clone();
        let done = match op {
            AgentOp::Switch(name) => {
                // A name the store does not have is said before anything stops.
                let n = name.clone();
                let exists = blocking(move || {
                    store
                        .load_agent(&n)
                        .map(|a| a.is_some())
                        .map_err(|e| e.to_string())
                })
                .await;
                match exists {
                    Ok(false) if name != crate::session::DEFAULT_AGENT => {
                        return self.after(Err(format!(
                            "there is no agent named '{name}': /new {name} makes one, /agents lists them"
                        )));
                    }
                    Err(e) => return self.after(Err(e)),
                    _ => {}
                }
                let r = self.restart_on(&cfg, &name, None).await;
                return self.after(r.map(|_| format!("now on the agent '{name}'")));
            }
            AgentOp::Create(new) => {
                let name = new.name.clone();
                let c = cfg.clone();
                let made = blocking(move || create_agent(store, &c, &new)).await;
                if let Err(e) = made {
                    return self.after(Err(format!("could not make the agent '{name}': {e}")));
                }
                let r = self.restart_on(&cfg, &name, None).await;
                return self.after(r.map(|_| format!("made the agent '{name}'; now on it")));
            }
            AgentOp::Rename { from, to } if from == self.agent => {
                let (f, t) = (from.clone(), to.clone());
                let rename: Between =
                    Box::new(move |s: &Store| s.rename_agent(&f, &t).map_err(|e| e.to_string()));
                let r = self.restart_on(&cfg, &to, Some(rename)).await;
                return self.after(r.map(|_| format!("renamed '{from}' to '{to}'")));
            }
            AgentOp::Rename { from, to } => {
                let (f, t) = (from.clone(), to.clone());
                blocking(move || store.rename_agent(&f, &t).map_err(|e| e.to_string()))
                    .await
                    .map(|_| format!("renamed '{from}' to '{to}'"))
            }
            AgentOp::Delete(name) if name == self.agent => {
                Err("the agent in use cannot be deleted: switch to another one first".into())
            }
            AgentOp::Delete(name) => {
                let n = name.clone();
                blocking(move || store.delete_agent(&n).map_err(|e| e.to_string()))
                    .await
                    .and_then(|existed| {
                        if existed {
                            Ok(format!("deleted the agent '{name}' and all its memory"))
                        } else {
                            Err(format!("there is no agent named '{name}'"))
                        }
                    })
            }
        };
        let fx = self.app.agent_op_done(done);
        self.run_effects(fx);
    }

    fn after(&mut self, r: Result<String, String>) {
        let fx = self.app.agent_op_done(r);
        self.run_effects(fx);
    }

    /// Stops the engine, runs `between` on the store (a rename), opens `name` and starts an
    /// engine and a fresh app on it. When the agent cannot be opened, the engine starts again on
    /// the agent it had, so the session goes on.
    async fn restart_on(
        &mut self,
        cfg: &Resolved,
        name: &str,
        between: Option<Between>,
    ) -> Result<(), String> {
        self.stop_engine().await;
        let store = self.store.clone();
        let (c, target, old) = (cfg.clone(), name.to_string(), self.agent.clone());
        let opened = blocking(move || {
            let open = |n: String| {
                crate::session::open_writer(
                    &Resolved {
                        agent: n,
                        ..c.clone()
                    },
                    store.clone(),
                )
                .map_err(|e| e.to_string())
            };
            let done = match between {
                Some(f) => f(&store),
                None => Ok(()),
            };
            match done.and_then(|_| open(target.clone())) {
                Ok(a) => {
                    // Another process may write the agent this one left.
                    if old != target {
                        store.release(&old);
                    }
                    Ok((a, None))
                }
                Err(e) => open(old)
                    .map(|a| (a, Some(e.clone())))
                    .map_err(|b| format!("{e}; and the agent before cannot be opened: {b}")),
            }
        })
        .await;
        match opened {
            Ok((agent, failed)) => {
                agent.store.index_in_background(agent.name());
                self.start_engine_on(agent);
                failed.map_or(Ok(()), Err)
            }
            Err(e) => {
                self.engine_failure = Some(e.clone());
                self.app.engine_stopped = true;
                Err(e)
            }
        }
    }

    /// Lets the engine finish what it is committing and stop; waits for background reads.
    async fn stop_engine(&mut self) {
        if let Some(h) = self.engine.take() {
            let _ = h.commands.send(Command::Shutdown);
            drop(h.commands);
            let mut events = h.events;
            while events.recv().await.is_some() {}
            match h.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "the engine stopped with an error"),
                Err(e) => tracing::error!(error = %e, "the engine task failed"),
            }
        }
        self.reads.finish().await;
    }

    /// An engine and a fresh app on `agent`, with the connection, theme and keys in use, and
    /// what the session learnt from its server (the model it serves, the window it states):
    /// the app holds both, as the status bar shows them, and every agent opened carries them.
    fn start_engine_on(&mut self, mut agent: Agent) {
        if let Some(served) = self.app.model.clone() {
            if let Some(c) = self.client.as_mut() {
                c.model = served.clone();
            }
            if agent.settings.model != served {
                agent.set_model(&served);
            }
        }
        let learnt = &self.app.budget;
        if learnt.window_source == WindowSource::Server.as_str()
            && agent.settings.window_source != WindowSource::Config
        {
            agent.settings.context_window = learnt.context_window;
            agent.settings.window_source = WindowSource::Server;
        }
        let name = agent.name().to_string();
        // The pane the user was in stays in focus: a key meant for a pane never types into a
        // message because the agent changed.
        let focus = self.app.focus;
        let mut app = initial_app(
            &agent,
            self.client.as_ref(),
            self.app.theme.clone(),
            self.app.keymap.clone(),
            false,
        );
        app.focus = focus;
        let client = self.client.clone().and_then(|c| ModelClient::new(c).ok());
        self.engine = Some(engine::spawn(agent, client));
        self.engine_failure = None;
        self.app = app;
        self.agent = name.clone();
        self.reads = reads::Reads::new(self.store.clone(), name);
        self.start();
    }
}

/// A store change made while no engine runs (a rename of the agent in use).
type Between = Box<dyn FnOnce(&Store) -> Result<(), String> + Send>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("the store task failed: {e}")))
}
