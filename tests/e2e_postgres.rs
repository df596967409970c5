//! End to end in a real terminal (tmux running the built binary) on a PostgreSQL store in a
//! throwaway cluster: the TUI chats and keeps the conversation there, holds the agent it is on
//! against a second writer, and lets go of it when it switches to another.

mod common;

use common::pg::Cluster;
use common::tmux::Tmux;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_tui_works_on_a_postgres_store_and_holds_only_the_agent_it_is_on() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let server = Server::start(vec![say("kept in postgres"), say("from the other writer")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = cluster.store("tui");
    let t = Tmux::start(
        &common::tmux::tui_command(&store, &server.base_url),
        home.path(),
    );
    t.wait_for("Type a message").await;
    t.text("hello postgres");
    t.keys(&["Enter"]);
    t.wait_for("agent › kept in postgres").await;
    t.wait_for("● idle").await;

    // While the TUI is on it, no other process writes the agent; readers go alongside.
    let run = |agent: &str| {
        let mut cmd = memscope_cmd(home.path());
        cmd.args(["run", "--agent", agent, "--store"])
            .arg(&store)
            .args(["--base-url", &server.base_url, "--model", "scripted-model"]);
        cmd
    };
    let out = output_with_input(run("default"), "me too\n").await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the agent 'default'") && err.contains("in use"),
        "{err}"
    );
    let (code, out, err) = memscope_on(home.path(), &store, &["dump"]);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("hello postgres"));

    // On another agent, the TUI lets the first one go.
    t.text("/new work");
    t.keys(&["Enter"]);
    t.wait_for("New agent").await;
    t.keys(&["C-s"]);
    t.wait_for("made the agent 'work'; now on it").await;
    let out = output_with_input(run("default"), "me too\n").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("from the other writer"));

    t.keys(&["Escape"]);
    t.wait_for("? help").await;
    t.keys(&["C-c"]);
    t.wait_for("MEMSCOPE-EXITED-0").await;
    let (code, out, _) = memscope_on(home.path(), &store, &["agents"]);
    assert_eq!(code, 0);
    let listed = String::from_utf8_lossy(&out);
    assert!(
        listed.contains("default") && listed.contains("work"),
        "{listed}"
    );
}
