//! A real terminal for end-to-end tests: tmux runs the built binary; tests type with
//! send-keys and read the screen with capture-pane.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    pub socket: String,
}

/// The shell command that runs the TUI on `store` against `base_url` in tmux, then says how it
/// exited and keeps the pane open.
pub fn tui_command(store: &Path, base_url: &str) -> String {
    format!(
        "{} --store {} --base-url {} --model scripted-model --context-window 8192; echo MEMSCOPE-EXITED-$?; sleep 30",
        env!("CARGO_BIN_EXE_memscope"),
        store.display(),
        base_url
    )
}

impl Tmux {
    pub fn flags(&self, format: &str) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                "e2e",
                format,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    pub fn start(cmd: &str, home: &Path) -> Tmux {
        let socket = format!(
            "memscope-e2e-{}-{}",
            std::process::id(),
            home.file_name().unwrap().to_string_lossy()
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "35",
                "-s",
                "e2e",
            ])
            .arg(cmd)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux must be installed for the end-to-end test");
        assert!(status.success());
        Tmux { socket }
    }

    pub fn keys(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "e2e"])
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn text(&self, s: &str) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "e2e", "-l", s])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Pastes `s` as the terminal would (bracketed, when the program asked for it).
    pub fn paste(&self, s: &str) {
        use std::io::Write;
        let mut load = Command::new("tmux")
            .args(["-L", &self.socket, "load-buffer", "-b", "e2e", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        load.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        assert!(load.wait().unwrap().success());
        let ok = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "paste-buffer",
                "-p",
                "-d",
                "-b",
                "e2e",
                "-t",
                "e2e",
            ])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "e2e"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen with its attributes as escape sequences (colours included).
    pub fn screen_styled(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-e", "-t", "e2e"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `want` (the terminal is polled; there is nothing to wait
    /// on but the screen itself).
    pub async fn wait_for(&self, want: &str) -> String {
        self.wait_until(want, |s| s.contains(want)).await
    }

    pub async fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if done(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{s}"
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
