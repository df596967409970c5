//! Traps a newcomer fell into (issue #14), each reproduced and now avoided: a key bound to two
//! actions, an agent with an empty name, `dump | head` complaining of a broken pipe, `d` on
//! the Recall tab doing nothing, and the step keys hinted where they would type instead.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use memscope::engine::{Event, EventKind, Trigger};
use memscope::tui::app::AppEvent;

fn screen(rt: &memscope::tui::Runtime<ratatui::backend::TestBackend>) -> String {
    memscope::tui::view::buffer_text(rt.terminal.backend().buffer())
}

#[test]
fn a_key_bound_to_two_actions_is_refused_at_start() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    let dir = home.path().join("config/memscope");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[keys]\nquit = \"n\"\n").unwrap();
    let out = memscope_cmd(home.path())
        .arg("--store")
        .arg(&store)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("n is bound to both step and quit"), "{err}");
}

#[test]
fn an_agent_needs_a_printable_name() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    for name in ["", "   ", "a\u{7}b"] {
        let (code, _, err) = memscope_on(home.path(), &store, &["agents", "create", name]);
        assert_eq!(code, 2, "{name:?}");
        assert!(err.contains("cannot name an agent"), "{err}");
    }
    let (code, out, _) = memscope_on(home.path(), &store, &["agents", "list"]);
    assert_eq!(code, 0);
    assert!(
        String::from_utf8_lossy(&out).trim().is_empty(),
        "nothing was created"
    );
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    let text = (0..2000)
        .map(|i| format!("Paragraph {i} about the bees and their many hives."))
        .collect::<Vec<_>>()
        .join("\n\n");
    std::fs::write(docs.path().join("a.txt"), text).unwrap();
    let (code, _, err) = memscope_on(
        home.path(),
        &store,
        &["load", docs.path().to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    for args in [&["dump", "--json"][..], &["export", "--format", "json"][..]] {
        // More output than a pipe holds; the reader takes a little and goes away.
        let mut child = memscope_cmd(home.path())
            .args(args)
            .arg("--store")
            .arg(&store)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn d_on_the_recall_tab_says_why_nothing_happens() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![]).await;
    let mut rt = common::tui::runtime_on(&path, Some(client(&server))).await;
    for k in [
        KeyCode::Esc,
        KeyCode::Char('4'),
        KeyCode::Char('l'),
        KeyCode::Char('d'),
    ] {
        rt.apply(AppEvent::Key(KeyEvent::new(k, KeyModifiers::NONE)));
    }
    rt.draw().unwrap();
    let s = screen(&rt);
    assert!(s.contains("only archival passages can be deleted"), "{s}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn paused_in_the_input_box_the_hint_says_how_to_reach_the_step_keys() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![]).await;
    let mut rt = common::tui::runtime_on(&path, Some(client(&server))).await;
    let paused = AppEvent::Engine(Event {
        step: 1,
        time: chrono::Utc::now(),
        kind: EventKind::Paused {
            trigger: Trigger::UserMessage,
            budget: Default::default(),
        },
    });
    rt.apply(paused);
    rt.draw().unwrap();
    assert!(screen(&rt).contains("Esc, then n step"), "{}", screen(&rt));
    rt.apply(AppEvent::Key(KeyEvent::new(
        KeyCode::Esc,
        KeyModifiers::NONE,
    )));
    rt.draw().unwrap();
    let s = screen(&rt);
    assert!(
        s.contains("· n step · c continue") && !s.contains("Esc, then"),
        "{s}"
    );
    rt.shutdown().await.unwrap();
}

#[test]
fn a_mistyped_agent_name_is_refused_not_made() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    // The default agent is made on first use.
    let (code, _, err) = memscope_on(home.path(), &store, &["archival", "insert", "a fact"]);
    assert_eq!(code, 0, "{err}");
    for args in [
        &["archival", "insert", "another", "--agent", "defualt"][..],
        &["load", "/tmp", "--agent", "defualt"][..],
        // The TUI, before it takes the terminal.
        &["--agent", "defualt"][..],
    ] {
        let (code, _, err) = memscope_on(home.path(), &store, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("no agent named 'defualt' (agents: default)")
                && err.contains("memscope agents create defualt"),
            "{args:?}: {err}"
        );
    }
    let (_, out, _) = memscope_on(home.path(), &store, &["agents", "list"]);
    assert!(!String::from_utf8_lossy(&out).contains("defualt"));
    // Asked for, it is made, and then it is there.
    let (code, _, _) = memscope_on(home.path(), &store, &["agents", "create", "work"]);
    assert_eq!(code, 0);
    let (code, _, err) = memscope_on(
        home.path(),
        &store,
        &["archival", "insert", "work fact", "--agent", "work"],
    );
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn run_with_a_mistyped_agent_is_refused() {
    let server = Server::start(vec![say("hello")]).await;
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    let mut cmd = memscope_cmd(home.path());
    cmd.args([
        "run",
        "--agent",
        "defualt",
        "--model",
        "scripted-model",
        "--base-url",
    ])
    .arg(&server.base_url)
    .arg("--store")
    .arg(&store);
    let out = output_with_input(cmd, "hi\n").await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no agent named 'defualt'"), "{err}");
    assert!(
        server.step_requests().is_empty(),
        "nothing was sent to the model"
    );
}

#[test]
fn help_says_that_no_subcommand_opens_the_tui_what_to_set_and_the_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let out = memscope_cmd(home.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Without a subcommand, memscope opens the TUI"),
        "{help}"
    );
    assert!(
        help.contains("--provider") && help.contains("config.toml"),
        "{help}"
    );
    for said in [
        "MEMSCOPE_CONFIG",
        "MEMSCOPE_LOG",
        "RUST_LOG",
        "NO_COLOR",
        "Exit status:",
    ] {
        assert!(help.contains(said), "{said} not in:\n{help}");
    }
    // A read-only command lists only the model flags it acts on.
    let out = memscope_cmd(home.path())
        .args(["dump", "--help"])
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(dump.contains("--context-window"), "{dump}");
    assert!(
        !dump.contains("--tool-mode") && !dump.contains("--base-url"),
        "{dump}"
    );
}

#[test]
fn completions_and_a_man_page_are_printed() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = memscope_cmd(home.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("memscope") && script.contains("rewind"),
            "{shell}: {script}"
        );
    }
    let out = memscope_cmd(home.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    let out = memscope_cmd(home.path()).arg("man").output().unwrap();
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH memscope"),
        "{man}"
    );
    assert!(
        man.contains("Exit status"),
        "the man page has the exit codes"
    );
}

#[test]
fn one_failure_has_one_exit_code_in_every_command() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    // The store exists (with its default agent) but has no agent "nobody".
    let (code, _, _) = memscope_on(home.path(), &store, &["agents", "create", "someone"]);
    assert_eq!(code, 0);
    for args in [
        &["dump", "--agent", "nobody"][..],
        &["steps", "--agent", "nobody"],
        &["export", "--agent", "nobody"],
        &["archival", "search", "x", "--agent", "nobody"],
        &["pop", "--agent", "nobody"],
    ] {
        let (code, _, err) = memscope_on(home.path(), &store, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("no agent named 'nobody'"), "{args:?}: {err}");
    }
    // Model flags before a command that talks to no model are refused, not ignored.
    let (code, _, err) = memscope_on(
        home.path(),
        &store,
        &["--base-url", "http://127.0.0.1:9/v1", "check"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("talks to no model"), "{err}");
}

#[test]
fn rust_log_is_heard_when_memscope_log_is_not_set() {
    let run = |env: Option<(&str, &str)>| -> String {
        let home = tempfile::tempdir().unwrap();
        let (_d, store) = temp_store();
        let mut cmd = memscope_cmd(home.path());
        cmd.args(["archival", "insert", "x", "--store"])
            .arg(&store)
            .env_remove("RUST_LOG")
            .env_remove("MEMSCOPE_LOG");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        assert!(cmd.output().unwrap().status.success());
        std::fs::read_to_string(home.path().join("state/memscope/memscope.log")).unwrap_or_default()
    };
    assert!(!run(None).contains("memscope starting"), "info by default");
    assert!(run(Some(("RUST_LOG", "memscope=debug"))).contains("memscope starting"));
    assert!(run(Some(("MEMSCOPE_LOG", "memscope=debug"))).contains("memscope starting"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_help_pop_up_scrolls_with_the_usual_keys_and_stops_at_its_end() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![]).await;
    let mut rt = common::tui::runtime_on(&path, Some(client(&server))).await;
    let press = |rt: &mut memscope::tui::Runtime<ratatui::backend::TestBackend>, k| {
        rt.apply(AppEvent::Key(KeyEvent::new(k, KeyModifiers::NONE)));
        rt.draw().unwrap();
        screen(rt)
    };
    press(&mut rt, KeyCode::Esc);
    let s = press(&mut rt, KeyCode::Char('?'));
    assert!(
        s.contains("Outside the input box") && s.contains("↓ more"),
        "{s}"
    );
    let s = press(&mut rt, KeyCode::Char('G'));
    assert!(
        s.contains("Keys can be rebound") && !s.contains("↓ more"),
        "{s}"
    );
    // One up from the end shows the line before the end: the scroll stopped at the end.
    let s = press(&mut rt, KeyCode::Char('k'));
    assert!(
        !s.contains("Keys can be rebound") && s.contains("↓ more"),
        "{s}"
    );
    for _ in 0..200 {
        press(&mut rt, KeyCode::Char('j'));
    }
    let s = press(&mut rt, KeyCode::Char('k'));
    assert!(s.contains("↓ more"), "j past the end does not pile up: {s}");
    let s = press(&mut rt, KeyCode::Home);
    assert!(s.contains("Outside the input box"), "{s}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_model_the_tui_says_where_it_looked_and_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let cmd = format!(
        "MEMSCOPE_PROBE=llamacpp=127.0.0.1:9 {} --store {}; sleep 30",
        env!("CARGO_BIN_EXE_memscope"),
        store.display()
    );
    let t = common::tmux::Tmux::start(&cmd, home.path());
    let s = t.wait_for("no model found: type /endpoint URL").await;
    // Where it looked follows (cut here at 120 columns).
    assert!(s.contains("(no answer from llama.cpp"), "{s}");
}

#[test]
fn paths_are_the_xdg_ones_the_readme_gives_with_or_without_the_variables() {
    let home = tempfile::tempdir().unwrap();
    // No XDG variables: ~/.config, ~/.local/share, ~/.local/state under HOME (on macOS too).
    let mut c = memscope_cmd(home.path());
    c.env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", home.path());
    std::fs::create_dir_all(home.path().join(".config/memscope")).unwrap();
    std::fs::write(
        home.path().join(".config/memscope/config.toml"),
        "agent = \"from-config\"\n",
    )
    .unwrap();
    let out = c.args(["agents", "create", "someone"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        home.path()
            .join(".local/share/memscope/memscope.redb")
            .exists()
    );
    assert!(
        home.path()
            .join(".local/state/memscope/memscope.log")
            .exists()
    );
    // The config file there was read: its agent is the one a reader asks for.
    let mut c = memscope_cmd(home.path());
    c.env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", home.path());
    let out = c.arg("dump").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no agent named 'from-config'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With the variables set, they win.
    let out = memscope_cmd(home.path())
        .args(["agents", "create", "other"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(home.path().join("data/memscope/memscope.redb").exists());
}
