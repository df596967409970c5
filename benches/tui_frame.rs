//! The cost of one TUI frame, and of start-up to the first frame, on a big store: 10,000
//! messages in the conversation and 100,000 archival passages.
//! Targets: under 2 ms a frame; under 100 ms from start to the first frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use memscope::engine::{Agent, EngineSettings};
use memscope::memory::{AgentState, CoreMemory, Message, MessageKind, Passage, Role};
use memscope::store::{Commit, Store};
use memscope::tui::app::AppEvent;
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::{data, initial_app, view};

const MESSAGES: u64 = 10_000;
const PASSAGES: u64 = 100_000;

fn settings() -> EngineSettings {
    EngineSettings {
        model: "gpt-4o-mini".into(),
        context_window: 8192,
        ..Default::default()
    }
}

/// A store with an agent holding 10k messages (the last 40 in its queue) and 100k passages.
fn big_store(path: &std::path::Path) {
    let store = Store::open(path).unwrap();
    let mut state = AgentState::new(
        "default",
        CoreMemory::with_defaults("I am Sam.", "Name: Ada."),
    );
    let now = Utc::now();
    let mut batch = Vec::new();
    for id in 1..=MESSAGES {
        let (role, kind, text) = match id % 3 {
            0 => (
                Role::User,
                MessageKind::UserMessage,
                format!(
                    "Message {id}: tell me more about the history of tea in Assam and how it reached Europe."
                ),
            ),
            1 => (
                Role::Assistant,
                MessageKind::Assistant,
                format!(
                    "Thinking about message {id}; the user likes detail, so answer with two or three sentences."
                ),
            ),
            _ => (
                Role::User,
                MessageKind::Heartbeat,
                "archival_memory_search requested a heartbeat".to_string(),
            ),
        };
        batch.push(Message {
            id,
            role,
            kind,
            content: text.clone(),
            text,
            searchable: kind != MessageKind::Heartbeat,
            tool_calls: vec![],
            tool_call_id: None,
            name: None,
            created_at: now,
            tokens: 20,
            step: id / 3,
        });
        if batch.len() == 5000 {
            store
                .commit(
                    "default",
                    &Commit {
                        messages: &batch,
                        ..Default::default()
                    },
                )
                .unwrap();
            batch.clear();
        }
    }
    let mut passages = Vec::new();
    for id in 1..=PASSAGES {
        passages.push(Passage {
            id,
            text: format!("Passage {id}: the user mentioned a detail about their week, their family or their plans."),
            created_at: now,
            source: "agent".into(),
            embedding: None,
            embedding_model: None,
            origin: None,
        });
        if passages.len() == 10_000 {
            store
                .commit(
                    "default",
                    &Commit {
                        passages: &passages,
                        ..Default::default()
                    },
                )
                .unwrap();
            passages.clear();
        }
    }
    state.fifo = (MESSAGES - 39..=MESSAGES).collect();
    state.next_message_id = MESSAGES + 1;
    state.next_passage_id = PASSAGES + 1;
    state.recall_count = MESSAGES;
    state.archival_count = PASSAGES;
    store
        .commit(
            "default",
            &Commit {
                state: Some(&state),
                ..Default::default()
            },
        )
        .unwrap();
}

fn frame(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.redb");
    big_store(&path);
    let store = Arc::new(Store::open_read_only(&path).unwrap());
    let agent = Agent::open(store.clone(), "default", settings()).unwrap();
    let mut app = initial_app(
        &agent,
        None,
        Theme::default_theme(),
        Keymap::default(),
        false,
    );
    let now = Instant::now();
    app.update(
        AppEvent::Loaded(data::history(&store, "default", u64::MAX)),
        now,
    );
    app.update(
        AppEvent::Loaded(data::load(
            &store,
            "default",
            &memscope::tui::app::Load::Archival,
        )),
        now,
    );
    app.update(
        AppEvent::Loaded(data::load(
            &store,
            "default",
            &memscope::tui::app::Load::Recall,
        )),
        now,
    );
    assert!(app.convo.entries.len() >= data::HISTORY_MESSAGES * 2 / 3);
    assert_eq!(app.stores.archival.rows.len(), data::LIST_ROWS);
    assert_eq!(app.stores.archival.total, PASSAGES as usize);
    let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
    term.draw(|f| {
        view::draw(f, &app);
    })
    .unwrap();
    c.bench_function("frame_10k_messages_100k_passages", |b| {
        b.iter(|| {
            term.draw(|f| {
                view::draw(f, &app);
            })
            .unwrap();
        })
    });
    // Scrolled half-way up the conversation, with the stores pane focused on a row deep down.
    app.convo.scroll = 5_000;
    app.stores.archival.selected = data::LIST_ROWS - 1;
    c.bench_function("frame_scrolled_deep", |b| {
        b.iter(|| {
            term.draw(|f| {
                view::draw(f, &app);
            })
            .unwrap();
        })
    });
    // After a resize every wrapped height is computed again.
    let mut narrow = Terminal::new(TestBackend::new(121, 35)).unwrap();
    let mut wide = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let mut flip = false;
    c.bench_function("frame_after_resize", |b| {
        b.iter(|| {
            flip = !flip;
            let t = if flip { &mut narrow } else { &mut wide };
            t.draw(|f| {
                view::draw(f, &app);
            })
            .unwrap();
        })
    });
}

fn start_to_first_frame(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.redb");
    big_store(&path);
    let mut group = c.benchmark_group("startup");
    group.sample_size(20);
    group.bench_function("start_to_first_frame", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t0 = Instant::now();
                let store = Arc::new(Store::open(&path).unwrap());
                let agent = Agent::open(store, "default", settings()).unwrap();
                let app = initial_app(
                    &agent,
                    None,
                    Theme::load("dark", None).unwrap(),
                    Keymap::default(),
                    false,
                );
                let mut term = Terminal::new(TestBackend::new(120, 35)).unwrap();
                term.draw(|f| {
                    view::draw(f, &app);
                })
                .unwrap();
                total += t0.elapsed();
                drop(agent);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, frame, start_to_first_frame);
criterion_main!(benches);
