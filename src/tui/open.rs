//! Opening the TUI for `memscope` and `memscope watch`: the theme and keys, the store (read
//! only to watch), the agent, the engine, the terminal, the background search for a local
//! server when none is configured, and the signals that quit as the user would.
//!
//! Contract: every exit path restores the terminal; the store is free when this returns.

use std::sync::Arc;

use tokio::sync::mpsc::unbounded_channel;

use super::*;

/// Opens the TUI on the configured store and agent.
pub async fn run(cfg: Resolved, opts: TuiOptions) -> Result<(), Failure> {
    let mut signals = session::termination_signals();
    let theme = Theme::load(
        &opts.theme,
        crate::config::default_config_path()
            .as_deref()
            .and_then(|p| p.parent())
            .map(|d| d.join("themes"))
            .as_deref(),
    )
    .map_err(Failure::start)?;
    let keymap = Keymap::with_overrides(&opts.keys).map_err(Failure::start)?;
    let store = Arc::new(if opts.watch {
        session::open_reader(&cfg.store).map_err(Failure::start)?
    } else {
        Store::open(&cfg.store).map_err(Failure::start)?
    });
    if opts.watch
        && store
            .load_agent(&cfg.agent)
            .map_err(Failure::start)?
            .is_none()
    {
        return Err(Failure::start(format!(
            "the store {} has no agent named '{}' to watch",
            crate::store::display_name(&cfg.store),
            cfg.agent
        )));
    }
    tracing::info!(
        store = %crate::store::display_name(&cfg.store),
        agent = %cfg.agent,
        watch = opts.watch,
        "the TUI opens"
    );
    let agent = if opts.watch {
        Agent::open(store.clone(), &cfg.agent, cfg.engine.clone()).map_err(Failure::start)?
    } else {
        session::open_writer(&cfg, store.clone())?
    };
    // Searches of a large memory are ready sooner; the first frame does not wait for it.
    store.index_in_background(&cfg.agent);
    let mut app = initial_app(&agent, cfg.client.as_ref(), theme, keymap, opts.watch);
    // No model named: the engine asks the server which one it serves; until it says, none is
    // shown (not the stand-in name the request would carry).
    if !cfg.model_given {
        app.model = None;
    }
    let journal_from = agent.journal_next();

    let engine = if opts.watch {
        None
    } else {
        let client = match &cfg.client {
            Some(c) => Some(ModelClient::new(c.clone()).map_err(Failure::start)?),
            None => None,
        };
        let discover = client.is_some() && !cfg.model_given;
        Some(engine::spawn_with(agent, client, discover))
    };

    let terminal = terminal::setup()?;
    let (in_tx, in_rx) = unbounded_channel();
    let in_tx_for_probe = in_tx.clone();
    terminal::forward_input(in_tx);

    // Nothing configured: look for a local server in the background (the UI does not wait).
    if !opts.watch && cfg.client.is_none() {
        let feed = in_tx_for_probe.clone();
        let probe_cfg = cfg.clone();
        tokio::spawn(async move {
            let loaded = match session::find_server(&probe_cfg).await {
                Some((provider, config)) => app::Loaded::Found { provider, config },
                // Say where it looked, so the next step is clear.
                None => {
                    let looked: Vec<String> =
                        crate::providers::probe_targets(&|k| std::env::var(k).ok())
                            .iter()
                            .map(|(p, url)| format!("{} at {url}", p.label))
                            .collect();
                    app::Loaded::Done(format!(
                        "no model found: type /endpoint URL, or start with --base-url or \
                         --provider (no answer from {})",
                        looked.join(", ")
                    ))
                }
            };
            let _ = feed.send(AppEvent::Loaded(loaded));
        });
    }
    // SIGTERM, SIGHUP, SIGINT: quit as the user would, so the terminal and the store are
    // closed properly.
    let feed = in_tx_for_probe.clone();
    tokio::spawn(async move {
        while let Some(name) = signals.recv().await {
            if feed.send(AppEvent::Signal(name)).is_err() {
                break;
            }
        }
    });
    let rt = Runtime::new(
        terminal,
        app,
        store.clone(),
        cfg.agent.clone(),
        engine,
        Some(in_rx),
    );
    let mut rt = if opts.watch {
        rt
    } else {
        rt.with_session(cfg.clone())
    };
    rt.control = control::Control::terminal();
    rt.jobs.secret = cfg.client.as_ref().and_then(|c| c.api_key.clone());
    rt.jobs.info = crate::transfer::agent_file::ModelInfo::of(cfg.client.as_ref());
    if opts.watch {
        tokio::spawn(watch::follow(
            store,
            cfg.agent.clone(),
            cfg.engine.clone(),
            journal_from,
            rt.feed(),
        ));
    }
    let result = async {
        rt.draw()?;
        // Debug builds only: a panic on purpose, so tests can check that the terminal is
        // restored and the report written.
        #[cfg(debug_assertions)]
        if std::env::var_os("MEMSCOPE_DEBUG_PANIC").is_some() {
            panic!("MEMSCOPE_DEBUG_PANIC is set: panicking on purpose after the first frame");
        }
        rt.start();
        while rt.step().await? {}
        Ok::<(), String>(())
    }
    .await;
    let stopped = rt.shutdown().await;
    terminal::restore();
    result.and(stopped).map_err(Failure::runtime)
}
