//! End to end in a real terminal: the built binary runs in tmux against the scripted model;
//! the test types with send-keys and reads the screen with capture-pane.

mod common;

use std::path::Path;
use std::process::Command;

use common::tmux::Tmux;
use common::*;
use serde_json::json;

fn budget_total(screen: &str) -> u32 {
    let i = screen.find("Context budget · ").expect("budget title") + "Context budget · ".len();
    screen[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_step_through_a_heartbeat_chain_edit_core_memory_and_quit() {
    let server = Server::start(vec![
        say("Hello from the scripted model!"),
        call(
            "archival_memory_search",
            json!({"query": "tea", "request_heartbeat": true}),
        ),
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Likes tea.", "request_heartbeat": true}),
        ),
        say("Chain done."),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("e2e.redb");
    let cmd = common::tmux::tui_command(&store, &server.base_url);
    let t = Tmux::start(&cmd, home.path());
    t.wait_for("Type a message").await;

    // Type a message and see the reply.
    t.text("hello");
    t.keys(&["Enter"]);
    t.wait_for("agent › Hello from the scripted model!").await;
    t.wait_for("● idle").await;

    // Step mode: one model call per key press, with the reason shown each time.
    t.keys(&["Escape"]);
    t.wait_for("? help").await;
    t.keys(&["s"]);
    t.wait_for("step mode on").await;
    t.keys(&["i"]);
    t.wait_for("Enter send").await;
    t.text("what do I like?");
    t.keys(&["Enter"]);
    t.wait_for("⏸ paused · next call: the user's message").await;
    assert_eq!(server.step_requests().len(), 1, "nothing runs while paused");
    t.keys(&["Escape"]);
    t.wait_for("? help").await;
    t.keys(&["n"]);
    t.wait_for("next call: a heartbeat because archival_memory_search requested one")
        .await;
    assert_eq!(server.step_requests().len(), 2);
    t.keys(&["n"]);
    t.wait_for("next call: a heartbeat because core_memory_append requested one")
        .await;
    assert_eq!(server.step_requests().len(), 3);
    t.keys(&["n"]);
    t.wait_for("agent › Chain done.").await;
    let s = t.wait_for("● idle").await;
    assert_eq!(server.step_requests().len(), 4);
    assert!(
        s.contains("Likes tea."),
        "core memory shows the agent's edit:\n{s}"
    );

    // Edit a core memory block by hand and see the budget move.
    let before = budget_total(&s);
    t.keys(&["3"]);
    t.wait_for("┏ 3 Core memory").await;
    t.keys(&["e"]);
    t.wait_for("Edit persona").await;
    t.text(" I also love long walks, old maps, and the history of tea in Assam and Darjeeling.");
    t.wait_for("Darjeeling").await;
    t.keys(&["C-s"]);
    t.wait_for("saved persona").await;
    // The budget follows the edit (its event comes right after the edit's own).
    let s = t
        .wait_until("the budget to move", |s| budget_total(s) > before)
        .await;
    assert!(
        s.contains("edit persona"),
        "the function log shows the manual edit:\n{s}"
    );

    // Quit cleanly.
    t.keys(&["q"]);
    t.wait_for("MEMSCOPE-EXITED-0").await;
    let state = memscope::store::Store::open_read_only(&store)
        .unwrap()
        .load_agent("default")
        .unwrap()
        .unwrap();
    assert!(
        state
            .core
            .get("persona")
            .unwrap()
            .value
            .ends_with("Assam and Darjeeling.")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_restores_the_terminal_and_writes_the_report_to_a_file() {
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("p.redb");
    let cmd = format!(
        "MEMSCOPE_DEBUG_PANIC=1 {} --store {}; echo MEMSCOPE-EXITED-$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 30",
        env!("CARGO_BIN_EXE_memscope"),
        store.display()
    );
    let t = Tmux::start(&cmd, home.path());
    let s = t.wait_for("MEMSCOPE-EXITED-").await;
    assert!(s.contains("memscope crashed; the report is in"), "{s}");
    let s = t.wait_for("icanon").await;
    assert!(
        s.contains("icanon echo") && !s.contains("-icanon") && !s.contains("-echo"),
        "the terminal is back in cooked mode:\n{s}"
    );
    let flags = Command::new("tmux")
        .args([
            "-L",
            &t.socket,
            "display-message",
            "-p",
            "-t",
            "e2e",
            "#{alternate_on} #{cursor_flag}",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&flags.stdout).trim(),
        "0 1",
        "main screen, cursor shown"
    );
    let reports: Vec<_> = std::fs::read_dir(home.path().join("state").join("memscope"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("panic-"))
        .collect();
    assert_eq!(reports.len(), 1);
    let report = std::fs::read_to_string(reports[0].path()).unwrap();
    assert!(report.contains("panicking on purpose"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_model_text_is_shown_as_text_in_a_real_terminal_and_the_key_never_shows() {
    let hostile = "A\x1b]52;c;ZXZpbA==\x07B\x1b]2;pwned-title\x07C\x1b[2JD\x1b]8;;http://evil\x1b\\E\x1b]8;;\x1b\\F\u{9b}31mG\u{202e}H";
    let key = format!("sk-e2e-secret-{}", std::process::id());
    let server = Server::start(vec![
        think_call(
            hostile,
            "archival_memory_insert",
            json!({"content": hostile, "request_heartbeat": true}),
        ),
        say(&format!("{hostile} end-of-reply")),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("h.redb");
    let cmd = format!(
        "OPENAI_API_KEY={key} {} --store {} --base-url {} --model scripted-model; sleep 30",
        env!("CARGO_BIN_EXE_memscope"),
        store.display(),
        server.base_url
    );
    let t = Tmux::start(&cmd, home.path());
    // Let applications set tmux buffers through OSC 52, so a leak would show.
    Command::new("tmux")
        .args(["-L", &t.socket, "set", "-g", "set-clipboard", "on"])
        .status()
        .unwrap();
    let title = |t: &Tmux| {
        let o = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "display-message",
                "-p",
                "-t",
                "e2e",
                "#{pane_title}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    t.wait_for("Type a message").await;
    let title_before = title(&t);
    t.text("hi");
    t.keys(&["Enter"]);
    let s = t.wait_for("end-of-reply").await;
    assert!(
        s.contains("\\u{1b}]52;c;ZXZpbA==\\u{7}"),
        "the sequence is shown as text:\n{s}"
    );
    assert!(s.contains("\\u{9b}31m") && s.contains("\\u{202e}"), "{s}");
    assert!(
        s.contains("Type a message") || s.contains("Input"),
        "the screen was not cleared:\n{s}"
    );
    let buffers = Command::new("tmux")
        .args(["-L", &t.socket, "list-buffers"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buffers.stdout).trim().is_empty(),
        "OSC 52 reached tmux"
    );
    assert_eq!(title(&t), title_before, "OSC 2 changed the title");
    assert!(!title(&t).contains("pwned"));
    assert!(
        !s.contains(&key) && !s.contains("sk-e2e"),
        "the key is on screen"
    );
    // Copying the reply (y on the selected entry) goes through OSC 52 as the text shown:
    // tmux now holds it in a buffer, the escapes still as text.
    t.keys(&["Escape"]);
    // A key sent right behind Escape would reach the program as Alt+key.
    t.wait_for("? help").await;
    t.text("1");
    t.text("y");
    t.wait_for("copied the entry").await;
    let copied = Command::new("tmux")
        .args(["-L", &t.socket, "show-buffer"])
        .output()
        .unwrap();
    let copied = String::from_utf8_lossy(&copied.stdout);
    assert!(copied.ends_with("end-of-reply"), "{copied:?}");
    assert!(
        copied.starts_with("A\\u{1b}]52;c;ZXZpbA==\\u{7}B"),
        "{copied:?}"
    );
    assert!(!copied.contains('\x1b'), "{copied:?}");
}

/// The TUI in tmux, its pid written to a file, and after it ends the exit code and the
/// terminal's modes printed on the screen.
fn tui_with_pid(home: &Path, store: &Path, base_url: &str) -> (Tmux, std::path::PathBuf) {
    let pid = home.join("pid");
    let cmd = format!(
        "sh -c 'echo $$ > {pid}; exec {bin} --store {store} --base-url {base_url} --model scripted-model'; \
         echo MEMSCOPE-EXITED-$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 30",
        pid = pid.display(),
        bin = env!("CARGO_BIN_EXE_memscope"),
        store = store.display(),
    );
    (Tmux::start(&cmd, home), pid)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_sighup_to_the_tui_restore_the_terminal_and_close_the_store() {
    for sig in ["TERM", "HUP"] {
        let server = Server::start(vec![say("Hello from the scripted model!")]).await;
        let home = tempfile::tempdir().unwrap();
        let store = home.path().join("t.redb");
        let (t, pid) = tui_with_pid(home.path(), &store, &server.base_url);
        t.wait_for("Context budget").await;
        t.text("hi");
        t.keys(&["Enter"]);
        t.wait_for("Hello from the scripted model!").await;
        assert_eq!(
            t.flags("#{alternate_on}"),
            "1",
            "the TUI is on the alternate screen"
        );
        let pid = std::fs::read_to_string(&pid).unwrap();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), pid.trim()])
            .status()
            .unwrap();
        assert!(ok.success());
        let s = t.wait_for("MEMSCOPE-EXITED-").await;
        assert!(
            s.contains("MEMSCOPE-EXITED-0"),
            "SIG{sig}: a clean exit:\n{s}"
        );
        let s = t.wait_for("icanon").await;
        assert!(
            s.contains("icanon echo") && !s.contains("-icanon") && !s.contains("-echo"),
            "SIG{sig}: the terminal is back in cooked mode:\n{s}"
        );
        assert_eq!(
            t.flags("#{alternate_on} #{cursor_flag} #{mouse_any_flag}"),
            "0 1 0",
            "SIG{sig}: main screen, cursor shown, no mouse reporting"
        );
        let dump = memscope_cmd(home.path())
            .args(["dump", "--store"])
            .arg(&store)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&dump.stderr);
        assert!(dump.status.success(), "SIG{sig}: {err}");
        assert!(
            !err.contains("not closed cleanly"),
            "SIG{sig}: closed: {err}"
        );
        assert!(String::from_utf8_lossy(&dump.stdout).contains("Hello from the scripted model!"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_screen_redraws_after_a_4_kb_burst_of_input() {
    let server = Server::start(vec![]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("b.redb");
    let (t, _) = tui_with_pid(home.path(), &store, &server.base_url);
    t.wait_for("Context budget").await;
    let burst = format!("{}BURST-END", "word ".repeat(820));
    assert!(burst.len() > 4096);
    t.text(&burst);
    // Nothing is typed after the burst: the last frame alone must show its end.
    t.wait_for("BURST-END").await;
}
