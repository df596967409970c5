//! A fixed TUI state for snapshots: an app with a short conversation (a memory search, a core
//! edit, a summary), stores filled, and a budget, drawn at any size.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use memscope::engine::{Event, EventKind, Status, Trigger};
use memscope::memory::{Block, CoreMemory};
use memscope::tokens::Budget;
use memscope::tui::app::{App, AppEvent, AppInit, Loaded, Row};
use memscope::tui::keymap::Keymap;
use memscope::tui::theme::Theme;
use memscope::tui::view;

pub fn ev(step: u64, kind: EventKind) -> AppEvent {
    AppEvent::Engine(Event {
        step,
        time: Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap(),
        kind,
    })
}

pub fn budget(total_msgs: u32) -> Budget {
    let mut b = Budget {
        context_window: 8192,
        system: 600,
        functions: 920,
        core_memory: 110,
        summary: 140,
        messages: total_msgs,
        server_prompt_tokens: Some(1700 + total_msgs),
        warn_at: 6144,
        flush_at: 7168,
        encoding: "cl100k_base".into(),
        approximate: true,
        queue_len: 12,
        ..Default::default()
    };
    b.total = b.system + b.functions + b.core_memory + b.summary + b.messages + 3;
    let mut cache = memscope::tokens::CacheMeter::default();
    for shared in [0, b.total - 60, b.total - 45] {
        cache.record(memscope::tokens::CacheStat {
            prompt_tokens: b.total,
            shared_tokens: shared,
            ..Default::default()
        });
    }
    b.cache = Some(cache);
    b
}

pub fn key(c: KeyCode) -> AppEvent {
    AppEvent::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> AppEvent {
    AppEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub struct Fixture {
    pub app: App,
    pub t0: Instant,
}

impl Fixture {
    pub fn new(theme: &str) -> Fixture {
        let t0 = Instant::now();
        let core = CoreMemory::with_defaults(
            "I am Sam, a curious companion who keeps answers short.",
            "Name: Priya. Likes green tea and chess.",
        );
        let mut blocks: Vec<Block> = core.blocks;
        blocks[1].limit = 200;
        let app = App::new(AppInit {
            history_before: 1,
            agent: "default".into(),
            model: Some("qwen2.5-7b-instruct".into()),
            endpoint: Some("http://127.0.0.1:8080/v1".into()),
            read_only: false,
            theme: Theme::load(theme, None).unwrap(),
            keymap: Keymap::default(),
            core: blocks,
            budget: budget(300),
            policy: "native tools · text is thought".into(),
            step: 0,
            now: t0,
            instructions: memscope::engine::BASE_INSTRUCTIONS.into(),
            instructions_custom: false,
        });
        let mut f = Fixture { app, t0 };
        f.conversation();
        f
    }

    pub fn send(&mut self, e: AppEvent) {
        self.app.update(e, self.t0);
    }

    fn conversation(&mut self) {
        let rows = |n: u64, tag: &str, what: &str| -> Vec<Row> {
            (1..=n)
                .rev()
                .map(|i| Row {
                    id: i,
                    time: format!("2026-11-2{} 09:{:02}", i % 4, i),
                    tag: tag.into(),
                    text: format!(
                        "{what} {i}: Priya's sister Meera lives in Lisbon and visits in spring."
                    ),
                    origin: None,
                })
                .collect()
        };
        self.send(AppEvent::Loaded(Loaded::Archival(
            rows(7, "agent", "passage"),
            7,
        )));
        self.send(AppEvent::Loaded(Loaded::Recall(
            rows(24, "user", "message"),
            24,
        )));
        self.send(ev(
            1,
            EventKind::UserMessage {
                id: 1,
                text: "Hi! I'm Priya. Remember that my sister Meera lives in Lisbon.".into(),
            },
        ));
        self.send(ev(
            1,
            EventKind::ModelCall {
                trigger: Trigger::UserMessage,
            },
        ));
        self.send(ev(
            1,
            EventKind::Thought {
                text: "A new fact about the user's family; save it to archival memory.".into(),
            },
        ));
        self.send(ev(1, EventKind::FunctionCall { name: "archival_memory_insert".into(), arguments: json!({"content": "Priya's sister Meera lives in Lisbon.", "request_heartbeat": true}), call_id: "c1".into(), repairs: vec![] }));
        self.send(ev(
            1,
            EventKind::FunctionReturn {
                name: "archival_memory_insert".into(),
                call_id: "c1".into(),
                status: Status::Ok,
                message: "saved to archival memory as passage 8".into(),
                heartbeat: true,
                duration_ms: 0.4,
            },
        ));
        self.send(ev(
            1,
            EventKind::Heartbeat {
                reason: "archival_memory_insert requested a heartbeat".into(),
            },
        ));
        self.send(ev(
            2,
            EventKind::ModelCall {
                trigger: Trigger::Heartbeat {
                    function: "archival_memory_insert".into(),
                },
            },
        ));
        self.send(ev(
            2,
            EventKind::FunctionCall {
                name: "core_memory_append".into(),
                arguments: json!({"name": "Priya", "content": "x", "request_heartbeat": false}),
                call_id: "c2".into(),
                repairs: vec![],
            },
        ));
        self.send(ev(
            2,
            EventKind::FunctionReturn {
                name: "core_memory_append".into(),
                call_id: "c2".into(),
                status: Status::Failed,
                message:
                    "there is no core memory block named 'Priya'; the blocks are: persona, human"
                        .into(),
                heartbeat: true,
                duration_ms: 0.1,
            },
        ));
        self.send(ev(
            2,
            EventKind::Heartbeat {
                reason: "function core_memory_append failed; fix the problem and try again".into(),
            },
        ));
        self.send(ev(3, EventKind::FunctionCall { name: "send_message".into(), arguments: json!({"message": "Nice to meet you, Priya! I'll remember that Meera lives in Lisbon."}), call_id: "c3".into(), repairs: vec![] }));
        self.send(ev(
            3,
            EventKind::AssistantMessage {
                text: "Nice to meet you, Priya! I'll remember that Meera lives in Lisbon.".into(),
            },
        ));
        self.send(ev(
            3,
            EventKind::FunctionReturn {
                name: "send_message".into(),
                call_id: "c3".into(),
                status: Status::Ok,
                message: "sent to the user".into(),
                heartbeat: false,
                duration_ms: 0.0,
            },
        ));
        self.send(ev(
            3,
            EventKind::MemoryWarning {
                message: "Memory pressure: your context is over 75% full.".into(),
                used: 6200,
                context_window: 8192,
            },
        ));
        self.send(ev(
            3,
            EventKind::Summary {
                evicted: 14,
                summary: "The user, Priya, introduced herself.".into(),
            },
        ));
        self.send(ev(3, EventKind::Budget(budget(1200))));
        self.send(ev(3, EventKind::ChainEnded { steps: 3 }));
    }

    pub fn screen(&mut self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut drawn = view::Drawn::default();
        t.draw(|f| drawn = view::draw(f, &self.app)).unwrap();
        self.app.layout(drawn);
        view::buffer_text(t.backend().buffer())
    }

    pub fn styled(&mut self, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut drawn = view::Drawn::default();
        t.draw(|f| drawn = view::draw(f, &self.app)).unwrap();
        self.app.layout(drawn);
        format!("{:?}", t.backend().buffer())
    }
}
