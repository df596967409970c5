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
    rt.draw().unwrap();
    rt.start();
    rt
}
