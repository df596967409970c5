//! Agents and models inside the TUI, over a real store and scripted models on 127.0.0.1: the
//! agents view (switch, create with persona, human and extra blocks, rename, delete after a
//! yes), `/agent`, the system instructions changed and undone, and the model or endpoint
//! changed mid-session with the budget's window following the new server.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::store::Store;
use memscope::tui::Runtime;
use memscope::tui::app::{AgentsScreen, AppEvent, Modal, RunState};

type Rt = Runtime<TestBackend>;

fn screen(rt: &Rt) -> String {
    memscope::tui::view::buffer_text(rt.terminal.backend().buffer())
}

fn key(rt: &mut Rt, code: KeyCode, m: KeyModifiers) {
    rt.apply(AppEvent::Key(KeyEvent::new(code, m)));
    rt.draw().unwrap();
}

fn press(rt: &mut Rt, code: KeyCode) {
    key(rt, code, KeyModifiers::NONE)
}

fn type_text(rt: &mut Rt, s: &str) {
    for c in s.chars() {
        press(rt, KeyCode::Char(c));
    }
}

/// Types a line in the input box and sends it.
fn enter_line(rt: &mut Rt, s: &str) {
    type_text(rt, s);
    press(rt, KeyCode::Enter);
}

fn agents_listed(app: &memscope::tui::app::App, n: usize) -> bool {
    matches!(&app.modal, Some(Modal::Agents(v)) if v.loaded && v.rows.len() == n)
}

fn names(path: &std::path::Path) -> Vec<String> {
    let store = Store::open_read_only(path).unwrap();
    store
        .agents()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_are_made_switched_renamed_and_deleted_from_the_agents_view() {
    let server = Server::start(vec![say("hello from work")]).await;
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_with_session(&path, Some(&server.base_url)).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();

    // Esc leaves the input box; A opens the agents view with the one agent there is.
    press(&mut rt, KeyCode::Esc);
    key(&mut rt, KeyCode::Char('A'), KeyModifiers::SHIFT);
    rt.until(|a| agents_listed(a, 1)).await.unwrap();
    assert!(screen(&rt).contains("in use: default"), "{}", screen(&rt));

    // n: the form; a name already taken is refused in it.
    press(&mut rt, KeyCode::Char('n'));
    type_text(&mut rt, "default");
    key(&mut rt, KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert!(screen(&rt).contains("already exists"), "{}", screen(&rt));
    for _ in 0.."default".len() {
        press(&mut rt, KeyCode::Backspace);
    }
    type_text(&mut rt, "work");
    press(&mut rt, KeyCode::Tab);
    type_text(&mut rt, "I am a careful work assistant.");
    press(&mut rt, KeyCode::Tab);
    type_text(&mut rt, "The user is Ana.");
    press(&mut rt, KeyCode::Tab);
    type_text(&mut rt, "project: memscope, in Rust");
    key(&mut rt, KeyCode::Char('s'), KeyModifiers::CONTROL);
    rt.until(|a| a.agent == "work" && a.budget.total > 0)
        .await
        .unwrap();

    // The new agent holds the blocks given, and the app shows them.
    let labels: Vec<&str> = rt.app.core.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["persona", "human", "project"]);
    assert_eq!(rt.app.core[0].value, "I am a careful work assistant.");
    assert_eq!(rt.app.core[2].value, "memscope, in Rust");
    assert!(screen(&rt).contains("now on it"), "{}", screen(&rt));

    // A message goes to the new agent: its persona is in the prompt the server gets.
    press(&mut rt, KeyCode::Char('i'));
    enter_line(&mut rt, "hi");
    rt.until(|a| {
        a.run == RunState::Idle
            && a.convo
                .entries
                .iter()
                .any(|e| e.text.contains("hello from work"))
    })
    .await
    .unwrap();
    let sent = server.step_requests();
    let system = sent.last().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("careful work assistant"), "{system}");

    // /agent default: back, with its own (empty) conversation; work's is not shown.
    enter_line(&mut rt, "/agent default");
    rt.until(|a| a.agent == "default").await.unwrap();
    assert!(!screen(&rt).contains("hello from work"), "{}", screen(&rt));
    // A name the store does not have is refused, and the agent in use stays.
    enter_line(&mut rt, "/agent typo");
    rt.until(|a| {
        a.error
            .as_deref()
            .is_some_and(|e| e.contains("no agent named 'typo'"))
    })
    .await
    .unwrap();
    assert_eq!(rt.app.agent, "default");
    assert_eq!(names(&path).len(), 2, "no agent was made for a typo");

    // Rename the other agent: r, a new name, Enter.
    press(&mut rt, KeyCode::Esc);
    key(&mut rt, KeyCode::Char('A'), KeyModifiers::SHIFT);
    rt.until(|a| agents_listed(a, 2)).await.unwrap();
    let work_row = |a: &memscope::tui::app::App| match &a.modal {
        Some(Modal::Agents(v)) => v.rows.iter().position(|r| r.name == "work"),
        _ => None,
    };
    let at = work_row(&rt.app).unwrap();
    let current = match &rt.app.modal {
        Some(Modal::Agents(v)) => v.selected,
        _ => unreachable!(),
    };
    let down = if at > current {
        KeyCode::Down
    } else {
        KeyCode::Up
    };
    for _ in 0..at.abs_diff(current) {
        press(&mut rt, down);
    }
    press(&mut rt, KeyCode::Char('r'));
    for _ in 0.."work".len() {
        press(&mut rt, KeyCode::Backspace);
    }
    type_text(&mut rt, "job");
    press(&mut rt, KeyCode::Enter);
    rt.until(
        |a| matches!(&a.modal, Some(Modal::Agents(v)) if v.rows.iter().any(|r| r.name == "job")),
    )
    .await
    .unwrap();
    let mut now = names(&path);
    now.sort();
    assert_eq!(now, ["default", "job"]);

    // Delete it: d asks, n keeps it, d then y deletes it.
    let at = match &rt.app.modal {
        Some(Modal::Agents(v)) => v.rows.iter().position(|r| r.name == "job").unwrap(),
        _ => unreachable!(),
    };
    if let Some(Modal::Agents(v)) = rt.app.modal.as_mut() {
        v.selected = at;
    }
    press(&mut rt, KeyCode::Char('d'));
    assert!(
        screen(&rt).contains("Delete the agent 'job'"),
        "{}",
        screen(&rt)
    );
    press(&mut rt, KeyCode::Char('n'));
    assert_eq!(names(&path).len(), 2, "n keeps the agent");
    press(&mut rt, KeyCode::Char('d'));
    press(&mut rt, KeyCode::Char('y'));
    rt.until(|a| agents_listed(a, 1)).await.unwrap();
    assert_eq!(names(&path), ["default"]);

    // The agent in use is never deleted.
    press(&mut rt, KeyCode::Char('d'));
    assert!(
        rt.app
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("agent in use")),
        "{:?}",
        rt.app.notice
    );
    assert!(
        matches!(&rt.app.modal, Some(Modal::Agents(v)) if matches!(v.screen, AgentsScreen::List))
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_in_use_is_renamed_with_its_history() {
    let server = Server::start(vec![say("first reply")]).await;
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_with_session(&path, Some(&server.base_url)).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    enter_line(&mut rt, "remember me");
    rt.until(|a| {
        a.convo
            .entries
            .iter()
            .any(|e| e.text.contains("first reply"))
            && a.run == RunState::Idle
    })
    .await
    .unwrap();
    enter_line(&mut rt, "/rename main");
    rt.until(|a| a.agent == "main").await.unwrap();
    assert_eq!(names(&path), ["main"]);
    // Its conversation came along (read again from its journal).
    rt.until(|a| {
        a.convo
            .entries
            .iter()
            .any(|e| e.text.contains("first reply"))
    })
    .await
    .unwrap();
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn system_instructions_are_changed_recorded_and_undone() {
    let server = Server::start(vec![say("one"), say("two"), say("three")]).await;
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_with_session(&path, Some(&server.base_url)).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    let default = rt.app.instructions.clone();
    assert!(!rt.app.instructions_custom);

    // /system shows them; a change is saved with Ctrl-S.
    enter_line(&mut rt, "/system");
    assert!(
        screen(&rt).contains("memscope's default"),
        "{}",
        screen(&rt)
    );
    rt.apply(AppEvent::Paste("Always answer in French. ".into()));
    key(&mut rt, KeyCode::Char('s'), KeyModifiers::CONTROL);
    rt.until(|a| a.instructions_custom).await.unwrap();
    assert!(rt.app.instructions.contains("Always answer in French."));

    // The model reads them; the change is in the transcript and the function log.
    enter_line(&mut rt, "bonjour");
    rt.until(|a| a.run == RunState::Idle && a.convo.entries.iter().any(|e| e.text == "one"))
        .await
        .unwrap();
    let system = |i: usize| {
        server.step_requests()[i]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(system(0).contains("Always answer in French."));
    assert!(rt.app.log.iter().any(|l| l.name == "edit instructions"));
    assert!(
        screen(&rt).contains("instructions were changed"),
        "{}",
        screen(&rt)
    );

    // /system undo: memscope's own again, for the next call.
    enter_line(&mut rt, "/system undo");
    rt.until(|a| !a.instructions_custom).await.unwrap();
    assert_eq!(rt.app.instructions, default);
    enter_line(&mut rt, "again");
    rt.until(|a| a.run == RunState::Idle && a.convo.entries.iter().any(|e| e.text == "two"))
        .await
        .unwrap();
    assert!(!system(1).contains("Always answer in French."));
    // Nothing more to undo is said, not done.
    enter_line(&mut rt, "/system undo");
    rt.until(|a| a.notice.as_deref().is_some_and(|n| n.contains("no change")))
        .await
        .unwrap();
    rt.shutdown().await.unwrap();

    // The change survives a restart: it was committed with the agent.
    let store = Store::open_read_only(&path).unwrap();
    let state = store.load_agent("default").unwrap().unwrap();
    assert_eq!(state.instructions, None);
    assert_eq!(state.instructions_undo.len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_model_and_the_endpoint_change_mid_session_and_the_window_follows() {
    let a = Server::start(vec![say("from a")]).await;
    let b = Server::start(vec![say("from b"), say("from b again")]).await;
    b.set_models(json!({"object": "list", "data": [{"id": "model-b", "max_model_len": 16384}]}));
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_with_session(&path, Some(&a.base_url)).await;
    rt.until(|app| app.budget.total > 0).await.unwrap();
    enter_line(&mut rt, "hi a");
    rt.until(|app| {
        app.run == RunState::Idle && app.convo.entries.iter().any(|e| e.text == "from a")
    })
    .await
    .unwrap();
    assert_eq!(rt.app.budget.context_window, 8192);

    // Another server: its model and its window are taken up.
    enter_line(&mut rt, &format!("/endpoint {}", b.base_url));
    rt.until(|app| app.model.as_deref() == Some("model-b") && app.budget.context_window == 16384)
        .await
        .unwrap();
    assert!(screen(&rt).contains("model-b"), "{}", screen(&rt));
    enter_line(&mut rt, "hi b");
    rt.until(|app| {
        app.run == RunState::Idle && app.convo.entries.iter().any(|e| e.text == "from b")
    })
    .await
    .unwrap();
    assert_eq!(
        a.step_requests().len(),
        1,
        "nothing more went to the first server"
    );
    assert_eq!(b.step_requests()[0]["model"], "model-b");

    // Another model on the same server: kept as named, not replaced by the server's first.
    enter_line(&mut rt, "/model bigger-model");
    rt.until(|app| app.model.as_deref() == Some("bigger-model"))
        .await
        .unwrap();
    enter_line(&mut rt, "and now");
    rt.until(|app| {
        app.run == RunState::Idle && app.convo.entries.iter().any(|e| e.text == "from b again")
    })
    .await
    .unwrap();
    assert_eq!(b.step_requests()[1]["model"], "bigger-model");

    // A switch of agents keeps the connection in use.
    enter_line(&mut rt, "/new other");
    key(&mut rt, KeyCode::Char('s'), KeyModifiers::CONTROL);
    rt.until(|app| app.agent == "other" && app.budget.total > 0)
        .await
        .unwrap();
    assert_eq!(rt.app.model.as_deref(), Some("bigger-model"));
    assert_eq!(rt.app.endpoint.as_deref(), Some(b.base_url.as_str()));

    // Back to a server that states no window: the one B stated does not stay.
    enter_line(&mut rt, &format!("/endpoint {}", a.base_url));
    rt.until(|app| {
        app.endpoint.as_deref() == Some(a.base_url.as_str()) && app.budget.context_window == 8192
    })
    .await
    .unwrap();

    // Nonsense is refused with the choices.
    enter_line(&mut rt, "/endpoint nowhere");
    assert!(
        rt.app
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("neither a URL")),
        "{:?}",
        rt.app.notice
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_typed_with_no_model_waits_visibly_and_is_answered_once_one_is_configured() {
    let server = Server::start(vec![say("now I can answer")]).await;
    let (_dir, path) = temp_store();
    let mut rt = common::tui::runtime_with_session(&path, None).await;
    rt.until(|a| a.budget.total > 0).await.unwrap();
    enter_line(&mut rt, "are you there?");
    rt.until(|a| a.unanswered == 1).await.unwrap();
    let s = screen(&rt);
    assert!(s.contains("1 message waiting for a model"), "{s}");
    assert!(s.contains("waiting for a model"), "{s}");
    assert!(
        rt.app.error.is_none(),
        "waiting is not a failure: {:?}",
        rt.app.error
    );

    // A model configured mid-session answers it, once, without another message.
    enter_line(&mut rt, &format!("/endpoint {}", server.base_url));
    rt.until(|a| {
        a.run == RunState::Idle && a.convo.entries.iter().any(|e| e.text == "now I can answer")
    })
    .await
    .unwrap();
    assert_eq!(rt.app.unanswered, 0);
    let steps = server.step_requests();
    assert_eq!(steps.len(), 1);
    let asked = steps[0]["messages"].to_string();
    assert_eq!(asked.matches("are you there?").count(), 1, "{asked}");
    assert!(
        !screen(&rt).contains("1 message waiting"),
        "{}",
        screen(&rt)
    );
    rt.shutdown().await.unwrap();
}
