//! The whole TUI over a `TestBackend`, on a real store, with a real engine.

use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use memscope::engine::{self, Agent};
use memscope::store::Store;
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::{Runtime, initial_app};

/// The whole TUI on the store at `path`, with an engine talking to `client` (or to nothing).
pub async fn runtime_on(
    path: &std::path::Path,
    client: Option<memscope::model::ModelClient>,
) -> Runtime<TestBackend> {
    let store = Arc::new(Store::open(path).unwrap());
    let agent = Agent::open(store.clone(), "default", super::settings(8192)).unwrap();
    started(store, agent, client, None)
}

/// An engine on `agent` and the TUI over it at 120×35, drawn once and started.
fn started(
    store: Arc<Store>,
    agent: Agent,
    client: Option<memscope::model::ModelClient>,
    session: Option<memscope::config::Resolved>,
) -> Runtime<TestBackend> {
    let app = initial_app(
        &agent,
        client.as_ref().map(|c| c.config()),
        Theme::default_theme(),
        Keymap::default(),
        false,
    );
    let handle = engine::spawn(agent, client);
    let mut rt = Runtime::new(
        Terminal::new(TestBackend::new(120, 35)).unwrap(),
        app,
        store,
        "default".into(),
        Some(handle),
        None,
    );
    if let Some(cfg) = session {
        rt = rt.with_session(cfg);
    }
    rt.draw().unwrap();
    rt.start();
    rt
}

/// The whole TUI as `memscope` opens it: with the session's settings, so agents can be switched
/// and the model changed, talking to the server at `base_url` (or to nothing).
pub async fn runtime_with_session(
    path: &std::path::Path,
    base_url: Option<&str>,
) -> Runtime<TestBackend> {
    let client = base_url.map(super::client_config);
    let cfg = memscope::config::Resolved {
        store: path.to_path_buf(),
        agent: "default".into(),
        client: client.clone(),
        model_given: true,
        engine: super::settings(8192),
        provider: None,
        policy: Default::default(),
        template: super::client_config("http://127.0.0.1:9/v1"),
        theme: None,
        keys: Default::default(),
    };
    let store = Arc::new(Store::open(path).unwrap());
    let agent = memscope::session::open_writer(&cfg, store.clone()).unwrap();
    let client = client.map(|c| memscope::model::ModelClient::new(c).unwrap());
    started(store, agent, client, Some(cfg))
}

/// The whole TUI as `memscope` opens it with `cfg`: when no model is named, the engine asks the
/// server which one it serves, and none is shown until it says (as `tui::open` does).
pub async fn runtime_discovering(
    path: &std::path::Path,
    cfg: memscope::config::Resolved,
) -> Runtime<TestBackend> {
    let store = Arc::new(Store::open(path).unwrap());
    let agent = memscope::session::open_writer(&cfg, store.clone()).unwrap();
    let client = cfg
        .client
        .clone()
        .map(|c| memscope::model::ModelClient::new(c).unwrap());
    let mut app = initial_app(
        &agent,
        cfg.client.as_ref(),
        Theme::default_theme(),
        Keymap::default(),
        false,
    );
    if !cfg.model_given {
        app.model = None;
    }
    let discover = client.is_some() && !cfg.model_given;
    let handle = engine::spawn_with(agent, client, discover);
    let mut rt = Runtime::new(
        Terminal::new(TestBackend::new(120, 35)).unwrap(),
        app,
        store,
        cfg.agent.clone(),
        Some(handle),
        None,
    )
    .with_session(cfg);
    rt.draw().unwrap();
    rt.start();
    rt
}
