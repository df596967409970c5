//! What the UI asks of the terminal besides drawing: copying to the clipboard and giving the
//! mouse back.
//!
//! Contract: [`Control::copy`] writes the text as one OSC 52 sequence (`ESC ] 52 ; c ; BASE64
//! BEL`) to the terminal, which works over SSH and inside tmux with `set-clipboard on`; the
//! text travels base64-encoded, so nothing in it can act as a control sequence. Where a system
//! clipboard tool is on the PATH (`wl-copy` under Wayland, `xclip` or `xsel` under X11,
//! `pbcopy` on macOS) it is given the text too, on a thread of its own, so a slow or hung tool
//! never holds up the UI. [`Control::mouse`] turns mouse reporting off (the terminal's own
//! selection works) or on again. Tests hand it a writer and read the bytes back.

use std::io::Write;

use base64::Engine as _;

/// Bytes that put `text` on the clipboard of the terminal that reads them.
pub fn osc52(text: &str) -> Vec<u8> {
    let mut out = b"\x1b]52;c;".to_vec();
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(text)
            .as_bytes(),
    );
    out.push(0x07);
    out
}

pub struct Control {
    term: Box<dyn Write + Send>,
    /// Also hand copies to a system clipboard tool when one is on the PATH.
    system: bool,
}

impl Control {
    /// The real terminal (stdout), with the system clipboard as well.
    pub fn terminal() -> Control {
        Control {
            term: Box::new(std::io::stdout()),
            system: true,
        }
    }

    /// Writes to `term` only (tests).
    pub fn to_writer(term: Box<dyn Write + Send>) -> Control {
        Control {
            term,
            system: false,
        }
    }

    /// Copies `text`; says where it went, or why the terminal could not be written to.
    pub fn copy(&mut self, text: &str) -> Result<&'static str, String> {
        self.term
            .write_all(&osc52(text))
            .and_then(|_| self.term.flush())
            .map_err(|e| format!("cannot write to the terminal: {e}"))?;
        if !self.system {
            return Ok("the terminal's clipboard");
        }
        match system_tool() {
            Some(tool) => {
                let text = text.to_string();
                std::thread::spawn(move || run_tool(tool, &text));
                Ok("the clipboard")
            }
            None => Ok("the terminal's clipboard"),
        }
    }

    /// Mouse reporting off (`released`: the terminal's own selection works) or on again.
    pub fn mouse(&mut self, released: bool) -> Result<(), String> {
        let r = if released {
            crossterm::execute!(self.term, crossterm::event::DisableMouseCapture)
        } else {
            crossterm::execute!(self.term, crossterm::event::EnableMouseCapture)
        };
        r.map_err(|e| format!("cannot write to the terminal: {e}"))
    }
}

/// The system clipboard tool to use here, if any: the program and its arguments.
fn system_tool() -> Option<(&'static str, &'static [&'static str])> {
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some();
    let x11 = std::env::var_os("DISPLAY").is_some();
    let candidates: &[(bool, &'static str, &'static [&'static str])] = &[
        (wayland, "wl-copy", &[]),
        (x11, "xclip", &["-selection", "clipboard"]),
        (x11, "xsel", &["--clipboard", "--input"]),
        (cfg!(target_os = "macos"), "pbcopy", &[]),
    ];
    candidates
        .iter()
        .find(|(usable, name, _)| *usable && on_path(name))
        .map(|(_, name, args)| (*name, *args))
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

fn run_tool((name, args): (&str, &[&str]), text: &str) {
    use std::process::{Command, Stdio};
    let child = Command::new(name)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => {
            if let Some(mut stdin) = c.stdin.take() {
                let _ = stdin.write_all(text.as_bytes());
            }
            let _ = c.wait();
        }
        Err(e) => tracing::warn!(tool = name, error = %e, "cannot run the clipboard tool"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_text_base64_encoded_so_nothing_in_it_is_live() {
        let hostile = "bees \x1b]0;pwned\x07 and \u{9b}2J";
        let bytes = osc52(hostile);
        assert!(bytes.starts_with(b"\x1b]52;c;") && bytes.ends_with(b"\x07"));
        let body = &bytes[7..bytes.len() - 1];
        assert!(
            body.iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        );
        let back = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(back, hostile.as_bytes());
    }
}
