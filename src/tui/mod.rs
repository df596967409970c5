//! The terminal UI: one face over the engine, talking to it only through its channels.
//!
//! Contract: [`run`] owns the terminal (`terminal.rs`): it restores it on every exit path, a
//! panic included (the report goes to a file, never the screen), and SIGTERM, SIGHUP or SIGINT
//! quit as the user would. [`Runtime`] is the event loop, independent of the backend, so tests
//! drive it with a `TestBackend` and synthetic events: it applies every event already waiting to
//! the [`App`], carries out the effects (engine commands; store reads through `reads.rs`, one per
//! kind at a time) and draws one frame: at once after input, else at most one a [`FRAME`]. An
//! engine that stops on its own is reported and the UI stays up to quit. The draw path never
//! waits on the network or the disk.

pub mod agents;
pub mod app;
pub mod control;
pub mod convo;
pub mod data;
pub mod jobs;
pub mod keymap;
pub mod markdown;
mod open;
pub mod reads;
pub mod terminal;
pub mod theme;
pub mod transcript;
pub mod view;
pub mod watch;

pub use open::run;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::config::Resolved;
use crate::engine::{self, Agent, Command, EngineHandle};
use crate::model::{ClientConfig, ModelClient};
use crate::session::{self, Failure};
use crate::store::Store;
use app::{App, AppEvent, AppInit, Effect};
use keymap::Keymap;
use theme::Theme;

/// What `memscope` (and `memscope watch`) need beyond the common settings.
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    pub theme: String,
    pub keys: std::collections::HashMap<String, Vec<String>>,
    pub watch: bool,
}

/// The event loop over any backend.
pub struct Runtime<B: Backend> {
    pub terminal: Terminal<B>,
    pub app: App,
    pub store: Arc<Store>,
    pub agent: String,
    engine: Option<EngineHandle>,
    loads_tx: UnboundedSender<AppEvent>,
    loads_rx: UnboundedReceiver<AppEvent>,
    inputs: Option<UnboundedReceiver<AppEvent>>,
    engine_task: Option<tokio::task::JoinHandle<Result<(), crate::store::StoreError>>>,
    /// Background store reads (one per kind at a time, stale results dropped).
    reads: reads::Reads,
    /// Something changed since the last frame.
    dirty: bool,
    last_draw: Instant,
    /// Why the engine stopped, when it stopped on its own.
    engine_failure: Option<String>,
    /// Exports running in the background, and what they need.
    pub jobs: jobs::Jobs,
    /// The clipboard and the mouse (the real terminal, or a test's writer).
    pub control: control::Control,
    /// The settings the session started with (to open another agent, to change the model);
    /// without them agents and models cannot be changed from the TUI.
    pub session: Option<Resolved>,
    /// The connection in use (the one configured, found, or changed to).
    pub client: Option<ClientConfig>,
    /// An agent operation to carry out after this batch of events.
    pending: Option<app::AgentOp>,
}

/// The shortest time between two frames while events stream in (about 60 a second).
pub const FRAME: Duration = Duration::from_millis(16);
/// Most events applied before a frame is drawn.
const MAX_BATCH: usize = 4096;

impl<B: Backend> Runtime<B> {
    /// Sets up the loop. `inputs` is the key/mouse stream (the terminal's, or a test's).
    pub fn new(
        terminal: Terminal<B>,
        app: App,
        store: Arc<Store>,
        agent: String,
        engine: Option<EngineHandle>,
        inputs: Option<UnboundedReceiver<AppEvent>>,
    ) -> Self {
        let (loads_tx, loads_rx) = unbounded_channel();
        let reads = reads::Reads::new(store.clone(), agent.clone());
        Runtime {
            terminal,
            app,
            store,
            agent,
            engine,
            loads_tx,
            loads_rx,
            inputs,
            engine_task: None,
            reads,
            dirty: false,
            last_draw: Instant::now(),
            engine_failure: None,
            jobs: jobs::Jobs::default(),
            control: control::Control::to_writer(Box::new(std::io::sink())),
            session: None,
            client: None,
            pending: None,
        }
    }

    /// A sender for background sources (watch mode) that feed the loop.
    pub fn feed(&self) -> UnboundedSender<AppEvent> {
        self.loads_tx.clone()
    }

    pub fn draw(&mut self) -> Result<(), String> {
        self.dirty = false;
        self.last_draw = Instant::now();
        let mut drawn = view::Drawn::default();
        let app = &self.app;
        self.terminal
            .draw(|f| drawn = view::draw(f, app))
            .map_err(|e| e.to_string())?;
        self.app.layout(drawn);
        Ok(())
    }

    /// Loads history and the stores in the background.
    pub fn start(&mut self) {
        self.reads
            .request(reads::Read::History(self.app.history_before));
        let fx = self.app.start_effects();
        self.run_effects(fx);
    }

    /// Applies one event and carries out its effects; false once the app quits.
    pub fn apply(&mut self, ev: AppEvent) -> bool {
        // The model the engine settled on (asked of the server) is the one a restart keeps.
        if let AppEvent::Engine(crate::engine::Event {
            kind: crate::protocol::EventKind::Ready { model: Some(m), .. },
            ..
        }) = &ev
            && let Some(c) = self.client.as_mut()
        {
            c.model = m.clone();
        }
        let fx = self.app.update(ev, Instant::now());
        self.run_effects(fx);
        !self.app.quit
    }

    /// Lets the TUI switch agents and models, with the settings the session started with and
    /// the connection in use.
    pub fn with_session(mut self, cfg: Resolved) -> Self {
        self.client = cfg.client.clone();
        self.session = Some(cfg);
        self
    }

    fn send(&mut self, cmd: Command) {
        self.run_effects(vec![Effect::Engine(cmd)]);
    }

    fn run_effects(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Agent(op) => self.pending = Some(op),
                Effect::Model { endpoint, model } => self.change_model(endpoint, model),
                Effect::Engine(cmd) => {
                    if let Command::Connect { client, .. } = &cmd {
                        self.client = Some(client.clone());
                    }
                    if let Some(h) = &self.engine {
                        let _ = h.commands.send(cmd);
                    } else if self.engine_failure.is_some() {
                        self.app.notice = Some(
                            "the engine has stopped: nothing can be changed; quit with Ctrl-C"
                                .into(),
                        );
                    } else {
                        self.app.notice = Some("read-only: nothing can be changed here".into());
                    }
                }
                Effect::Load(l) => self.reads.request(reads::Read::Load(l)),
                Effect::History(before) => self.reads.request(reads::Read::History(before)),
                Effect::Export { format, path } => {
                    let path =
                        path.unwrap_or_else(|| jobs::default_export_path(&self.agent, format));
                    self.jobs.export(
                        self.store.clone(),
                        self.agent.clone(),
                        self.app.model.clone(),
                        format,
                        path,
                        self.loads_tx.clone(),
                    );
                }
                Effect::Copy(text) => match self.control.copy(&text) {
                    Ok(to) => {
                        if let Some(n) = self.app.notice.as_mut() {
                            n.push_str(&format!(" to {to}"));
                        }
                    }
                    Err(e) => self.app.error = Some(e),
                },
                Effect::ReleaseMouse(released) => {
                    if let Err(e) = self.control.mouse(released) {
                        self.app.error = Some(e);
                    }
                }
                Effect::Quit => self.app.quit = true,
            }
        }
    }

    /// Waits for the next event from any source (input, engine, background reads, the clock
    /// while a model call runs, a frame that is due), applies it and everything else already
    /// waiting, then redraws once. Redraws are coalesced: at once after input, else at most one
    /// a [`FRAME`] (a streamed reply arrives as many small events). False once the app quits.
    pub async fn step(&mut self) -> Result<bool, String> {
        if let Some(op) = self.pending.take() {
            self.agent_op(op).await;
            self.draw()?;
            return Ok(!self.app.quit);
        }
        let ev = self.next_event().await;
        let mut input = ev.is_input();
        let mut go_on = self.apply(ev);
        let mut applied = 1;
        while go_on && applied < MAX_BATCH {
            let Some(ev) = self.try_next() else { break };
            input |= ev.is_input();
            go_on = self.apply(ev);
            applied += 1;
        }
        self.dirty = true;
        if input || !go_on || self.last_draw.elapsed() >= FRAME {
            self.draw()?;
        }
        Ok(go_on)
    }

    async fn next_event(&mut self) -> AppEvent {
        loop {
            if let Some(ev) = self.wait_event().await {
                return ev;
            }
        }
    }

    /// The next event, or None for a read result that a newer read superseded.
    async fn wait_event(&mut self) -> Option<AppEvent> {
        let waiting = self.app.elapsed().is_some();
        let frame_due = self.dirty.then(|| self.last_draw + FRAME);
        let notice_goes = self.app.notice_expires();
        let engine_gone = {
            let engine = self.engine.as_mut().map(|h| &mut h.events);
            let inputs = self.inputs.as_mut();
            tokio::select! {
                e = async { match engine { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match e {
                    Some(e) => return Some(AppEvent::Engine(e)),
                    None => true,
                },
                Some(e) = async { match inputs { Some(rx) => rx.recv().await, None => std::future::pending().await } } => return Some(e),
                Some(e) = self.loads_rx.recv() => return Some(e),
                Some((kind, l)) = self.reads.results.recv() => {
                    return self.reads.arrived(kind, l).map(AppEvent::Loaded);
                }
                _ = async { match frame_due { Some(t) => tokio::time::sleep_until(t.into()).await, None => std::future::pending().await } } => return Some(AppEvent::Tick),
                _ = tokio::time::sleep(Duration::from_millis(250)), if waiting => return Some(AppEvent::Tick),
                _ = async { match notice_goes { Some(t) => tokio::time::sleep_until(t.into()).await, None => std::future::pending().await } } => return Some(AppEvent::Tick),
            }
        };
        debug_assert!(engine_gone);
        Some(self.engine_stopped().await)
    }

    /// An event already waiting, if any (never waits).
    fn try_next(&mut self) -> Option<AppEvent> {
        if let Some(Ok(e)) = self.engine.as_mut().map(|h| h.events.try_recv()) {
            return Some(AppEvent::Engine(e));
        }
        if let Some(Ok(e)) = self.inputs.as_mut().map(|rx| rx.try_recv()) {
            return Some(e);
        }
        if let Ok(e) = self.loads_rx.try_recv() {
            return Some(e);
        }
        while let Ok((kind, l)) = self.reads.results.try_recv() {
            if let Some(l) = self.reads.arrived(kind, l) {
                return Some(AppEvent::Loaded(l));
            }
        }
        None
    }

    /// The engine's event channel closed while the UI runs: the task ended, which it only does
    /// on a failure (a store it cannot write). Says why; the UI stays up so the user can read it
    /// and quit.
    async fn engine_stopped(&mut self) -> AppEvent {
        let why = match self.engine.take() {
            Some(h) => match h.task.await {
                Ok(Ok(())) => "it stopped without saying why".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("it crashed ({e})"),
            },
            None => "it is not running".to_string(),
        };
        tracing::error!(reason = %why, "the engine stopped");
        self.engine_failure = Some(why.clone());
        AppEvent::EngineStopped(why)
    }

    /// Processes events until `done` holds for the app, then makes sure the screen shows that
    /// state (tests use this to wait on state).
    pub async fn until(&mut self, done: impl Fn(&App) -> bool) -> Result<(), String> {
        while !done(&self.app) {
            if !self.step().await? {
                return Err("the app quit".into());
            }
        }
        if self.dirty {
            self.draw()?;
        }
        Ok(())
    }

    /// Stops the engine, letting it finish its current commit, and waits for background reads,
    /// so that the store file is free when this returns.
    pub async fn shutdown(mut self) -> Result<(), String> {
        if let Some(h) = self.engine.take() {
            let _ = h.commands.send(Command::Shutdown);
            drop(h.commands);
            self.engine_task = Some(h.task);
            let mut events = h.events;
            // Drain so the engine never blocks on a full channel while stopping.
            while events.recv().await.is_some() {}
        }
        // Reads and exports still running hold the store open; the file is free only once
        // they end.
        self.reads.finish().await;
        self.jobs.finish().await;
        if let Some(t) = self.engine_task.take() {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
        match self.engine_failure {
            Some(why) => Err(format!("the engine stopped: {why}")),
            None => Ok(()),
        }
    }
}

/// Builds the app's starting state from an opened agent (no token counting: the engine's
/// first `budget` event fills the budget in).
pub fn initial_app(
    agent: &Agent,
    client: Option<&ClientConfig>,
    theme: Theme,
    keymap: Keymap,
    read_only: bool,
) -> App {
    App::new(AppInit {
        history_before: agent.journal_next(),
        agent: agent.name().to_string(),
        model: client.map(|c| c.model.clone()),
        endpoint: client.map(|c| c.base_url.clone()),
        read_only,
        theme,
        keymap,
        core: agent.state.core.blocks.clone(),
        budget: crate::tokens::Budget {
            context_window: agent.settings.context_window,
            warn_at: agent.settings.warn_at(),
            flush_at: agent.settings.flush_at(),
            encoding: agent.counter.encoding.to_string(),
            approximate: agent.counter.approximate,
            ..Default::default()
        },
        step: agent.state.step,
        policy: agent.state.policy.describe(),
        now: Instant::now(),
        instructions: agent.base_instructions().to_string(),
        instructions_custom: agent.state.instructions.is_some(),
    })
}
