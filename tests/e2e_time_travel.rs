//! Time travel end to end in a real terminal: chat, open the steps view, open a past step,
//! fork a new agent from it, and `/retry` typed in the input box.

mod common;

use common::tmux::Tmux;
use common::*;
use memscope::store::Store;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn open_a_past_step_and_fork_from_it_then_retry() {
    let server = Server::start(vec![
        say("Hello from the scripted model!"),
        call(
            "core_memory_append",
            json!({"name": "human", "content": "Likes tea.", "request_heartbeat": true}),
        ),
        say("Tea it is."),
        say("Tea it is, again."),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("e2e.redb");
    let cmd = common::tmux::tui_command(&store, &server.base_url);
    let t = Tmux::start(&cmd, home.path());
    t.wait_for("Type a message").await;
    t.text("hello");
    t.keys(&["Enter"]);
    t.wait_for("Hello from the scripted model!").await;
    t.text("I like tea");
    t.keys(&["Enter"]);
    t.wait_for("agent › Tea it is.").await;
    t.wait_for("● idle").await;

    // The steps view: newest first; the second call made the core edit.
    t.keys(&["Escape"]);
    t.wait_for("? help").await;
    t.keys(&["t"]);
    let s = t.wait_for("Steps · default · 3 call(s)").await;
    assert!(s.contains("core_memory_append (OK)"), "{s}");
    t.keys(&["Down"]);
    t.keys(&["Enter"]);
    let s = t.wait_for("Step 2 · as the model saw it").await;
    assert!(s.contains("-- instructions ·"), "{s}");
    assert!(s.contains("the user's message"), "{s}");

    // Fork from it, under the name offered.
    t.keys(&["f"]);
    t.wait_for("Fork a new agent from step 2").await;
    t.keys(&["Enter"]);
    t.wait_for("forked as 'default-step2'").await;
    t.keys(&["Escape"]);
    t.wait_until("the steps view to close", |s| {
        !s.contains("Steps · default")
    })
    .await;

    // `/retry` from the input box: the last message again, not twice.
    t.keys(&["i"]);
    t.wait_for("Enter send").await;
    t.text("/retry");
    t.keys(&["Enter"]);
    t.wait_for("agent › Tea it is, again.").await;
    let s = t.wait_for("● idle").await;
    assert!(
        !s.contains("Tea it is."),
        "the retried exchange left the conversation: {s}"
    );
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    t.wait_for("MEMSCOPE-EXITED-0").await;

    let store = Store::open_read_only(&store).unwrap();
    let fork = store
        .load_agent("default-step2")
        .unwrap()
        .expect("the fork");
    assert_eq!(fork.step, 2);
    assert!(
        fork.core
            .blocks
            .iter()
            .any(|b| b.value.contains("Likes tea."))
    );
    let users: Vec<String> = store
        .recall("default")
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == memscope::memory::MessageKind::UserMessage)
        .map(|m| m.text)
        .collect();
    assert_eq!(users, ["hello", "I like tea"]);
}
