//! Provider presets, agent settings from flags, and finding a local server when nothing is
//! configured (against scripted servers on 127.0.0.1).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use memscope::config::{CommonArgs, ModelArgs, resolve};
use memscope::functions::json_mode::JsonFormat;
use memscope::memory::{ToolChoice, ToolMode};
use memscope::providers;

fn no_file() -> CommonArgs {
    CommonArgs {
        config: Some(PathBuf::from("/dev/null")),
        ..Default::default()
    }
}

fn env_none(_: &str) -> Option<String> {
    None
}

#[test]
fn presets_set_the_endpoint_json_format_and_streaming() {
    let args = ModelArgs {
        provider: Some("llamacpp".into()),
        ..Default::default()
    };
    let r = resolve(&no_file(), &args, &env_none).unwrap();
    let c = r.client.unwrap();
    assert_eq!(c.base_url, "http://127.0.0.1:8080/v1");
    assert!(c.stream);
    assert_eq!(r.engine.json_format, JsonFormat::JsonObject);
    let r = resolve(
        &no_file(),
        &ModelArgs {
            provider: Some("ollama".into()),
            ..Default::default()
        },
        &env_none,
    )
    .unwrap();
    assert_eq!(r.client.unwrap().base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(r.engine.json_format, JsonFormat::JsonSchema);
    // A preset's URL yields to an explicit one.
    let args = ModelArgs {
        provider: Some("vllm".into()),
        base_url: Some("http://10.0.0.5:9000/v1".into()),
        ..Default::default()
    };
    assert_eq!(
        resolve(&no_file(), &args, &env_none)
            .unwrap()
            .client
            .unwrap()
            .base_url,
        "http://10.0.0.5:9000/v1"
    );
}

#[test]
fn presets_refuse_what_their_server_cannot_do() {
    let e = resolve(
        &no_file(),
        &ModelArgs {
            provider: Some("openai".into()),
            ..Default::default()
        },
        &env_none,
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs an API key"), "{e}");
    let args = ModelArgs {
        provider: Some("ollama".into()),
        tool_choice: Some("required".into()),
        ..Default::default()
    };
    assert!(
        resolve(&no_file(), &args, &env_none)
            .unwrap_err()
            .to_string()
            .contains("required")
    );
    let e = resolve(
        &no_file(),
        &ModelArgs {
            provider: Some("nope".into()),
            ..Default::default()
        },
        &env_none,
    )
    .unwrap_err();
    assert!(e.to_string().contains("openai, llamacpp, ollama"), "{e}");
    let e = resolve(
        &no_file(),
        &ModelArgs {
            tool_mode: Some("xml".into()),
            ..Default::default()
        },
        &env_none,
    )
    .unwrap_err();
    assert!(e.to_string().contains("native, json"), "{e}");
    let args = ModelArgs {
        tool_mode: Some("json".into()),
        tool_choice: Some("required".into()),
        ..Default::default()
    };
    let p = resolve(&no_file(), &args, &env_none).unwrap().policy;
    assert_eq!(
        (p.tool_mode, p.tool_choice),
        (Some(ToolMode::Json), Some(ToolChoice::Required))
    );
}

#[tokio::test]
async fn detection_finds_the_servers_that_answer_in_preset_order() {
    let a = Server::start(vec![]).await;
    let b = Server::start(vec![]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = |s: &Server| {
        s.base_url
            .trim_start_matches("http://")
            .trim_end_matches("/v1")
            .to_string()
    };
    let list = format!(
        "llamacpp=127.0.0.1:{closed},ollama={},lmstudio={}",
        addr(&a),
        addr(&b)
    );
    let env = move |k: &str| (k == "MEMSCOPE_PROBE").then(|| list.clone());
    let targets = providers::probe_targets(&env);
    assert_eq!(targets.len(), 3);
    let found = providers::detect(targets, Duration::from_millis(400)).await;
    let names: Vec<&str> = found.iter().map(|(p, _)| p.name).collect();
    assert_eq!(names, vec!["ollama", "lmstudio"]);
    assert_eq!(found[0].1, a.base_url);
    // Without MEMSCOPE_PROBE the presets' own local ports are asked.
    let defaults = providers::probe_targets(&env_none);
    assert!(
        defaults
            .iter()
            .any(|(p, u)| p.name == "llamacpp" && u == "http://127.0.0.1:8080/v1")
    );
    assert!(defaults.iter().all(|(p, _)| !p.needs_key));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_with_nothing_configured_uses_a_server_it_finds_and_settings_stick_to_the_agent() {
    let server = Server::start(vec![say("found you"), say("still json")]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("s.redb");
    let addr = server
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let home_path = home.path().to_path_buf();
    let run = move |extra: &[&str], input: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_memscope"));
        c.args(["run", "--store"]).arg(&store).args(extra);
        for k in ["OPENAI_API_KEY", "OPENAI_BASE_URL", "MEMSCOPE_MODEL"] {
            c.env_remove(k);
        }
        c.env("MEMSCOPE_PROBE", format!("llamacpp={addr}"))
            .env("XDG_CONFIG_HOME", &home_path)
            .env("XDG_STATE_HOME", &home_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || {
            run(
                &["--tool-mode", "json", "--no-tool-reply", "message"],
                "hello\n",
            )
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("using the llama.cpp server found at"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"policy\":\"JSON mode · text is sent\""),
        "{stdout}"
    );
    // The preset streams; this server answers with plain JSON, which is read all the same.
    assert!(
        stdout.contains("\"type\":\"assistant_message\"") && !stdout.contains("\"type\":\"retry\""),
        "{stdout}"
    );
    // The model was asked of the server, and JSON mode was used.
    let req = server.step_requests_any().pop().unwrap();
    assert_eq!(req["model"], "scripted-model");
    assert!(req.get("tools").is_none());
    // A second run without the flags keeps the agent's settings.
    let out = tokio::task::spawn_blocking(move || run(&[], "again\n"))
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("JSON mode · text is sent"));
    assert!(
        server
            .step_requests_any()
            .pop()
            .unwrap()
            .get("tools")
            .is_none()
    );
}

#[tokio::test]
async fn the_context_window_comes_from_the_server_unless_configured() {
    let server = Server::start(vec![]).await;
    server.set_models(serde_json::json!({"object": "list", "data": [{"id": "scripted-model", "max_model_len": 32768}]}));
    let (_d, path) = temp_store();
    let mut h = memscope::engine::spawn(open_agent(&path, 8192), Some(client(&server)));
    let ev = until(&mut h.events, |k| {
        matches!(k, memscope::engine::EventKind::Budget(_))
    })
    .await;
    let Some(memscope::engine::EventKind::Budget(b)) = ev.last() else {
        unreachable!()
    };
    assert_eq!(
        (b.context_window, b.window_source.as_str()),
        (32768, "server")
    );
    shutdown(h).await;
    // A configured window wins.
    let mut agent = open_agent(&path, 8192);
    agent.settings.window_source = memscope::engine::WindowSource::Config;
    let mut h = memscope::engine::spawn(agent, Some(client(&server)));
    let ev = until(&mut h.events, |k| {
        matches!(k, memscope::engine::EventKind::Budget(_))
    })
    .await;
    let Some(memscope::engine::EventKind::Budget(b)) = ev.last() else {
        unreachable!()
    };
    assert_eq!(
        (b.context_window, b.window_source.as_str()),
        (8192, "config")
    );
    shutdown(h).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_embedding_model_is_detected_and_reembed_embeds_with_progress() {
    let server = Server::start(vec![]).await;
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("e.redb");
    let (store2, home2) = (store.clone(), home.path().to_path_buf());
    let cli = move |args: Vec<String>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_memscope"));
        c.args(&args)
            .arg("--store")
            .arg(&store2)
            .env("XDG_CONFIG_HOME", &home2)
            .env("XDG_STATE_HOME", &home2);
        c.output().unwrap()
    };
    for t in [
        "Meera lives in Lisbon.",
        "The spare key is under the flowerpot.",
        "Tea, not coffee.",
    ] {
        assert!(
            cli(vec!["archival".into(), "insert".into(), t.into()])
                .status
                .success()
        );
    }
    // The engine notices that the passages are not embedded with the configured model.
    let (agent, c) = {
        let agent = memscope::engine::Agent::open(
            memscope::store::Store::open(&store).unwrap(),
            "default",
            settings(8192),
        )
        .unwrap();
        (
            agent,
            client_with(
                &server,
                memscope::model::RetryPolicy::default(),
                Some("test-embed"),
            ),
        )
    };
    let mut h = memscope::engine::spawn(agent, Some(c));
    let ev = until(&mut h.events, |k| {
        matches!(k, memscope::engine::EventKind::Warning { .. })
    })
    .await;
    let Some(memscope::engine::EventKind::Warning { kind, message }) = ev.last() else {
        unreachable!()
    };
    assert_eq!(kind.as_str(), "embedding_model_changed");
    assert!(
        message.contains("3 archival passages") && message.contains("reembed"),
        "{message}"
    );
    shutdown(h).await;
    // Re-embedding reports progress and stores model and dimension with each passage.
    let url = server.base_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        cli(vec![
            "archival".into(),
            "reembed".into(),
            "--base-url".into(),
            url,
            "--embedding-model".into(),
            "test-embed".into(),
        ])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("re-embedded 3/3 passages with test-embed")
    );
    let passages = memscope::store::Store::open_read_only(&home.path().join("e.redb"))
        .unwrap()
        .archival("default")
        .unwrap();
    assert!(
        passages
            .iter()
            .all(|p| p.embedding_model.as_deref() == Some("test-embed")
                && p.embedding.as_ref().unwrap().len() == 64)
    );
}

#[tokio::test]
async fn each_tokenize_dialect_is_found_and_counts_as_the_server_does() {
    use memscope::model::Dialect;
    for (offered, dialect) in [
        (Tokenize::LlamaCpp, Dialect::LlamaCpp),
        (Tokenize::Vllm, Dialect::Vllm),
        (Tokenize::LlamaCppPython, Dialect::LlamaCppPython),
    ] {
        let server = Server::start(vec![]).await;
        server.set_tokenizer(Some(offered));
        let tok = client(&server)
            .detect_tokenizer()
            .await
            .unwrap_or_else(|| panic!("{offered:?} was not found"));
        assert_eq!(tok.dialect, dialect);
        let text = "Priya's sister Meera lives in Lisbon.";
        // The BOS llama-cpp-python counts is not part of the text.
        assert_eq!(tok.count(text).await.unwrap(), scripted_tokens(text));
        assert_eq!(tok.count("").await.unwrap(), 0);
    }
    let server = Server::start(vec![]).await;
    assert!(client(&server).detect_tokenizer().await.is_none());
}

#[tokio::test]
async fn the_budget_counts_with_the_servers_tokenizer_and_asks_once_per_message() {
    let server = Server::start(vec![
        say("Hello Priya!"),
        think_call(
            "Worth keeping.",
            "archival_memory_insert",
            serde_json::json!({"content": "Priya likes green tea", "request_heartbeat": true}),
        ),
        say("Noted: green tea."),
    ])
    .await;
    server.set_tokenizer(Some(Tokenize::LlamaCpp));
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 32768), &server).await;
    chat(&mut h, "Hi, I'm Priya.").await;
    let events = chat(&mut h, "I like green tea, remember that.").await;
    shutdown(h).await;

    let b = last_budget(&events);
    assert_eq!(b.encoding, "llama.cpp tokenizer");
    assert!(!b.approximate, "every section was counted by the server");
    let agent = open_agent(&path, 32768);
    let overhead = memscope::tokens::MESSAGE_OVERHEAD;
    let expected: u32 = agent
        .fifo()
        .iter()
        .map(|m| scripted_tokens(&m.token_text()) + overhead)
        .sum();
    assert_eq!(b.messages, expected);
    assert_eq!(b.core_memory, scripted_tokens(&agent.state.core.render()));
    // Each message was sent to the tokenizer once, however many steps it stayed in context.
    let sent = server.tokenized();
    for m in agent.fifo() {
        let text = m.token_text();
        let times = sent.iter().filter(|t| **t == text).count();
        // (Two messages can read the same, such as two "sent" results in one second.)
        let twins = agent
            .fifo()
            .iter()
            .filter(|o| o.token_text() == text)
            .count();
        assert_eq!(times, twins, "message {} was tokenized {times} times", m.id);
    }
}

/// Long user messages that tiktoken counts at about a fifth of what the scripted tokenizer
/// (one token a byte) does.
async fn pressure_run(server_tokenizer: bool) -> (Vec<memscope::engine::EventKind>, u32) {
    let server = Server::start((0..12).map(|i| say(&format!("Reply {i}."))).collect()).await;
    server.set_tokenizer(Some(Tokenize::LlamaCpp));
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 14000);
    agent.settings.server_tokenizer = server_tokenizer;
    let flush_at = agent.settings.flush_at();
    let mut h = start(agent, &server).await;
    let mut all = Vec::new();
    for turn in 0..5 {
        let text = format!(
            "Turn {turn}: {}",
            "the tide comes in and the tide goes out. ".repeat(25)
        );
        all.extend(chat(&mut h, &text).await);
    }
    shutdown(h).await;
    (all, flush_at)
}

#[tokio::test]
async fn memory_pressure_follows_the_servers_tokenizer() {
    let summarised = |events: &[memscope::engine::EventKind]| {
        events
            .iter()
            .any(|e| matches!(e, memscope::engine::EventKind::Summary { .. }))
    };
    let (events, flush_at) = pressure_run(true).await;
    assert!(
        summarised(&events),
        "the server's counts fill the window, so the oldest messages were evicted"
    );
    let b = last_budget(&events);
    assert!(
        b.total <= flush_at,
        "{} > {flush_at} after the flush",
        b.total
    );
    // With local counting alone the same conversation looks small, and nothing is evicted.
    let (events, _) = pressure_run(false).await;
    assert!(!summarised(&events));
    assert_eq!(last_budget(&events).encoding, "cl100k_base");
}

/// An engine on a fresh store whose server answers `reply` and offers `tokenize`, once it has
/// found the tokenizer (it looks right after `ready`).
async fn counting_engine(
    tokenize: Tokenize,
    reply: &str,
) -> (Server, tempfile::TempDir, memscope::engine::EngineHandle) {
    let server = Server::start(vec![say(reply)]).await;
    server.set_tokenizer(Some(tokenize));
    let (dir, path) = temp_store();
    let mut h = start(open_agent(&path, 32768), &server).await;
    until(&mut h.events, |k| {
        matches!(k, memscope::engine::EventKind::Budget(b) if b.encoding.ends_with("tokenizer"))
    })
    .await;
    (server, dir, h)
}

#[tokio::test]
async fn a_busy_tokenizer_is_asked_again_and_the_counts_end_exact() {
    let (server, _d, mut h) = counting_engine(Tokenize::LlamaCpp, "Here.").await;
    server.fail_tokenize(1);
    let events = chat(&mut h, "Are you there?").await;
    shutdown(h).await;
    assert!(!warnings(&events).contains(&"tokenizer".to_string()));
    let b = last_budget(&events);
    // The text whose count failed was asked again: nothing is left on its estimate.
    assert_eq!(
        (b.encoding.as_str(), b.approximate),
        ("llama.cpp tokenizer", false)
    );
}

#[tokio::test]
async fn a_tokenizer_that_stops_answering_falls_back_to_local_counts() {
    let (server, _d, mut h) = counting_engine(Tokenize::Vllm, "Still here.").await;
    server.set_tokenizer(None);
    let events = chat(&mut h, "Are you there?").await;
    shutdown(h).await;
    assert!(warnings(&events).contains(&"tokenizer".to_string()));
    assert_eq!(said(&events), vec!["Still here.".to_string()]);
    let b = last_budget(&events);
    assert_eq!((b.encoding.as_str(), b.approximate), ("cl100k_base", true));
}

#[tokio::test]
async fn a_server_that_counts_fewer_tokens_than_the_schemas_weigh_gets_a_hint_once() {
    let hints = |events: &[memscope::engine::EventKind]| {
        warnings(events)
            .iter()
            .filter(|k| *k == "tools_not_in_prompt")
            .count()
    };
    // The scripted replies report 321 prompt tokens, far below what the scripted tokenizer
    // counts for the function schemas alone.
    let server = Server::start(vec![say("One."), say("Two.")]).await;
    server.set_tokenizer(Some(Tokenize::LlamaCpp));
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 65536), &server).await;
    let first = chat(&mut h, "Hello").await;
    let second = chat(&mut h, "Hello again").await;
    shutdown(h).await;
    assert_eq!((hints(&first), hints(&second)), (1, 0));
    // A server whose count covers the whole prompt gets no hint.
    let mut full = completion(
        serde_json::json!({"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "send_message", "arguments": "{\"message\": \"Three.\"}"}}
        ]}),
    );
    full["usage"]["prompt_tokens"] = serde_json::json!(1_000_000);
    let server = Server::start(vec![Reply::Ok(full)]).await;
    server.set_tokenizer(Some(Tokenize::LlamaCpp));
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 65536), &server).await;
    let events = chat(&mut h, "Hello").await;
    shutdown(h).await;
    assert_eq!(said(&events), vec!["Three.".to_string()]);
    assert_eq!(hints(&events), 0);
}

#[tokio::test]
async fn a_window_taken_from_the_model_table_follows_the_model_the_server_names() {
    let server = Server::start(vec![]).await;
    server.set_models(serde_json::json!({"object": "list", "data": [{"id": "smollm2"}]}));
    let (_d, path) = temp_store();
    let mut agent = open_agent(&path, 8192);
    // What the settings hold when no model was named: the default model and its table window.
    agent.settings.model = "gpt-4o-mini".into();
    (agent.settings.context_window, agent.settings.window_source) =
        memscope::engine::settings::table_window("gpt-4o-mini");
    assert_eq!(agent.settings.context_window, 128_000);
    let mut h = memscope::engine::spawn_with(agent, Some(client(&server)), true);
    let ev = until(&mut h.events, |k| {
        matches!(k, memscope::engine::EventKind::Budget(_))
    })
    .await;
    shutdown(h).await;
    let b = last_budget(&ev);
    assert_eq!(
        (b.context_window, b.window_source.as_str()),
        (8192, "default"),
        "gpt-4o-mini's 128k window must not stick to smollm2"
    );
}
