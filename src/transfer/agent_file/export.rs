//! Writing an agent as an Agent File.

use serde_json::{Map, Value, json};

use super::messages::to_letta;
use super::{EXTENSION, tool_type};
use crate::memory::{AgentState, Message, Passage};
use crate::store::{Store, StoreError, Table};

/// What the file says about the model, beyond what the store keeps.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    pub model: Option<String>,
    pub embedding_model: Option<String>,
}

impl ModelInfo {
    /// What the configured endpoint says (nothing when none is configured).
    pub fn of(client: Option<&crate::model::ClientConfig>) -> ModelInfo {
        ModelInfo {
            model: client.map(|c| c.model.clone()).filter(|m| !m.is_empty()),
            embedding_model: client.and_then(|c| c.embedding_model.clone()),
        }
    }
}

/// The Agent File of `agent`, with the rows that could not be read left out (and counted).
pub fn export(
    store: &Store,
    agent: &str,
    model: &ModelInfo,
) -> Result<(Value, Vec<crate::store::Unreadable>), StoreError> {
    let state = store
        .load_agent(agent)?
        .ok_or_else(|| StoreError::NoAgent(agent.to_string()))?;
    let mut recall: Vec<Message> = Vec::new();
    let mut bad = store.scan(Table::Recall, agent, |_, m: Message| {
        recall.push(m);
        Ok::<(), StoreError>(())
    })?;
    let mut passages: Vec<Passage> = Vec::new();
    bad.extend(store.scan(Table::Archival, agent, |_, p: Passage| {
        passages.push(p);
        Ok::<(), StoreError>(())
    })?);
    Ok((document(&state, &recall, &passages, model), bad))
}

fn message_id(id: u64) -> String {
    format!("message-{id}")
}

/// The document for one agent (pure).
pub fn document(
    state: &AgentState,
    recall: &[Message],
    passages: &[Passage],
    model: &ModelInfo,
) -> Value {
    let agent_id = "agent-0";
    let blocks: Vec<Value> = state
        .core
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({
                "id": format!("block-{i}"), "label": b.label, "value": b.value, "limit": b.limit,
                "description": b.description, "read_only": b.read_only, "is_template": false,
                "template_name": null, "preserve_on_migration": false, "metadata": {},
            })
        })
        .collect();
    let tools: Vec<Value> = crate::functions::tools_json()
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            let f = &t["function"];
            let name = f["name"].as_str().unwrap_or_default();
            json!({
                "id": format!("tool-{i}"), "name": name, "description": f["description"],
                "tool_type": tool_type(name), "source_type": "python", "source_code": null,
                "json_schema": f, "tags": ["memscope"], "return_char_limit": 6000,
            })
        })
        .collect();
    // Letta's context starts with the system message; memscope's queue follows it, headed by
    // the summary when there is one. Both are written for Letta and marked as made for it.
    let compiled = state
        .system
        .clone()
        .unwrap_or_else(|| crate::engine::prompt::compile(state, "export"));
    let system_text = crate::engine::prompt::system_prompt(
        state.policy.tool_mode,
        state.instructions.as_deref(),
        &compiled,
    );
    let mut messages = vec![json!({
        "id": "message-system", "role": "system", "agent_id": agent_id,
        "content": [{"type": "text", "text": system_text}],
        "created_at": compiled.compiled_at, "tool_calls": null, "tool_call_id": null,
    })];
    let mut synthetic = vec!["message-system".to_string()];
    let mut in_context = vec!["message-system".to_string()];
    if let Some(s) = &state.summary {
        let text = if s.rendered.is_empty() {
            crate::engine::prompt::summary_event_text(&s.text, s.evicted_total, None, s.created_at)
        } else {
            s.rendered.clone()
        };
        messages.push(json!({
            "id": "message-summary", "role": "user", "agent_id": agent_id,
            "content": [{"type": "text", "text": text}], "created_at": s.created_at,
            "tool_calls": null, "tool_call_id": null,
        }));
        synthetic.push("message-summary".into());
        in_context.push("message-summary".into());
    }
    let mut meta = Map::new();
    for m in recall {
        let mut v = to_letta(m);
        v["id"] = json!(message_id(m.id));
        v["agent_id"] = json!(agent_id);
        messages.push(v);
        meta.insert(
            message_id(m.id),
            json!({"id": m.id, "kind": m.kind, "text": m.text, "searchable": m.searchable, "step": m.step}),
        );
    }
    in_context.extend(state.fifo.iter().map(|id| message_id(*id)));
    let llm = model.model.as_ref().map(|m| {
        json!({
            "model": m, "model_endpoint_type": "openai",
            "context_window": state.window.as_ref().map(|w| w.tokens),
        })
    });
    let embedding = model.embedding_model.as_ref().map(|m| {
        json!({
            "embedding_model": m, "embedding_endpoint_type": "openai",
            "embedding_dim": passages.iter().find_map(|p| p.embedding.as_ref().map(Vec::len)),
            "embedding_chunk_size": 300,
        })
    });
    let agent = json!({
        "id": agent_id,
        "name": state.name,
        "agent_type": "memgpt_agent",
        "system": state.instructions.clone().unwrap_or_else(|| crate::engine::prompt::BASE_INSTRUCTIONS.trim_end().to_string()),
        "description": null,
        "block_ids": (0..blocks.len()).map(|i| format!("block-{i}")).collect::<Vec<_>>(),
        "tool_ids": (0..tools.len()).map(|i| format!("tool-{i}")).collect::<Vec<_>>(),
        "source_ids": [], "tags": [], "tool_rules": [], "metadata": {},
        "include_base_tools": false, "message_buffer_autoclear": false,
        "llm_config": llm, "embedding_config": embedding,
        "messages": messages,
        "in_context_message_ids": in_context,
        "files_agents": [], "group_ids": [],
    });
    json!({
        "agents": [agent],
        "groups": [], "blocks": blocks, "files": [], "sources": [], "tools": tools,
        "mcp_servers": [],
        "metadata": {"exported_by": format!("memscope {}", env!("CARGO_PKG_VERSION"))},
        "created_at": chrono::Utc::now(),
        EXTENSION: {
            "version": 1,
            "agents": {agent_id: {
                "synthetic_messages": synthetic,
                "messages": meta,
                "passages": passages,
                "summary": state.summary,
                "instructions_are_memscope": state.instructions.is_none(),
                "policy": state.policy,
            }},
        },
    })
}
