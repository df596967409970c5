//! The composition root both faces use: opening the store and the agent, finding and checking
//! the model server, and hearing the signals that end a session.
//!
//! Contract: the TUI and the command line build their engine only through these functions, so
//! that a store is opened, recovered and reported the same way whichever face opens it, and a
//! server is found the same way. Failures come back as a [`Failure`] with the exit status the
//! caller returns; notes for the user (a recovered store, a server found) go to stderr here and
//! nowhere else.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Resolved;
use crate::engine::Agent;
use crate::model::{ClientConfig, ModelClient, ModelError};
use crate::providers::Provider;
use crate::store::{Store, StoreError};

/// A failure that stops a command, with its exit status.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Could not start (bad settings, store locked, endpoint unreachable): exit 2.
    pub fn start(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
    /// Writing the output failed. A reader that closed the pipe early (`dump | head`) is not a
    /// failure: the output is simply not wanted any more, so memscope stops quietly (exit 0,
    /// nothing said); any other write error is one (exit 1).
    pub fn output(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure {
                code: 0,
                message: String::new(),
            };
        }
        Failure::runtime(format!("cannot write the output: {e}"))
    }

    /// Failed while running: exit 1.
    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
}

/// A store failure while running (exit 1).
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::runtime(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Outcome = Result<(), Failure>;

/// The note a reader prints after recovering a store whose writer stopped without closing it.
pub fn recovered_note(path: &Path) -> String {
    format!(
        "memscope: the store {} was not closed cleanly (its writer stopped without closing it); \
         recovered it: every committed step is there",
        path.display()
    )
}

/// Opens a store for reading (alongside a writer, or after one crashed), saying on stderr when
/// it had to be recovered.
pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
    let store = Store::open_read_only(path)?;
    if store.recovered() {
        tracing::warn!(path = %path.display(), "recovered a store that was not closed cleanly");
        eprintln!("{}", recovered_note(path));
    }
    Ok(store)
}

/// The agent memscope makes on first use; any other name must exist (or be made with
/// `agents create`), so a mistyped `--agent` never starts a new empty agent.
pub const DEFAULT_AGENT: &str = "default";

/// Refuses an agent name the store does not hold, naming the agents it has.
fn no_such_agent(
    cfg: &Resolved,
    store: &Store,
    exit: impl Fn(String) -> Failure,
) -> Result<(), Failure> {
    if store.has_agent(&cfg.agent).map_err(Failure::runtime)? {
        return Ok(());
    }
    let names: Vec<String> = store
        .agents()
        .map_err(Failure::runtime)?
        .into_iter()
        .map(|a| a.name)
        .collect();
    Err(exit(format!(
        "the store {} has no agent named '{}' (agents: {})",
        crate::store::display_name(&cfg.store),
        cfg.agent,
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )))
}

/// Opens an agent that must exist already (readers: dump, archival search, watch), naming the
/// agents the store has when it is not there (exit 2, as for every command).
pub fn open_existing(cfg: &Resolved, store: impl Into<Arc<Store>>) -> Result<Agent, Failure> {
    let store = store.into();
    no_such_agent(cfg, &store, Failure::start)?;
    Agent::open(store, &cfg.agent, cfg.engine.clone()).map_err(Failure::runtime)
}

/// Opens the agent a writing command works on: the default agent is made on first use; any
/// other must exist (exit 2 naming the agents there are, and how to make one).
pub fn open_for_writing(cfg: &Resolved, store: impl Into<Arc<Store>>) -> Result<Agent, Failure> {
    let store = store.into();
    if cfg.agent != DEFAULT_AGENT {
        no_such_agent(cfg, &store, |m| {
            Failure::start(format!(
                "{m}; make it with `memscope agents create {}`",
                cfg.agent
            ))
        })?;
    }
    Agent::open(store, &cfg.agent, cfg.engine.clone()).map_err(Failure::start)
}

/// Opens the agent in a store opened for writing (the default agent created when new), with
/// the agent settings the configuration gives applied and saved.
pub fn open_writer(cfg: &Resolved, store: impl Into<Arc<Store>>) -> Result<Agent, Failure> {
    let mut agent = open_for_writing(cfg, store)?;
    agent.apply_policy(&cfg.policy).map_err(Failure::start)?;
    Ok(agent)
}

/// Looks for a model server on this machine (the ports local servers use, all at once, with a
/// short timeout). The first one found, with the client settings to talk to it.
pub async fn find_server(cfg: &Resolved) -> Option<(&'static Provider, ClientConfig)> {
    let targets = crate::providers::probe_targets(&|k| std::env::var(k).ok());
    let found = crate::providers::detect(targets, Duration::from_millis(400)).await;
    let (p, url) = found.first()?;
    let mut with = cfg.clone();
    with.use_found(p, url);
    with.client.map(|c| (*p, c))
}

/// For the command line: settles the endpoint (finding a local server when none is
/// configured), checks that it answers, and settles the model name from its `/models` when
/// none was given. The TUI does the same without waiting: it finds the server in the
/// background and lets the engine ask `/models`.
pub async fn connect(cfg: &mut Resolved) -> Result<ModelClient, Failure> {
    if cfg.client.is_none()
        && let Some((p, found)) = find_server(cfg).await
    {
        eprintln!(
            "memscope: no endpoint configured; using the {} found at {}",
            p.label, found.base_url
        );
        let url = found.base_url.clone();
        cfg.use_found(p, &url);
    }
    let Some(client_cfg) = cfg.client.clone() else {
        return Err(Failure::start(
            "no model endpoint is configured: pass --base-url (e.g. http://127.0.0.1:8080/v1), set \
             OPENAI_BASE_URL, or set OPENAI_API_KEY for OpenAI",
        ));
    };
    let client = ModelClient::new(client_cfg).map_err(Failure::start)?;
    // Asking for the models is also the check that the endpoint answers.
    match client.for_served_model().await {
        Ok(Some(served)) if !cfg.model_given => {
            cfg.engine.set_model(served.model());
            cfg.client = Some(served.config().clone());
            Ok(served)
        }
        Ok(_) => Ok(client),
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

/// The signals that end a session cleanly: SIGTERM (`kill`), SIGHUP (the terminal closed) and
/// SIGINT (Ctrl-C outside raw mode). Each one heard is sent by name; from the first one on, the
/// default action (dying on the spot, store open and terminal raw) no longer applies.
pub fn termination_signals() -> tokio::sync::mpsc::UnboundedReceiver<&'static str> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for (kind, name) in [
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::interrupt(), "SIGINT"),
        ] {
            let Ok(mut s) = signal(kind) else {
                tracing::warn!(signal = name, "cannot listen for the signal");
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    tracing::info!(signal = name, "heard a signal; stopping cleanly");
                    if tx.send(name).is_err() {
                        break;
                    }
                }
            });
        }
    }
    rx
}
