//! `memscope run`: user messages on stdin, engine events as JSON lines on stdout.
//!
//! SIGTERM, SIGHUP and SIGINT stop it as end of input does, after interrupting the step in
//! flight: the store is closed cleanly.

use std::io::Write;

use tokio::io::AsyncBufReadExt;

use crate::config::Resolved;
use crate::engine::{self, Command};
use crate::session::{self, Failure, Outcome};

pub async fn run(mut cfg: Resolved, out: &mut (dyn Write + Send)) -> Outcome {
    let mut signals = session::termination_signals();
    // The store first: a store in use is reported before the endpoint is asked.
    let store = crate::store::Store::open(&cfg.store).map_err(Failure::start)?;
    let client = session::connect(&mut cfg).await?;
    let agent = session::open_writer(&cfg, store)?;
    let mut handle = engine::spawn(agent, Some(client));
    let commands = handle.commands.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => {
                        let line = line.trim_end_matches('\r');
                        if line.trim().is_empty() {
                            continue;
                        }
                        if commands.send(Command::UserMessage(line.to_string())).is_err() {
                            break;
                        }
                    }
                    Ok(None) | Err(_) => {
                        let _ = commands.send(Command::Shutdown);
                        break;
                    }
                },
                Some(name) = signals.recv() => {
                    tracing::info!(signal = name, "stopping: the step in flight is dropped");
                    let _ = commands.send(Command::Interrupt);
                    let _ = commands.send(Command::ShutdownNow);
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
