//! `memscope run`: user messages on stdin, engine events as JSON lines on stdout.
//!
//! SIGTERM, SIGHUP and SIGINT stop it as end of input does, after interrupting the step in
//! flight: the store is closed cleanly.

use std::io::Write;

use chrono::Utc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::input::{Line, MAX_LINE_BYTES, take_line};
use crate::config::Resolved;
use crate::engine::{self, Command, ErrorKind, Event, EventKind, WarningKind};
use crate::session::{self, Failure, Outcome};

/// Exit status when the run ended normally but some input was refused.
pub const EXIT_INPUT_REFUSED: i32 = 3;

/// Reads one line into `buf` (without its newline), keeping at most [`MAX_LINE_BYTES`]: the
/// rest of a longer line is read and dropped. `None` at the end of input; else whether the
/// line was too long.
async fn next_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let (mut any, mut overflowed) = (false, false);
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(any.then_some(overflowed));
        }
        any = true;
        let end = chunk.iter().position(|&b| b == b'\n');
        let part = &chunk[..end.unwrap_or(chunk.len())];
        if !overflowed && buf.len() + part.len() > MAX_LINE_BYTES {
            overflowed = true;
            buf.clear();
        }
        if !overflowed {
            buf.extend_from_slice(part);
        }
        let used = end.map(|i| i + 1).unwrap_or(chunk.len());
        r.consume(used);
        if end.is_some() {
            return Ok(Some(overflowed));
        }
    }
}

fn note(tx: &UnboundedSender<Event>, kind: EventKind) {
    let _ = tx.send(Event {
        step: 0,
        time: Utc::now(),
        kind,
    });
}

pub async fn run(mut cfg: Resolved, out: &mut (dyn Write + Send)) -> Outcome {
    let mut signals = session::termination_signals();
    // The store first: a store in use is reported before the endpoint is asked.
    let store = crate::store::Store::open(&cfg.store).map_err(Failure::start)?;
    let client = session::connect(&mut cfg).await?;
    let agent = session::open_writer(&cfg, store)?;
    agent.store.index_in_background(agent.name());
    let mut handle = engine::spawn(agent, Some(client));
    let commands = handle.commands.clone();
    // What the input reader has to say goes out with the engine's events.
    let (notes_tx, mut notes) = unbounded_channel::<Event>();
    // Counted here, not returned: the reader may still wait on stdin when the engine stops.
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let refusals = refused.clone();
    tokio::spawn(async move {
        let mut input = tokio::io::BufReader::new(tokio::io::stdin());
        let (mut buf, mut n) = (Vec::new(), 0usize);
        let refused = || refusals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        loop {
            tokio::select! {
                line = next_line(&mut input, &mut buf) => match line {
                    Ok(Some(overflowed)) => {
                        n += 1;
                        match take_line(n, &buf, overflowed) {
                            Line::Blank => {}
                            Line::Refused(message) => {
                                refused();
                                note(&notes_tx, EventKind::Error { kind: ErrorKind::BadInput, message });
                            }
                            Line::Text { text, removed } => {
                                if removed > 0 {
                                    note(&notes_tx, EventKind::Warning {
                                        kind: WarningKind::InputChanged,
                                        message: format!(
                                            "input line {n}: removed {removed} control character(s) \
                                             (NUL and other control bytes are not sent)"
                                        ),
                                    });
                                }
                                if commands.send(Command::UserMessage(text)).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    Ok(None) => {
                        let _ = commands.send(Command::Shutdown);
                        break;
                    }
                    Err(e) => {
                        refused();
                        note(&notes_tx, EventKind::Error {
                            kind: ErrorKind::BadInput,
                            message: format!(
                                "reading standard input failed after line {n} ({e}); no more input is read"
                            ),
                        });
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
    let mut write =
        |event: &Event| writeln!(out, "{}", event.to_json_line()).and_then(|_| out.flush());
    loop {
        let event = tokio::select! {
            biased;
            Some(n) = notes.recv() => n,
            e = handle.events.recv() => match e {
                Some(e) => e,
                None => break,
            },
        };
        if write(&event).is_err() {
            break; // stdout closed: nobody is listening
        }
    }
    // Notes that came after the engine's last event.
    while let Ok(n) = notes.try_recv() {
        let _ = write(&n);
    }
    let refused = refused.load(std::sync::atomic::Ordering::SeqCst);
    match handle.task.await {
        Ok(Ok(())) if refused > 0 => Err(Failure {
            code: EXIT_INPUT_REFUSED,
            message: format!(
                "memscope: {refused} input line(s) were refused; see the error events"
            ),
        }),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::runtime(e)),
        Err(e) => Err(Failure::runtime(format!(
            "the engine stopped unexpectedly: {e}"
        ))),
    }
}

/// `memscope retry` (and any fixed list of commands): sends `commands`, then ends as end of
/// input does, printing every event as `run` does.
pub async fn run_commands(
    mut cfg: Resolved,
    commands: Vec<Command>,
    out: &mut (dyn Write + Send),
) -> Outcome {
    let store = crate::store::Store::open(&cfg.store).map_err(Failure::start)?;
    let client = session::connect(&mut cfg).await?;
    let agent = session::open_writer(&cfg, store)?;
    agent.store.index_in_background(agent.name());
    let mut handle = engine::spawn(agent, Some(client));
    for c in commands.into_iter().chain([Command::Shutdown]) {
        let _ = handle.commands.send(c);
    }
    drop(handle.commands);
    let mut refused = 0;
    while let Some(event) = handle.events.recv().await {
        if matches!(
            event.kind,
            EventKind::Error {
                kind: ErrorKind::EditRefused,
                ..
            }
        ) {
            refused += 1;
        }
        if writeln!(out, "{}", event.to_json_line())
            .and_then(|_| out.flush())
            .is_err()
        {
            break;
        }
    }
    match handle.task.await {
        Ok(Ok(())) if refused > 0 => Err(Failure::start(
            "memscope: the command was refused; see the error event",
        )),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::runtime(e)),
        Err(e) => Err(Failure::runtime(format!(
            "the engine stopped unexpectedly: {e}"
        ))),
    }
}
