//! Reading an Agent File, in the current schema or the legacy one.

use std::collections::HashMap;

use serde_json::Value;

use super::EXTENSION;
use super::messages::{Meta, from_letta, time_of};
use crate::memory::{Block, Passage, Summary};
use crate::transfer::Imported;

/// The agents an Agent File holds (`text`, the file's whole content).
pub fn parse(text: &str) -> Result<Vec<Imported>, String> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|e| format!("the file is not JSON: {e}"))?;
    // Some tools write the document as one JSON string holding it.
    for _ in 0..3 {
        let Value::String(inner) = &doc else { break };
        doc = serde_json::from_str(inner).map_err(|e| {
            format!("the file is a JSON string, and what it holds is not JSON: {e}")
        })?;
    }
    let Value::Object(root) = &doc else {
        return Err("the file holds no JSON object".into());
    };
    if let Some(agents) = root.get("agents") {
        let agents = agents.as_array().ok_or("\"agents\" is not a list")?;
        if agents.is_empty() {
            return Err("\"agents\" is empty: the file holds no agent".into());
        }
        agents
            .iter()
            .enumerate()
            .map(|(i, a)| current(&doc, a, &format!("agents[{i}]")))
            .collect()
    } else if root.contains_key("core_memory") {
        Ok(vec![legacy(&doc)?])
    } else {
        Err(
            "neither an Agent File (it has no \"agents\" list) nor a legacy one (it has no \
             \"core_memory\")"
                .into(),
        )
    }
}

fn list<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{at}.{key} is not a list")),
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn block(v: &Value, at: &str) -> Result<Block, String> {
    let label = str_field(v, "label").ok_or(format!("{at}: the block has no \"label\""))?;
    let value = match v.get("value") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(format!("{at}.value is not text")),
    };
    let limit = match v.get("limit") {
        None | Some(Value::Null) => crate::memory::core::DEFAULT_LIMIT.max(value.chars().count()),
        Some(l) => l
            .as_u64()
            .ok_or(format!("{at}.limit is not a whole number"))? as usize,
    };
    Ok(Block {
        label: label.to_string(),
        value,
        limit,
        description: str_field(v, "description").map(str::to_string),
        read_only: v.get("read_only").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The names of the tools memscope does not run, among `names`.
fn unsupported(names: impl IntoIterator<Item = String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| crate::functions::spec::find(n).is_none())
        .collect()
}

fn instructions(system: Option<&str>) -> Option<String> {
    let s = system?.trim_end();
    (!s.trim().is_empty() && s != crate::engine::prompt::BASE_INSTRUCTIONS.trim_end())
        .then(|| s.to_string())
}

fn current(doc: &Value, a: &Value, at: &str) -> Result<Imported, String> {
    let name = str_field(a, "name").ok_or(format!("{at}: the agent has no \"name\""))?;
    let by_id = |key: &str| -> HashMap<&str, (usize, &Value)> {
        list(doc, key, "")
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((str_field(v, "id")?, (i, v))))
            .collect()
    };
    list(doc, "blocks", "")?;
    list(doc, "tools", "")?;
    let blocks_by_id = by_id("blocks");
    let tools_by_id = by_id("tools");
    let mut blocks = Vec::new();
    for (i, id) in list(a, "block_ids", at)?.iter().enumerate() {
        let id = id
            .as_str()
            .ok_or(format!("{at}.block_ids[{i}] is not text"))?;
        let (bi, b) = blocks_by_id.get(id).ok_or(format!(
            "{at}.block_ids[{i}]: there is no block {id:?} in \"blocks\""
        ))?;
        blocks.push(block(b, &format!("blocks[{bi}]"))?);
    }
    let mut tool_names = Vec::new();
    for (i, id) in list(a, "tool_ids", at)?.iter().enumerate() {
        let id = id
            .as_str()
            .ok_or(format!("{at}.tool_ids[{i}] is not text"))?;
        let (ti, t) = tools_by_id.get(id).ok_or(format!(
            "{at}.tool_ids[{i}]: there is no tool {id:?} in \"tools\""
        ))?;
        let n = str_field(t, "name")
            .or_else(|| t.get("json_schema").and_then(|s| str_field(s, "name")))
            .ok_or(format!("tools[{ti}]: the tool has no \"name\""))?;
        tool_names.push(n.to_string());
    }
    let agent_id = str_field(a, "id").unwrap_or_default();
    let ext = doc
        .get(EXTENSION)
        .and_then(|e| e.get("agents"))
        .and_then(|e| e.get(agent_id));
    let synthetic: Vec<&str> = ext
        .map(|e| list(e, "synthetic_messages", "memscope").unwrap_or_default())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let meta: HashMap<String, Meta> = ext
        .and_then(|e| e.get("messages"))
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default();
    let mut out = Imported {
        name: name.to_string(),
        instructions: instructions(str_field(a, "system")),
        window: window_of(a),
        blocks,
        unsupported_tools: unsupported(tool_names),
        ..Imported::default()
    };
    let mut ids: HashMap<&str, u64> = HashMap::new();
    for (i, m) in list(a, "messages", at)?.iter().enumerate() {
        let here = format!("{at}.messages[{i}]");
        let file_id = str_field(m, "id").ok_or(format!("{here}: the message has no \"id\""))?;
        if synthetic.contains(&file_id) {
            continue;
        }
        let meta = meta.get(file_id);
        let id = meta
            .and_then(|_| ext?.get("messages")?.get(file_id)?.get("id")?.as_u64())
            .unwrap_or(out.messages.len() as u64 + 1);
        if ids.insert(file_id, id).is_some() {
            return Err(format!("{here}: a second message with the id {file_id:?}"));
        }
        out.messages.push(from_letta(m, &here, id, meta)?);
    }
    for (i, id) in list(a, "in_context_message_ids", at)?.iter().enumerate() {
        let id = id
            .as_str()
            .ok_or(format!("{at}.in_context_message_ids[{i}] is not text"))?;
        if synthetic.contains(&id) {
            continue;
        }
        let mine = ids.get(id).ok_or(format!(
            "{at}.in_context_message_ids[{i}]: there is no message {id:?} in {at}.messages"
        ))?;
        out.in_context.push(*mine);
    }
    if let Some(e) = ext {
        out.passages = serde_json::from_value::<Vec<Passage>>(e["passages"].clone())
            .map_err(|err| format!("memscope.agents.{agent_id}.passages: {err}"))?;
        out.summary = serde_json::from_value::<Option<Summary>>(e["summary"].clone())
            .map_err(|err| format!("memscope.agents.{agent_id}.summary: {err}"))?;
    }
    if !list(doc, "sources", "")?.is_empty() || !list(doc, "files", "")?.is_empty() {
        out.notes.push(
            "the file's sources and files (Letta's data sources) were not imported; load the \
             documents with `memscope load`"
                .into(),
        );
    }
    Ok(out)
}

/// The context window an agent's `llm_config` states, when it is a plausible one.
fn window_of(agent: &Value) -> Option<u32> {
    agent
        .get("llm_config")?
        .get("context_window")?
        .as_u64()
        .filter(|n| (512..=10_000_000).contains(n))
        .map(|n| n as u32)
}

fn legacy(doc: &Value) -> Result<Imported, String> {
    let name = str_field(doc, "name").ok_or("the agent has no \"name\"")?;
    let mut blocks = Vec::new();
    for (i, b) in list(doc, "core_memory", "")?.iter().enumerate() {
        blocks.push(block(b, &format!("core_memory[{i}]"))?);
    }
    let tools = list(doc, "tools", "")?
        .iter()
        .filter_map(|t| {
            str_field(t, "name")
                .or_else(|| t.get("json_schema").and_then(|s| str_field(s, "name")))
                .map(str::to_string)
        })
        .collect::<Vec<_>>();
    let mut out = Imported {
        name: name.to_string(),
        instructions: instructions(str_field(doc, "system")),
        window: window_of(doc),
        blocks,
        unsupported_tools: unsupported(tools),
        ..Imported::default()
    };
    let messages = list(doc, "messages", "")?;
    for (i, m) in messages.iter().enumerate() {
        out.messages.push(from_letta(
            m,
            &format!("messages[{i}]"),
            i as u64 + 1,
            None,
        )?);
    }
    for (i, idx) in list(doc, "in_context_message_indices", "")?
        .iter()
        .enumerate()
    {
        let n = idx.as_u64().ok_or(format!(
            "in_context_message_indices[{i}] is not a whole number"
        ))?;
        if n as usize >= messages.len() {
            return Err(format!(
                "in_context_message_indices[{i}] is {n}, past the {} messages",
                messages.len()
            ));
        }
        out.in_context.push(n + 1);
    }
    let secrets = list(doc, "tool_exec_environment_variables", "")?.len();
    if secrets > 0 {
        out.notes.push(format!(
            "{secrets} tool environment variable(s) were not imported (they may hold secrets)"
        ));
    }
    let _ = time_of;
    Ok(out)
}
