//! Export and import over real redb files: memscope JSON and Agent File round trips that keep
//! every block, message and passage; Letta's current and legacy schemas and a double-encoded
//! file; malformed files refused with nothing written; the Markdown transcript.

mod common;

use std::path::Path;

use common::*;
use memscope::memory::{Message, MessageKind, Passage, Role};
use memscope::store::{Store, Table};
use serde_json::{Value, json};

/// `memscope ARGS --store STORE`; (exit code, stdout as text, stderr).
fn cli(home: &Path, store: &Path, args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = memscope_on(home, store, args);
    (code, String::from_utf8_lossy(&out).into_owned(), err)
}

fn ok(home: &Path, store: &Path, args: &[&str]) -> String {
    let (code, out, err) = cli(home, store, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn heartbeat(name: &str, mut args: Value) -> Reply {
    args["request_heartbeat"] = json!(true);
    call(name, args)
}

/// An agent with user messages, thoughts, a core edit, archival passages and a flush.
async fn busy_agent(path: &Path) {
    let server = Server::start(vec![
        say("Hello Ada."),
        Reply::Ok(completion(json!({
            "role": "assistant", "content": "She keeps bees; remember it.",
            "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "core_memory_append",
                "arguments": "{\"label\": \"human\", \"content\": \"Keeps bees.\", \"request_heartbeat\": true}"}}]
        }))),
        heartbeat(
            "archival_memory_insert",
            json!({"content": "Ada's hives are on the north slope."}),
        ),
        say("Noted, bees it is."),
        say("Goodbye!"),
    ])
    .await;
    let mut h = start(open_agent(path, 8000), &server).await;
    chat(&mut h, "hi, I'm Ada").await;
    chat(&mut h, "I keep bees").await;
    chat(&mut h, "bye").await;
    shutdown(h).await;
}

fn rows<T: serde::de::DeserializeOwned>(store: &Store, table: Table, agent: &str) -> Vec<T> {
    let mut out = Vec::new();
    let bad = store
        .scan(table, agent, |_, v: T| {
            out.push(v);
            Ok::<(), memscope::store::StoreError>(())
        })
        .unwrap();
    assert!(bad.is_empty());
    out
}

/// What a round trip must keep of a message.
fn shape(m: &Message) -> Value {
    json!({
        "id": m.id, "role": m.role, "kind": m.kind, "content": m.content, "text": m.text,
        "tool_calls": m.tool_calls.iter().map(|c| json!([c.id, c.name, c.arguments])).collect::<Vec<_>>(),
        "tool_call_id": m.tool_call_id, "name": m.name, "searchable": m.searchable,
    })
}

fn passage_shape(p: &Passage) -> Value {
    json!({"id": p.id, "text": p.text, "source": p.source, "embedding": p.embedding})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_export_imports_as_the_same_agent_history_included() {
    let (dir, path) = temp_store();
    busy_agent(&path).await;
    let file = dir.path().join("agent.json");
    ok(
        dir.path(),
        &path,
        &[
            "export",
            "--format",
            "json",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let out = ok(
        dir.path(),
        &path,
        &["import", file.to_str().unwrap(), "--agent", "copy"],
    );
    assert!(out.contains("imported agent 'copy'"), "{out}");

    let store = Store::open_read_only(&path).unwrap();
    let a = store.load_agent("default").unwrap().unwrap();
    let mut b = store.load_agent("copy").unwrap().unwrap();
    b.name = a.name.clone();
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap()
    );
    for t in Table::ALL {
        let x: Vec<Value> = rows(&store, t, "default");
        let y: Vec<Value> = rows(&store, t, "copy");
        assert_eq!(x, y, "table {}", t.name());
    }
    assert!(a.archival_count >= 1 && a.step >= 5);
    drop(store);
    // The copy's past reads like the original's.
    let steps_a = ok(dir.path(), &path, &["steps", "--json"]);
    let steps_b = ok(dir.path(), &path, &["steps", "--json", "--agent", "copy"]);
    assert_eq!(steps_a.replace("\"default\"", "\"copy\""), steps_b);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_file_round_trip_keeps_blocks_messages_and_passages() {
    let (dir, path) = temp_store();
    busy_agent(&path).await;
    let file = dir.path().join("agent.af");
    ok(
        dir.path(),
        &path,
        &["export", "--format", "af", "--out", file.to_str().unwrap()],
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    // Letta's shape: every top-level list, and the agent's messages in Letta's form.
    for k in [
        "agents",
        "groups",
        "blocks",
        "files",
        "sources",
        "tools",
        "mcp_servers",
    ] {
        assert!(doc[k].is_array(), "{k}");
    }
    let agent = &doc["agents"][0];
    assert_eq!(agent["in_context_message_ids"][0], "message-system");
    let msgs = agent["messages"].as_array().unwrap();
    let store = Store::open_read_only(&path).unwrap();
    let recall: Vec<Message> = rows(&store, Table::Recall, "default");
    assert_eq!(
        msgs.len(),
        recall.len() + 1,
        "every message, and the system message"
    );
    let tool = msgs.iter().find(|m| m["role"] == "tool").unwrap();
    assert!(tool["tool_call_id"].is_string() && tool["tool_returns"][0]["status"] == "success");
    let caller = msgs.iter().find(|m| m["tool_calls"].is_array()).unwrap();
    assert_eq!(caller["tool_calls"][0]["type"], "function");
    drop(store);

    let out = ok(
        dir.path(),
        &path,
        &["import", file.to_str().unwrap(), "--agent", "af-copy"],
    );
    assert!(out.contains("imported agent 'af-copy'"), "{out}");
    let store = Store::open_read_only(&path).unwrap();
    let a = store.load_agent("default").unwrap().unwrap();
    let b = store.load_agent("af-copy").unwrap().unwrap();
    assert_eq!(
        a.core, b.core,
        "every block: label, value, limit, description, read-only"
    );
    assert_eq!(a.fifo, b.fifo, "the same queue, in order");
    assert_eq!(
        a.summary.as_ref().map(|s| &s.text),
        b.summary.as_ref().map(|s| &s.text)
    );
    assert!(
        b.instructions.is_none(),
        "memscope's own instructions stay memscope's"
    );
    let ra: Vec<Value> = rows::<Message>(&store, Table::Recall, "default")
        .iter()
        .map(shape)
        .collect();
    let rb: Vec<Value> = rows::<Message>(&store, Table::Recall, "af-copy")
        .iter()
        .map(shape)
        .collect();
    assert_eq!(ra, rb);
    let pa: Vec<Value> = rows::<Passage>(&store, Table::Archival, "default")
        .iter()
        .map(passage_shape)
        .collect();
    let pb: Vec<Value> = rows::<Passage>(&store, Table::Archival, "af-copy")
        .iter()
        .map(passage_shape)
        .collect();
    assert!(!pa.is_empty());
    assert_eq!(pa, pb);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_agent_talks_with_its_own_system_prompt_and_queue() {
    let (dir, path) = temp_store();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/letta_current.af");
    let out = ok(dir.path(), &path, &["import", fixture.to_str().unwrap()]);
    assert!(
        out.contains("imported agent 'letta-helper': 3 core blocks, 9 messages (5 in context)"),
        "{out}"
    );
    assert!(
        out.contains("1 tool(s) memscope cannot run: web_search"),
        "{out}"
    );
    assert!(
        out.contains("1 function result(s) whose call was not in the context"),
        "{out}"
    );

    let store = Store::open(&path).unwrap();
    let s = store.load_agent("letta-helper").unwrap().unwrap();
    let policies = s.core.get("policies").unwrap();
    assert!(policies.read_only);
    assert_eq!(policies.limit, 1000);
    assert_eq!(policies.description.as_deref(), Some("Rules I keep"));
    let recall: Vec<Message> = rows(&store, Table::Recall, "letta-helper");
    let kinds: Vec<MessageKind> = recall.iter().map(|m| m.kind).collect();
    assert_eq!(kinds[1], MessageKind::UserMessage);
    assert_eq!(recall[1].text, "Hi, I'm Ada. I keep bees.");
    assert_eq!(kinds[4], MessageKind::Heartbeat);
    assert_eq!(recall[2].text, "A new user; note her hobby.");
    assert_eq!(
        recall[7].tool_calls[0].arguments,
        r#"{"query":"bee hive winter care"}"#
    );
    // The system message stays in recall; the orphan result (message-3) is not queued.
    assert_eq!(recall[0].role, Role::System);
    let queued: Vec<u64> = s.fifo.clone();
    assert_eq!(queued, vec![5, 6, 7, 8, 9]);
    drop(store);

    // The next request uses the agent's own instructions and its queue.
    let server = Server::start(vec![say("Hello again, Ada.")]).await;
    let agent =
        memscope::engine::Agent::open(Store::open(&path).unwrap(), "letta-helper", settings(16000))
            .unwrap();
    let mut h = start(agent, &server).await;
    chat(&mut h, "remember me?").await;
    shutdown(h).await;
    let req = &server.step_requests()[0];
    let system = req["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are Sam, an assistant with a long memory."),
        "{system}"
    );
    assert!(system.contains("Never share the user's address."));
    let contents: Vec<String> = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].to_string())
        .collect();
    assert!(
        contents
            .iter()
            .any(|c| c.contains("How are the bees?") || c.contains("Greet her warmly")),
        "{contents:?}"
    );
    let _ = dir;
}

#[test]
fn a_legacy_agent_file_and_a_double_encoded_one_import() {
    let (dir, path) = temp_store();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/letta_legacy.af");
    let out = ok(dir.path(), &path, &["import", fixture.to_str().unwrap()]);
    assert!(
        out.contains("imported agent 'old-friend': 2 core blocks, 5 messages (4 in context)"),
        "{out}"
    );
    assert!(out.contains("roll_d20"), "{out}");
    assert!(
        out.contains("1 tool environment variable(s) were not imported"),
        "{out}"
    );
    // The same file as one JSON string holding the document.
    let text = std::fs::read_to_string(&fixture).unwrap();
    let wrapped = dir.path().join("wrapped.af");
    std::fs::write(&wrapped, serde_json::to_string(&text).unwrap()).unwrap();
    let out = ok(
        dir.path(),
        &path,
        &[
            "import",
            wrapped.to_str().unwrap(),
            "--agent",
            "old-friend-2",
        ],
    );
    assert!(out.contains("imported agent 'old-friend-2'"), "{out}");

    let store = Store::open_read_only(&path).unwrap();
    for name in ["old-friend", "old-friend-2"] {
        let s = store.load_agent(name).unwrap().unwrap();
        assert_eq!(s.core.get("human").unwrap().value, "First name: Chad");
        assert!(
            s.instructions
                .as_deref()
                .unwrap()
                .starts_with("You are MemGPT")
        );
        let recall: Vec<Message> = rows(&store, Table::Recall, name);
        assert_eq!(recall[3].kind, MessageKind::Login);
        assert_eq!(recall[4].text, "my name is actually Charles");
        assert_eq!(
            recall[2].tool_call_id,
            recall[1].tool_calls.first().map(|c| c.id.clone())
        );
    }
    drop(store);
    let dump = ok(
        dir.path(),
        &path,
        &["dump", "--json", "--agent", "old-friend"],
    );
    assert!(
        !dump.contains("sk-legacy-secret"),
        "a tool secret reached the store"
    );
}

#[test]
fn malformed_files_are_refused_by_name_and_nothing_is_written() {
    let (dir, path) = temp_store();
    // A store with one agent, so that "nothing written" is checked against a real store.
    ok(dir.path(), &path, &["agents", "create", "keep"]);
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/letta_current.af"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut bad_block = base.clone();
    bad_block["agents"][0]["block_ids"][1] = json!("block-9");
    let mut bad_role = base.clone();
    bad_role["agents"][0]["messages"][2]["role"] = json!("robot");
    let mut bad_context = base.clone();
    bad_context["agents"][0]["in_context_message_ids"][2] = json!("message-99");
    let mut over_limit = base.clone();
    over_limit["blocks"][2]["limit"] = json!(5);
    let cases: Vec<(&str, String, &str)> = vec![
        ("not json", "{\"agents\": [".into(), "not JSON"),
        ("no agent", "{\"hello\": 1}".into(), "neither an Agent File"),
        (
            "block",
            bad_block.to_string(),
            "agents[0].block_ids[1]: there is no block \"block-9\"",
        ),
        (
            "role",
            bad_role.to_string(),
            "agents[0].messages[2].role: \"robot\"",
        ),
        (
            "context",
            bad_context.to_string(),
            "in_context_message_ids[2]: there is no message \"message-99\"",
        ),
        (
            "limit",
            over_limit.to_string(),
            "core block 'policies' holds 31 characters, over its limit of 5",
        ),
        (
            "native",
            json!({"format": "memscope-agent", "version": 1, "state": {"name": 3}}).to_string(),
            "\"state\"",
        ),
    ];
    let before = ok(dir.path(), &path, &["agents", "list"]);
    for (what, text, says) in cases {
        let f = dir.path().join(format!("{what}.af"));
        std::fs::write(&f, text).unwrap();
        let (code, _, err) = cli(dir.path(), &path, &["import", f.to_str().unwrap()]);
        assert_eq!(code, 1, "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
        assert!(err.contains("nothing was imported"), "{what}: {err}");
    }
    assert_eq!(ok(dir.path(), &path, &["agents", "list"]), before);
    // A name already taken is refused the same way.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/letta_current.af");
    let (code, _, err) = cli(
        dir.path(),
        &path,
        &["import", fixture.to_str().unwrap(), "--agent", "keep"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("an agent named 'keep' already exists"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_markdown_transcript_reads_as_a_conversation() {
    let (dir, path) = temp_store();
    busy_agent(&path).await;
    let md = ok(dir.path(), &path, &["export", "--format", "md"]);
    let user = md.find("**User**").unwrap();
    let said = md.find("> Hello Ada.").unwrap();
    assert!(user < said, "{md}");
    assert!(md.contains("> hi, I'm Ada"));
    assert!(
        md.contains("<details><summary>inner thought</summary>\n\nShe keeps bees; remember it.")
    );
    assert!(
        md.contains(
            "<details><summary>function call <code>archival_memory_insert</code></summary>"
        )
    );
    assert!(md.contains("_heartbeat:"));
    assert!(md.contains("## Core memory"));
    assert!(md.contains("Keeps bees."));
    assert!(md.contains("- Archival: 1 passages"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_never_carries_the_api_key() {
    let (dir, path) = temp_store();
    let server = Server::start(vec![say(
        "Your key is sk-test-0123456789, I will not forget.",
    )])
    .await;
    let mut h = start(open_agent(&path, 8000), &server).await;
    chat(&mut h, "my key is sk-test-0123456789").await;
    shutdown(h).await;
    for format in ["md", "json", "af"] {
        let out = memscope_cmd(dir.path())
            .args(["export", "--format", format, "--store"])
            .arg(&path)
            .env("OPENAI_API_KEY", "sk-test-0123456789")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("sk-test-0123456789"), "{format}");
        assert!(text.contains("[redacted]"), "{format}");
    }
}
