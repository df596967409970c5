//! Searches that scale: the store's persistent word index (kept up to date from the store,
//! started over when an agent is rewound, read by other processes), Unicode words (Chinese
//! and Japanese found by a word), and the TUI's lists bounded to their newest rows.

mod common;

use std::sync::Arc;

use chrono::Utc;
use common::*;
use memscope::engine::{Agent, Status};
use memscope::memory::{Message, MessageKind, Passage, Role};
use memscope::store::{Commit, SearchKind, Store};
use serde_json::json;

fn message(id: u64, text: &str) -> Message {
    Message {
        id,
        role: Role::User,
        kind: MessageKind::UserMessage,
        content: text.into(),
        text: text.into(),
        searchable: true,
        tool_calls: vec![],
        tool_call_id: None,
        name: None,
        created_at: Utc::now(),
        tokens: 10,
        step: id,
    }
}

fn passage(id: u64, text: &str) -> Passage {
    Passage {
        id,
        text: text.into(),
        created_at: Utc::now(),
        source: "user".into(),
        embedding: None,
        embedding_model: None,
        origin: None,
    }
}

/// An agent with `messages` and `passages` (ids from 1), its counters set to match.
fn fill(store: &Store, messages: &[Message], passages: &[Passage]) {
    let mut state =
        memscope::memory::AgentState::new("default", memscope::memory::CoreMemory::default());
    state.next_message_id = messages.len() as u64 + 1;
    state.next_passage_id = passages.len() as u64 + 1;
    state.recall_count = messages.len() as u64;
    state.archival_count = passages.len() as u64;
    store
        .commit(
            "default",
            &Commit {
                state: Some(&state),
                messages,
                passages,
                ..Default::default()
            },
        )
        .unwrap();
}

#[tokio::test]
async fn the_agent_finds_a_chinese_word_inside_a_sentence() {
    let (_d, path) = temp_store();
    let server = Server::start(vec![
        say("记住了"),
        call(
            "conversation_search",
            json!({"query": "北京", "request_heartbeat": true}),
        ),
        call(
            "archival_memory_insert",
            json!({"content": "東京に住んでいる友達はケンです", "request_heartbeat": true}),
        ),
        call(
            "archival_memory_search",
            json!({"query": "住んで", "request_heartbeat": true}),
        ),
        say("done"),
    ])
    .await;
    let mut h = start(open_agent(&path, 8192), &server).await;
    chat(&mut h, "我的妹妹住在北京，她有一只猫。").await;
    let ev = chat(&mut h, "我妹妹住在哪里？").await;
    let r = returns(&ev);
    assert_eq!(r[0].1, Status::Ok, "{}", r[0].2);
    // The word is found inside the sentence that has no spaces; the question, which holds
    // only 妹妹 and 住在, is not a match for 北京.
    assert!(r[0].2.starts_with("Results 1-1 of 1"), "{}", r[0].2);
    assert!(r[0].2.contains("我的妹妹住在北京"), "{}", r[0].2);
    assert!(r[2].2.contains("東京に住んでいる"), "{}", r[2].2);
    shutdown(h).await;
}

#[test]
fn the_index_follows_commits_deletions_and_rewinds() {
    let (_d, path) = temp_store();
    let store = Arc::new(Store::open(&path).unwrap());
    let msgs: Vec<Message> = (1..=30)
        .map(|i| message(i, &format!("note {i} about the giraffe")))
        .collect();
    fill(
        &store,
        &msgs,
        &[passage(1, "the red kite"), passage(2, "kites fly")],
    );
    let hits = store
        .search("default", SearchKind::Recall, "giraffe", 0, 5)
        .unwrap();
    assert_eq!(hits.total, 30);
    // Newest first among equal scores, as the in-memory ranking does.
    assert_eq!(hits.ids, [30, 29, 28, 27, 26]);
    assert!(hits.note.is_none());
    // Paging asks the index for the page, not the whole list.
    let page = store
        .search("default", SearchKind::Recall, "giraffe", 25, 5)
        .unwrap();
    assert_eq!(page.ids, [5, 4, 3, 2, 1]);

    // A commit after the index was built is found by the next search.
    store
        .commit(
            "default",
            &Commit {
                messages: &[message(31, "the okapi is a relative of the giraffe")],
                passages: &[passage(3, "a kite is a bird")],
                ..Default::default()
            },
        )
        .unwrap();
    let hits = store
        .search("default", SearchKind::Recall, "okapi", 0, 5)
        .unwrap();
    assert_eq!((hits.total, hits.ids.as_slice()), (1, &[31][..]));

    // A deleted passage is no longer found.
    let mut agent = Agent::open(store.clone(), "default", settings(8192)).unwrap();
    assert!(agent.delete_passage(1).unwrap());
    let hits = store
        .search("default", SearchKind::Archival, "kite", 0, 5)
        .unwrap();
    assert_eq!(hits.ids, [3]);
    drop(agent);

    // A rewind to before message 31 starts the index over: the message is gone from it.
    let state = store.load_agent("default").unwrap().unwrap();
    let mut cut_state = state.clone();
    cut_state.next_message_id = 31;
    store
        .rewind(
            "default",
            "default-backup",
            &memscope::store::Cut {
                state: cut_state,
                journal_next: 1,
            },
        )
        .unwrap();
    let hits = store
        .search("default", SearchKind::Recall, "okapi", 0, 5)
        .unwrap();
    assert_eq!(hits.total, 0, "{hits:?}");
    // The backup has everything, in an index of its own.
    let hits = store
        .search("default-backup", SearchKind::Recall, "okapi", 0, 5)
        .unwrap();
    assert_eq!(hits.ids, [31]);
}

#[test]
fn another_process_reads_the_index_and_the_ranking_matches_the_in_memory_one() {
    let (_d, path) = temp_store();
    let texts = [
        "the cat sat on the mat",
        "my sister Priya has a cat named Miso",
        "the weather is nice",
        "Priya called today",
        "cat cat cat",
        "a dog and a cat and Priya",
    ];
    let msgs: Vec<Message> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| message(i as u64 + 1, t))
        .collect();
    {
        let store = Store::open(&path).unwrap();
        fill(&store, &msgs, &[]);
        store.index_now("default").unwrap();
    }
    let mut expected = memscope::memory::search::Bm25Index::new();
    for m in &msgs {
        expected.insert(m.id, &m.text);
    }
    let reader = Store::open_read_only(&path).unwrap();
    for query in ["Priya's cat", "cat", "weather today", "dog"] {
        let want: Vec<u64> = expected.search(query).iter().map(|r| r.0).collect();
        let hits = reader
            .search("default", SearchKind::Recall, query, 0, 10)
            .unwrap();
        assert_eq!(hits.ids, want, "{query}");
        assert_eq!(hits.total, want.len());
    }
    let mut index = path.as_os_str().to_owned();
    index.push(".search");
    assert!(std::path::Path::new(&index).is_dir());
}

#[test]
fn a_large_memory_is_searched_at_once_and_indexed_in_the_background() {
    let (_d, path) = temp_store();
    let n = memscope::store::SEARCH_INLINE as u64 + 3_000;
    let msgs: Vec<Message> = (1..=n)
        .map(|i| message(i, &format!("entry {i} mentions the lighthouse")))
        .collect();
    let store = Arc::new(Store::open(&path).unwrap());
    fill(&store, &msgs, &[]);
    // The TUI's search answers from what it indexed itself, and says so.
    use memscope::tui::app::{Load, Loaded, StoreTab};
    let Loaded::Search { note, total, .. } = memscope::tui::data::load(
        &store,
        "default",
        &Load::Search {
            tab: StoreTab::Recall,
            query: "lighthouse".into(),
        },
    ) else {
        panic!("search rows")
    };
    let note = note.expect("a note while the index is behind");
    assert!(note.contains("still being built"), "{note}");
    assert!(total < n as usize, "{total}");
    store.index_now("default").unwrap();
    let all = store
        .search("default", SearchKind::Recall, "lighthouse", 0, 5)
        .unwrap();
    assert_eq!((all.total, all.note), (n as usize, None));
    assert_eq!(all.ids[0], n);
}

#[test]
fn the_tui_lists_read_only_the_newest_rows_and_say_how_many_there_are() {
    use memscope::tui::app::{Load, Loaded};
    use memscope::tui::data;
    let (_d, path) = temp_store();
    let n = data::LIST_ROWS as u64 + 200;
    let passages: Vec<Passage> = (1..=n)
        .map(|i| passage(i, &format!("passage {i} about tides")))
        .collect();
    let store = Store::open(&path).unwrap();
    fill(&store, &[], &passages);
    let Loaded::Archival(rows, total) = data::load(&store, "default", &Load::Archival) else {
        panic!("archival rows")
    };
    assert_eq!((rows.len(), total), (data::LIST_ROWS, n as usize));
    assert_eq!(rows[0].id, n, "newest first");
    let Loaded::Search { rows, total, .. } = data::load(
        &store,
        "default",
        &Load::Search {
            tab: memscope::tui::app::StoreTab::Archival,
            query: "tides".into(),
        },
    ) else {
        panic!("search rows")
    };
    assert_eq!((rows.len(), total), (data::LIST_ROWS, n as usize));
}

#[test]
fn a_damaged_index_never_fails_a_search_and_its_writer_makes_it_again() {
    let (_d, path) = temp_store();
    let msgs: Vec<Message> = (1..=12)
        .map(|i| message(i, &format!("line {i} about the harbour")))
        .collect();
    {
        let store = Store::open(&path).unwrap();
        fill(&store, &msgs, &[]);
        store.index_now("default").unwrap();
    }
    let mut root = path.as_os_str().to_owned();
    root.push(".search");
    let damage = || {
        let mut n = 0;
        for dir in std::fs::read_dir(&root).unwrap().flatten() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                std::fs::write(f.path(), b"not an index at all").unwrap();
                n += 1;
            }
        }
        assert!(n > 0, "the index has files to damage");
    };
    damage();
    // A reader cannot mend it: it ranks from the rows instead.
    let reader = Store::open_read_only(&path).unwrap();
    let hits = reader
        .search("default", SearchKind::Recall, "harbour", 0, 5)
        .unwrap();
    assert_eq!(
        (hits.total, hits.ids.as_slice()),
        (12, &[12, 11, 10, 9, 8][..])
    );
    drop(reader);
    // The writer makes it again from the store, and it serves the next searches.
    let store = Store::open(&path).unwrap();
    for _ in 0..2 {
        let hits = store
            .search("default", SearchKind::Recall, "harbour", 0, 5)
            .unwrap();
        assert_eq!(
            (hits.total, hits.ids.as_slice()),
            (12, &[12, 11, 10, 9, 8][..])
        );
    }
    let meta = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|d| d.path().join("meta.json"))
        .find(|m| m.to_string_lossy().contains(".recall"))
        .unwrap();
    assert_ne!(std::fs::read(meta).unwrap(), b"not an index at all");
}

#[test]
fn the_stores_pane_says_how_many_there_are_beyond_the_rows_it_read() {
    use common::fixture::{Fixture, key};
    use crossterm::event::KeyCode;
    use memscope::tui::app::{AppEvent, Loaded, Row};
    let mut f = Fixture::new("dark");
    let rows: Vec<Row> = (0..3)
        .map(|i| Row {
            id: 50_000 - i,
            time: "2026-12-07 09:00".into(),
            tag: "document".into(),
            text: format!("passage {i}"),
            origin: None,
        })
        .collect();
    f.send(AppEvent::Loaded(Loaded::Archival(rows, 50_000)));
    f.send(key(KeyCode::Esc));
    f.send(key(KeyCode::Char('4')));
    let screen = f.screen(120, 35);
    assert!(screen.contains("Archival (50000)"), "{screen}");
    assert!(screen.contains("newest 3 of 50000"), "{screen}");
}

#[test]
fn every_page_ranks_as_the_in_memory_index_does_equal_scores_newest_first() {
    let (_d, path) = temp_store();
    // Scores repeat often (the same count of the word in texts of the same length), so pages
    // end inside groups of equal scores as well as between them.
    let msgs: Vec<Message> = (1..=300u64)
        .map(|i| {
            let mut words = vec!["giraffe"; (i % 3 + 1) as usize].join(" ");
            for k in 0..(i % 17) {
                words.push_str(&format!(" w{i}x{k}"));
            }
            message(i, &words)
        })
        .collect();
    let store = Store::open(&path).unwrap();
    fill(&store, &msgs, &[]);
    let mut expected = memscope::memory::search::Bm25Index::new();
    for m in &msgs {
        expected.insert(m.id, &m.text);
    }
    let want: Vec<u64> = expected.search("giraffe").iter().map(|r| r.0).collect();
    assert_eq!(want.len(), 300);
    for page in 0..60 {
        let hits = store
            .search("default", SearchKind::Recall, "giraffe", page * 5, 5)
            .unwrap();
        assert_eq!(hits.total, 300);
        assert_eq!(hits.ids, want[page * 5..page * 5 + 5], "page {page}");
    }
}

#[test]
fn the_index_of_a_deleted_or_renamed_agent_leaves_the_disk() {
    let (_d, path) = temp_store();
    let store = Store::open(&path).unwrap();
    fill(&store, &[message(1, "the lighthouse keeper")], &[]);
    store.fork("default", "copy", None).unwrap();
    for agent in ["default", "copy"] {
        let hits = store
            .search(agent, SearchKind::Recall, "lighthouse", 0, 5)
            .unwrap();
        assert_eq!(hits.ids, [1]);
        let none = store
            .search(agent, SearchKind::Archival, "lighthouse", 0, 5)
            .unwrap();
        assert_eq!(none.total, 0);
    }
    let mut root = path.as_os_str().to_owned();
    root.push(".search");
    let folders = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(folders().len(), 4, "{:?}", folders());
    assert!(store.delete_agent("copy").unwrap());
    assert!(
        folders().iter().all(|f| !f.starts_with(&hex("copy"))),
        "{:?}",
        folders()
    );
    store.rename_agent("default", "keeper").unwrap();
    assert!(
        folders().iter().all(|f| !f.starts_with(&hex("default"))),
        "{:?}",
        folders()
    );
    let hits = store
        .search("keeper", SearchKind::Recall, "lighthouse", 0, 5)
        .unwrap();
    assert_eq!(hits.ids, [1]);
}
