//! The real terminal: raw mode, the alternate screen, mouse and bracketed paste on the way in,
//! all of it undone on the way out (a panic included, whose report goes to a file), and key,
//! mouse and paste events forwarded to the runtime.
//!
//! Contract: [`setup`] either returns a ready terminal or leaves the terminal as it found it;
//! [`restore`] can be called any number of times.

use std::io::Write;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc::UnboundedSender;

use super::app::AppEvent;
use crate::session::Failure;

/// Leaves raw mode, the alternate screen, mouse reporting and bracketed paste; shows the cursor.
pub fn restore() {
    use crossterm::{cursor, event, execute, terminal};
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        event::DisableMouseCapture,
        event::DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restores the terminal on a panic and writes the report to a file, never the screen.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        let dir = crate::config::state_dir();
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!(
            "panic-{}.log",
            chrono::Utc::now().format("%Y%m%dT%H%M%S")
        ));
        let report = format!(
            "memscope panicked: {info}\n\nbacktrace:\n{}\n",
            std::backtrace::Backtrace::force_capture()
        );
        tracing::error!("{report}");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let written = opts
            .open(&path)
            .and_then(|mut f| f.write_all(report.as_bytes()));
        match written {
            Ok(()) => eprintln!("memscope crashed; the report is in {}", path.display()),
            Err(_) => previous(info),
        }
    }));
}

/// Raw mode, alternate screen, mouse, bracketed paste, and the panic hook that undoes them.
pub fn setup() -> Result<Terminal<CrosstermBackend<std::io::Stdout>>, Failure> {
    install_panic_hook();
    crossterm::terminal::enable_raw_mode()
        .map_err(|e| Failure::start(format!("cannot set up the terminal: {e}")))?;
    let entered = crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture,
        crossterm::event::EnableBracketedPaste
    );
    if let Err(e) = entered {
        restore();
        return Err(Failure::start(format!("cannot set up the terminal: {e}")));
    }
    Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(|e| {
        restore();
        Failure::start(format!("cannot set up the terminal: {e}"))
    })
}

/// Forwards the terminal's key, mouse, paste and resize events until the receiver is gone.
pub fn forward_input(tx: UnboundedSender<AppEvent>) {
    tokio::spawn(async move {
        let mut stream = EventStream::new();
        while let Some(Ok(ev)) = stream.next().await {
            let ev = match ev {
                TermEvent::Key(k) => AppEvent::Key(k),
                TermEvent::Mouse(m) => AppEvent::Mouse(m),
                TermEvent::Paste(s) => AppEvent::Paste(s),
                TermEvent::Resize(..) => AppEvent::Tick,
                _ => continue,
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
}
