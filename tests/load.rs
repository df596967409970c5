//! Loading documents into archival memory over real redb files: `memscope load` on a
//! directory of mixed files (counts, sources and positions, a second load adding nothing, what
//! changed added alone, progress events, bad files reported and skipped), standard input, a
//! store another process writes, and `/load` through the engine (embedded passages, a stop
//! that keeps what was loaded, commands that wait for the load).

mod common;

use std::path::Path;

use common::*;
use memscope::engine::{self, Command, EventKind};
use memscope::memory::Passage;
use memscope::store::Store;
use serde_json::Value;

/// `memscope ARGS --store STORE`; (exit code, stdout as text, stderr).
fn cli(home: &Path, store: &Path, args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = memscope_on(home, store, args);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

/// A loader of `dir` for `agent`, passages of at most `tokens` tokens.
fn loader_of(
    agent: &mut memscope::engine::Agent,
    dir: &Path,
    tokens: u32,
) -> memscope::transfer::load::Loader {
    let plan = memscope::transfer::load::read::plan(&[dir.to_path_buf()]);
    agent.loader_for(plan, tokens).unwrap()
}

/// `memscope ARGS --store STORE` with `input` on stdin; it must succeed.
async fn succeeds_with_input(home: &Path, store: &Path, args: &[&str], input: &str) {
    let mut cmd = memscope_cmd(home);
    cmd.args(args).arg("--store").arg(store);
    let out = output_with_input(cmd, input.to_string()).await;
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn passages(store: &Path) -> Vec<Passage> {
    Store::open(store).unwrap().archival("default").unwrap()
}

/// A directory of the files people have: Markdown with sections, prose, code, HTML, and three
/// that cannot be loaded (a PDF, a binary, text that is not UTF-8), one in a subdirectory, and
/// a hidden file that is not read.
fn mixed_dir(root: &Path) {
    let notes = (1..=12)
        .map(|i| {
            format!(
                "## Section {i}\n\nThe beekeeping log for hive {i} notes the queen was seen on day {i}, \
                 the brood pattern was solid and the colony carried pollen of many colours. \
                 Varroa counts stayed below three mites per hundred bees all month.\n"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(root.join("notes.md"), format!("# Hives\n\n{notes}")).unwrap();
    std::fs::write(
        root.join("letter.txt"),
        "Dear Ada,\n\nThe honey harvest was the best in years.\n\nYours, Grace\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/hive.rs"),
        "/// A hive.\npub struct Hive {\n    pub frames: u32,\n}\n\nfn count(h: &Hive) -> u32 {\n    h.frames\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("page.html"),
        "<html><head><title>t</title><script>var x = 1;</script></head><body><h1>Swarm season</h1><p>Bees <b>swarm</b> in May.</p></body></html>",
    )
    .unwrap();
    std::fs::write(
        root.join("manual.pdf"),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nbinary",
    )
    .unwrap();
    std::fs::write(root.join("photo.jpg"), b"\xff\xd8\xff\xe0\0\x10JFIF\0").unwrap();
    std::fs::write(root.join("latin1.txt"), b"caf\xe9 cr\xe8me\n").unwrap();
    std::fs::write(root.join(".secret"), "not to be loaded").unwrap();
}

#[test]
fn a_directory_of_mixed_files_loads_once_and_reports_what_it_skipped() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    mixed_dir(docs.path());
    let dir = docs.path().to_str().unwrap();

    let (code, out, err) = cli(
        home.path(),
        &store,
        &["load", dir, "--json", "--chunk-tokens", "60"],
    );
    assert_eq!(code, 0, "{err}");
    let events = json_lines(&out);
    let finished = of_type(&events, "load_finished");
    assert_eq!(finished.len(), 1, "{out}");
    let f = finished[0];
    assert_eq!(
        f["files"], 7,
        "seven files, the hidden one not counted: {f}"
    );
    assert_eq!(f["skipped"], 3, "{f}");

    // Each bad file is named with its reason, and the load went on.
    let skipped: Vec<(String, String)> = of_type(&events, "load_skipped")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |name: &str| {
        skipped
            .iter()
            .find(|(p, _)| p.ends_with(name))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{name} not reported: {skipped:?}"))
    };
    assert!(reason("manual.pdf").contains("PDF is not supported"));
    assert!(reason("photo.jpg").contains("binary"));
    assert!(reason("latin1.txt").contains("not UTF-8"));

    // Progress: from nothing to every file, never backwards.
    let progress = of_type(&events, "load_progress");
    assert!(progress.len() >= 2, "{out}");
    let done: Vec<u64> = progress
        .iter()
        .map(|p| p["files_done"].as_u64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert_eq!(*done.last().unwrap(), 7);
    assert_eq!(progress.last().unwrap()["bytes_done"], progress[0]["bytes"]);

    // The store holds the passages with where each came from.
    let held = passages(&store);
    assert_eq!(held.len() as u64, f["passages"].as_u64().unwrap());
    assert!(held.iter().all(|p| p.source == "document"));
    let from = |name: &str| -> Vec<&Passage> {
        held.iter()
            .filter(|p| p.origin.as_ref().unwrap().path.ends_with(name))
            .collect()
    };
    let notes = from("notes.md");
    assert!(
        notes.len() >= 4,
        "a long document is cut to the token size: {}",
        notes.len()
    );
    let parts = notes[0].origin.as_ref().unwrap().parts as usize;
    assert_eq!(parts, notes.len());
    assert_eq!(notes[0].origin.as_ref().unwrap().lines.unwrap().0, 1);
    assert!(notes.iter().all(|p| p.text.split_whitespace().count() > 3));
    assert!(
        notes.iter().any(|p| p.text.starts_with("## Section 7")),
        "sections start passages"
    );
    let code_text: String = from("hive.rs").iter().map(|p| p.text.clone()).collect();
    assert!(code_text.contains("pub struct Hive") && code_text.contains("fn count"));
    let html = from("page.html");
    assert_eq!(html.len(), 1);
    assert!(html[0].text.contains("Swarm season") && !html[0].text.contains('<'));
    assert!(!html[0].text.contains("var x"), "scripts are not text");
    assert!(held.iter().all(|p| !p.text.contains("not to be loaded")));
    assert!(from("letter.txt")[0].text.contains("honey harvest"));

    // Loading again adds nothing: every passage is already held.
    let (code, out, err) = cli(home.path(), &store, &["load", dir, "--chunk-tokens", "60"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 passages"), "{out}");
    assert!(
        out.contains(&format!("{} already held", held.len())),
        "{out}"
    );
    assert!(
        err.contains("skipped") && err.contains("manual.pdf"),
        "{err}"
    );
    assert_eq!(passages(&store).len(), held.len());

    // A changed paragraph is the only thing a third load adds.
    std::fs::write(
        docs.path().join("letter.txt"),
        "Dear Ada,\n\nThe honey harvest was the best in years.\n\nThe wax went to the candle maker.\n\nYours, Grace\n",
    )
    .unwrap();
    let (code, out, _) = cli(
        home.path(),
        &store,
        &["load", dir, "--json", "--chunk-tokens", "60"],
    );
    assert_eq!(code, 0);
    let events = json_lines(&out);
    assert_eq!(of_type(&events, "load_finished")[0]["passages"], 1, "{out}");
    let now = passages(&store);
    assert_eq!(now.len(), held.len() + 1);
    assert!(now.last().unwrap().text.contains("candle maker"));
}

#[tokio::test]
async fn standard_input_loads_and_a_path_that_is_not_there_fails_plainly() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    succeeds_with_input(
        home.path(),
        &store,
        &["load", "-"],
        "# Piped\n\nText from a pipe.\n",
    )
    .await;
    let held = passages(&store);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].origin.as_ref().unwrap().path, "-");
    assert!(held[0].text.contains("Text from a pipe."));

    let (code, _, err) = cli(home.path(), &store, &["load", "/no/such/dir"]);
    assert_ne!(code, 0);
    assert!(err.contains("no such file or directory"), "{err}");
    assert!(err.contains("none of the files could be loaded"), "{err}");
}

#[tokio::test]
async fn archival_insert_dash_reads_standard_input() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    succeeds_with_input(
        home.path(),
        &store,
        &["archival", "insert", "-"],
        "the hives face south",
    )
    .await;
    let held = passages(&store);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].text, "the hives face south");
}

#[test]
fn a_load_into_a_store_another_process_writes_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(docs.path().join("a.txt"), "hello").unwrap();
    let _writer = Store::open(&store).unwrap();
    let (code, _, err) = cli(
        home.path(),
        &store,
        &["load", docs.path().to_str().unwrap()],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("another memscope is writing") && err.contains("/load PATH"),
        "{err}"
    );
}

#[tokio::test]
async fn slash_load_embeds_passages_and_a_message_sent_meanwhile_waits_for_it() {
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    mixed_dir(docs.path());
    let server = Server::start(vec![say("Loaded, thanks.")]).await;
    let client = client_with(
        &server,
        memscope::model::RetryPolicy::default(),
        Some("embed-model"),
    );
    let mut h = engine::spawn(open_agent(&store, 8000), Some(client));
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    h.commands
        .send(Command::Load {
            paths: vec![docs.path().to_path_buf()],
            chunk_tokens: 60,
        })
        .unwrap();
    h.commands
        .send(Command::UserMessage("what did I load?".into()))
        .unwrap();
    let events = until(&mut h.events, chain_ended).await;
    let finished = events
        .iter()
        .position(|e| matches!(e, EventKind::LoadFinished(_)))
        .expect("the load finished");
    let user = events
        .iter()
        .position(|e| matches!(e, EventKind::UserMessage { .. }))
        .expect("the message was sent");
    assert!(finished < user, "the message waited for the load");
    let EventKind::LoadFinished(s) = &events[finished] else {
        unreachable!()
    };
    assert!(s.passages > 4 && s.skipped == 3 && !s.stopped, "{s:?}");
    assert_eq!(s.embedded, s.passages, "{s:?}");
    let skipped = events
        .iter()
        .filter(|e| matches!(e, EventKind::LoadSkipped { .. }))
        .count();
    assert_eq!(skipped, 3);
    shutdown(h).await;
    let held = passages(&store);
    assert_eq!(held.len(), s.passages);
    assert!(
        held.iter()
            .all(|p| p.embedding.is_some() && p.embedding_model.as_deref() == Some("embed-model"))
    );
    // The finished load is in the journal, so the TUI's history shows it after a restart.
    let journal = Store::open(&store)
        .unwrap()
        .journal("default", 0, u64::MAX)
        .unwrap();
    assert!(
        journal
            .iter()
            .any(|(_, e)| matches!(e.kind, EventKind::LoadFinished(_)))
    );
    assert!(
        !journal
            .iter()
            .any(|(_, e)| matches!(e.kind, EventKind::LoadProgress(_)))
    );
}

/// Asks to stop once `after` progress events with passages have been heard.
struct StopAfter {
    after: usize,
    heard: Vec<EventKind>,
}

impl memscope::engine::load::LoadSink for StopAfter {
    fn event(&mut self, ev: memscope::engine::Event) {
        self.heard.push(ev.kind);
    }
    fn stop_requested(&mut self) -> bool {
        self.heard
            .iter()
            .filter(|k| matches!(k, EventKind::LoadProgress(p) if p.passages > 0))
            .count()
            >= self.after
    }
}

fn many_files(root: &Path) {
    for i in 0..5 {
        let text = (0..40)
            .map(|j| format!("File {i} paragraph {j} says something different from the rest."))
            .collect::<Vec<_>>()
            .join("\n\n");
        std::fs::write(root.join(format!("f{i}.txt")), text).unwrap();
    }
}

#[tokio::test]
async fn a_stopped_load_keeps_every_batch_it_committed() {
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    many_files(docs.path());
    let mut agent = open_agent(&store, 8000);
    let loader = loader_of(&mut agent, docs.path(), 16);
    let mut sink = StopAfter {
        after: 2,
        heard: Vec::new(),
    };
    let s = agent.load_documents(loader, None, &mut sink).await.unwrap();
    assert!(s.stopped, "{s:?}");
    assert_eq!(s.passages, 2 * memscope::engine::load::BATCH, "{s:?}");
    assert!(s.message.contains("stopped"), "{}", s.message);
    drop(agent);
    assert_eq!(passages(&store).len(), s.passages);
    // Loading again picks up where it stopped: what is held is left out.
    let mut agent = open_agent(&store, 8000);
    let loader = loader_of(&mut agent, docs.path(), 16);
    let mut sink = StopAfter {
        after: usize::MAX,
        heard: Vec::new(),
    };
    let rest = agent.load_documents(loader, None, &mut sink).await.unwrap();
    assert_eq!(rest.duplicates, s.passages);
    assert_eq!(rest.passages + s.passages, 200, "{rest:?}");
}

#[tokio::test]
async fn an_interrupt_stops_a_load_and_the_engine_goes_on() {
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    many_files(docs.path());
    let server = Server::start(vec![say("Still here.")]).await;
    let mut h = start(open_agent(&store, 8000), &server).await;
    h.commands
        .send(Command::Load {
            paths: vec![docs.path().to_path_buf()],
            chunk_tokens: 16,
        })
        .unwrap();
    h.commands.send(Command::Interrupt).unwrap();
    let rest = until(&mut h.events, |k| matches!(k, EventKind::LoadFinished(_))).await;
    let Some(EventKind::LoadFinished(s)) = rest.last() else {
        unreachable!()
    };
    assert!(s.stopped && s.passages == 0, "{s:?}");
    let events = chat(&mut h, "hello").await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EventKind::AssistantMessage { .. }))
    );
    shutdown(h).await;
    assert!(passages(&store).is_empty());
}

/// Asks to stop on its `n`th question (asked before every batch).
struct StopOnCall {
    n: usize,
    asked: usize,
}

impl memscope::engine::load::LoadSink for StopOnCall {
    fn event(&mut self, _: memscope::engine::Event) {}
    fn stop_requested(&mut self) -> bool {
        self.asked += 1;
        self.asked >= self.n
    }
}

#[tokio::test]
async fn while_embedding_a_batch_is_one_request_and_a_stop_keeps_what_was_embedded() {
    let (_d, store) = temp_store();
    let docs = tempfile::tempdir().unwrap();
    many_files(docs.path());
    let server = Server::start(vec![]).await;
    let client = client_with(
        &server,
        memscope::model::RetryPolicy::default(),
        Some("embed-model"),
    );
    let mut agent = open_agent(&store, 8000);
    let loader = loader_of(&mut agent, docs.path(), 16);
    // Asked before the first batch (go on), then before the second (stop).
    let mut sink = StopOnCall { n: 2, asked: 0 };
    let s = agent
        .load_documents(loader, Some(&client), &mut sink)
        .await
        .unwrap();
    assert!(s.stopped, "{s:?}");
    assert_eq!(s.passages, memscope::engine::load::EMBED_BATCH, "{s:?}");
    assert_eq!(s.embedded, s.passages);
    let requests = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/embeddings"))
        .count();
    assert_eq!(requests, 1, "one request for the one batch");
    drop(agent);
    let held = passages(&store);
    assert_eq!(held.len(), s.passages);
    assert!(held.iter().all(|p| p.embedding.is_some()));
}

#[test]
fn a_full_disk_ends_the_load_with_what_was_committed_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let (_d, store) = temp_store();
    drop(open_agent(&store, 8000));
    let docs = tempfile::tempdir().unwrap();
    for i in 0..20 {
        let text = (0..200)
            .map(|j| {
                format!(
                    "File {i} paragraph {j}: {}",
                    "words that take room ".repeat(8)
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        std::fs::write(docs.path().join(format!("f{i:02}.txt")), text).unwrap();
    }
    // The file may grow by 256 KB, then no more (a write past it fails as on a full disk).
    let limit_kb = std::fs::metadata(&store).unwrap().len() / 1024 + 256;
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -S -f {limit_kb}; trap \"\" XFSZ; exec {} \"$@\"",
            env!("CARGO_BIN_EXE_memscope")
        ))
        .arg("memscope")
        .args(["load", "--json", "--store"])
        .arg(&store)
        .arg(docs.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("MEMSCOPE_PROBE", "llamacpp=127.0.0.1:9");
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events = json_lines(&stdout);
    let finished = of_type(&events, "load_finished");
    assert_eq!(finished.len(), 1, "{stdout}");
    let f = finished[0];
    assert_eq!(f["stopped"], true, "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("could not be written"),
        "{f}"
    );
    // Every passage it reports as loaded is in the store, and nothing more.
    assert!(f["passages"].as_u64().unwrap() > 0, "{f}");
    assert_eq!(
        passages(&store).len() as u64,
        f["passages"].as_u64().unwrap()
    );
}
