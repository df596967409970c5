//! What real small models produced (recorded from llama-cpp-python serving SmolLM2-135M and
//! Gemma 3 270M, see tests/fixtures/real/), replayed through the scripted server: each repair,
//! JSON mode, calls in text, and both no-tool policies.

mod common;

use common::*;
use memscope::engine::{EventKind, Status};
use memscope::memory::{NoToolReply, ToolMode};
use serde_json::{Value, json};

fn fixture(name: &str, key: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/real/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v[key].clone()
}

fn repairs(ev: &[EventKind]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e {
            EventKind::FunctionCall { repairs, .. } => Some(repairs.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

async fn agent_with(
    server: &Server,
    mode: ToolMode,
    no_tool: NoToolReply,
) -> (tempfile::TempDir, memscope::engine::EngineHandle) {
    let (d, path) = temp_store();
    let mut agent = open_agent(&path, 4096);
    agent.state.policy.tool_mode = mode;
    agent.state.policy.no_tool_reply = no_tool;
    agent.settings.json_format = memscope::functions::json_mode::JsonFormat::JsonObject;
    let h = start(agent, server).await;
    (d, h)
}

#[tokio::test]
async fn gemma_json_mode_reply_with_a_raw_newline_is_repaired_then_fails_cleanly_on_its_params() {
    let server = Server::start(vec![
        Reply::Ok(fixture("gemma_json", "json_object_schema")),
        say("ok"),
    ])
    .await;
    let (_d, mut h) = agent_with(&server, ToolMode::Json, NoToolReply::Thought).await;
    let ev = chat(&mut h, "Hi, I'm Priya").await;
    let r = repairs(&ev);
    assert!(
        r.iter().any(|x| x == "read from the JSON-mode reply"),
        "{r:?}"
    );
    assert!(
        r.iter().any(|x| x.contains("raw control characters")),
        "{r:?}"
    );
    let ret = returns(&ev);
    assert_eq!(ret[0].1, Status::Failed);
    assert!(ret[0].2.contains("inner_thoughts"), "{}", ret[0].2);
    assert!(ev.iter().any(|e| matches!(e, EventKind::Heartbeat { .. })));
    // The thought is the model's inner_thoughts, not the JSON.
    assert!(ev.iter().any(
        |e| matches!(e, EventKind::Thought { text } if text.starts_with("This is the first time"))
    ));
    // JSON mode sends no tools, constrains the reply and describes the functions in the prompt.
    let req = &server.step_requests_any()[0];
    assert!(req.get("tools").is_none() && req.get("tool_choice").is_none());
    assert_eq!(req["response_format"]["type"], "json_object");
    // One branch per function, each requiring that function's parameters with their types.
    let branches = req["response_format"]["schema"]["anyOf"]
        .as_array()
        .unwrap();
    assert_eq!(branches.len(), memscope::functions::spec::FUNCTIONS.len());
    let send = branches
        .iter()
        .find(|b| b["properties"]["function"]["const"] == "send_message")
        .unwrap();
    assert_eq!(send["properties"]["params"]["required"], json!(["message"]));
    assert_eq!(
        send["properties"]["params"]["properties"]["message"]["type"],
        "string"
    );
    assert!(
        req["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("### How to reply")
    );
    // The failed result went back as a user-role function_result event.
    let second = &server.step_requests_any()[1];
    let last_user = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["content"].as_str().unwrap().contains("function_result"))
        .unwrap();
    assert_eq!(last_user["role"], "user");
    let ev: Value = serde_json::from_str(last_user["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        (ev["function"].as_str(), ev["status"].as_str()),
        (Some("send_message"), Some("Failed"))
    );
    shutdown(h).await;
}

#[tokio::test]
async fn smollm2_json_mode_with_nonsense_params_fails_and_says_what_it_takes() {
    let server = Server::start(vec![
        Reply::Ok(fixture("smollm2_json", "json_object_schema")),
        say("ok"),
    ])
    .await;
    let (_d, mut h) = agent_with(&server, ToolMode::Json, NoToolReply::Thought).await;
    let ev = chat(&mut h, "Hi").await;
    let ret = returns(&ev);
    assert_eq!(ret[0].1, Status::Failed);
    assert!(ret[0].2.contains("it takes: message"), "{}", ret[0].2);
    shutdown(h).await;
}

#[tokio::test]
async fn smollm2_plain_text_is_a_thought_or_a_message_by_policy() {
    let text = fixture("smollm2", "auto")["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for (policy, want_said) in [(NoToolReply::Thought, false), (NoToolReply::Message, true)] {
        let server = Server::start(vec![Reply::Ok(fixture("smollm2", "auto"))]).await;
        let (_d, mut h) = agent_with(&server, ToolMode::Native, policy).await;
        let ev = chat(&mut h, "Hi").await;
        assert_eq!(
            said(&ev) == vec![text.clone()],
            want_said,
            "{policy:?}: {ev:#?}"
        );
        assert_eq!(
            ev.iter().any(|e| matches!(e, EventKind::Thought { .. })),
            !want_said
        );
        assert!(matches!(
            ev.last(),
            Some(EventKind::ChainEnded { steps: 1 })
        ));
        shutdown(h).await;
    }
}

#[tokio::test]
async fn gemma_forced_core_edit_naming_a_person_fails_with_the_valid_blocks() {
    let server = Server::start(vec![
        Reply::Ok(fixture("gemma", "named_core_memory_append")),
        say("ok"),
    ])
    .await;
    let (_d, mut h) = agent_with(&server, ToolMode::Native, NoToolReply::Thought).await;
    let ev = chat(&mut h, "Hi").await;
    let ret = returns(&ev);
    assert_eq!(ret[0].1, Status::Failed);
    assert!(ret[0].2.contains("persona, human"), "{}", ret[0].2);
    shutdown(h).await;
}

#[tokio::test]
async fn smollm2_forced_send_message_is_delivered() {
    let fx = fixture("smollm2", "named_send_message");
    let args: Value = serde_json::from_str(
        fx["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let server = Server::start(vec![Reply::Ok(fx)]).await;
    let (_d, mut h) = agent_with(&server, ToolMode::Native, NoToolReply::Thought).await;
    let ev = chat(&mut h, "Hi").await;
    assert_eq!(
        said(&ev),
        vec![args["message"].as_str().unwrap().to_string()]
    );
    shutdown(h).await;
}

#[tokio::test]
async fn a_call_written_in_the_text_runs_and_says_how_it_was_read() {
    let server = Server::start(vec![
        Reply::Ok(text_reply("Let me save that.\n<tool_call>\n{\"name\": \"archival_memory_insert\", \"arguments\": {\"content\": \"Meera lives in Lisbon\", \"request_heartbeat\": true}}\n</tool_call>")),
        say("Saved."),
    ])
    .await;
    let (_d, mut h) = agent_with(&server, ToolMode::Native, NoToolReply::Thought).await;
    let ev = chat(&mut h, "remember Meera").await;
    assert_eq!(returns(&ev)[0].1, Status::Ok);
    assert!(repairs(&ev).iter().any(|r| r.contains("<tool_call> block")));
    assert_eq!(said(&ev), vec!["Saved."]);
    // The call and its result are in the transcript as a native call.
    let req = server.step_requests().pop().unwrap();
    assert!(
        req["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["tool_calls"][0]["function"]["name"] == "archival_memory_insert")
    );
    shutdown(h).await;
}
