//! End to end in a real terminal (tmux running the built binary): agents made and switched and
//! the model changed mid-session, against two scripted servers on 127.0.0.1.

mod common;

use common::tmux::Tmux;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn agents_are_made_and_switched_and_the_model_changes_mid_session() {
    let a = Server::start(vec![say("reply from server a")]).await;
    let b = Server::start(vec![say("reply from server b")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("e2e.redb");
    let t = Tmux::start(&common::tmux::tui_command(&store, &a.base_url), home.path());
    t.wait_for("Type a message").await;

    t.text("hello a");
    t.keys(&["Enter"]);
    t.wait_for("agent › reply from server a").await;
    t.wait_for("● idle").await;

    // A new agent, with its own persona, from the input box.
    t.text("/new work");
    t.keys(&["Enter"]);
    t.wait_for("New agent").await;
    t.keys(&["Tab"]);
    t.text("I am the work agent.");
    t.keys(&["C-s"]);
    t.wait_for("made the agent 'work'; now on it").await;
    let s = t.wait_for(" work ").await;
    assert!(
        !s.contains("reply from server a"),
        "a new agent starts empty:\n{s}"
    );

    // Another server from now on.
    t.text(&format!("/endpoint {}", b.base_url));
    t.keys(&["Enter"]);
    t.wait_for(&format!("@ {}", b.base_url)).await;
    t.text("hello b");
    t.keys(&["Enter"]);
    t.wait_for("agent › reply from server b").await;
    assert_eq!(
        a.step_requests().len(),
        1,
        "the first server got only the first message"
    );
    let sent = b.step_requests();
    assert_eq!(sent.len(), 1);
    let system = sent[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("I am the work agent."), "{system}");

    // Back to the first agent, its conversation with it; then another model by name.
    t.text("/agent default");
    t.keys(&["Enter"]);
    t.wait_for("now on the agent 'default'").await;
    t.wait_for("agent › reply from server a").await;
    t.text("/model other-model");
    t.keys(&["Enter"]);
    t.wait_for(&format!("other-model @ {}", b.base_url)).await;

    // The agents view lists both; q closes it, Ctrl-C quits cleanly.
    t.keys(&["Escape"]);
    // A key sent right behind Escape would reach the program as Alt+key.
    t.wait_for("? help").await;
    t.keys(&["A"]);
    let s = t
        .wait_until("the agents listed", |s| {
            s.contains("Agents · in use: default") && !s.contains("reading the store")
        })
        .await;
    assert!(s.contains("● default") && s.contains("  work "), "{s}");
    t.keys(&["Escape"]);
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
