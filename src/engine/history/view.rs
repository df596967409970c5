//! Past model calls as faces show them: a row per call, and one call in detail.
//!
//! Contract: these read the store only (faces call them on a blocking thread with the shared
//! store; no agent is needed, no endpoint either). [`rows`] reads one page of traces, newest
//! first, so a long history opens at once. [`detail`] rebuilds the request exactly as it was
//! sent ([`StepDetail::request`], byte for byte for a step call), cuts it into the sections the
//! model read (instructions, each core block, the metadata, the summary, each message, the
//! tools) with their local token counts, reads the reply, and the memory the call's commit
//! left. The splitting is pure ([`sections`]) and only ever labels text: the bytes are never
//! rebuilt from it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::engine::prompt::CORE_HEADING;
use crate::engine::request::request_bytes;
use crate::memory::{RequestRecord, StepTrace, TraceResult, snapshot};
use crate::store::{Store, StoreError};
use crate::tokens::{CacheStat, MESSAGE_OVERHEAD, TokenCounter};

/// One model call in the steps list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    /// The trace's key (summary calls have traces too).
    pub key: u64,
    /// The step number, as the events' `step` field.
    pub step: u64,
    /// `step`, or `summary` for a flush's summary call.
    pub kind: &'static str,
    pub started_at: DateTime<Utc>,
    pub trigger: String,
    /// The function the reply called, and how it went.
    pub function: Option<String>,
    pub status: Option<String>,
    /// The prompt by the local count, and by the server's `usage`.
    pub prompt_tokens: Option<u32>,
    pub server_prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// The prefix shared with the call before (local count), and what the server said it
    /// took from its cache.
    pub shared_tokens: Option<u32>,
    pub server_cached: Option<u32>,
    pub model_ms: f64,
    /// A snapshot of the state after it was kept: a fork or rewind can go back to it.
    pub forkable: bool,
}

impl StepRow {
    pub fn of(key: u64, t: &StepTrace) -> StepRow {
        let first = t.results.first();
        let function = first.map(|r| r.name.clone()).or_else(|| {
            reply_of(&t.response)
                .tool_calls
                .first()
                .map(|c| c.name.clone())
        });
        StepRow {
            key,
            step: t.step,
            kind: match t.request {
                RequestRecord::Step { .. } => "step",
                RequestRecord::Raw { .. } => "summary",
            },
            started_at: t.started_at,
            trigger: t.trigger.clone(),
            function,
            status: first.map(|r| r.status.clone()),
            prompt_tokens: t.cache.as_ref().map(|c| c.prompt_tokens),
            server_prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            shared_tokens: t.cache.as_ref().map(|c| c.shared_tokens),
            server_cached: t.cache.as_ref().and_then(|c| c.server_cached),
            model_ms: t.model_ms,
            forkable: t.after.is_some() && matches!(t.request, RequestRecord::Step { .. }),
        }
    }
}

/// Up to `n` model calls with keys below `before` (the newest when none), newest first.
pub fn rows(
    store: &Store,
    agent: &str,
    before: Option<u64>,
    n: usize,
) -> Result<Vec<StepRow>, StoreError> {
    Ok(store
        .trace_page(agent, before, n)?
        .iter()
        .map(|(k, t)| StepRow::of(*k, t))
        .collect())
}

/// What a section of a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Tools,
    Instructions,
    Core,
    Metadata,
    Summary,
    Message,
    /// A system message that does not have the usual shape (shown whole).
    System,
}

/// One section of a request as the model read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub part: Part,
    /// `tools`, `instructions`, `core <human>`, `memory metadata`, `summary`, `user #12`...
    pub label: String,
    /// Core blocks: the block's label. Messages: the role.
    pub name: Option<String>,
    /// Messages: the id in recall.
    pub id: Option<u64>,
    /// The section's text as sent (a core block: its value only).
    pub text: String,
    /// Local count (with a message's overhead).
    pub tokens: u32,
}

/// A tool call in a reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplyCall {
    pub name: String,
    pub arguments: String,
}

/// The reply of a call, read from the response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reply {
    /// The text of the reply (inner thoughts, in MemGPT's terms).
    pub text: Option<String>,
    pub tool_calls: Vec<ReplyCall>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
}

/// Memory as the call's commit left it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryAfter {
    pub core: Vec<(String, String)>,
    pub queue: usize,
    pub recall: u64,
    pub archival: u64,
    pub summary: Option<String>,
}

/// Local tokens of a request by section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub tools: u32,
    pub instructions: u32,
    pub core: u32,
    pub metadata: u32,
    pub summary: u32,
    pub messages: u32,
    pub total: u32,
}

impl Totals {
    pub fn of(sections: &[Section]) -> Totals {
        let mut t = Totals::default();
        for s in sections {
            let slot = match s.part {
                Part::Tools => &mut t.tools,
                Part::Instructions | Part::System => &mut t.instructions,
                Part::Core => &mut t.core,
                Part::Metadata => &mut t.metadata,
                Part::Summary => &mut t.summary,
                Part::Message => &mut t.messages,
            };
            *slot += s.tokens;
            t.total += s.tokens;
        }
        t
    }
}

/// One model call in full.
#[derive(Debug, Clone, Serialize)]
pub struct StepDetail {
    #[serde(flatten)]
    pub row: StepRow,
    /// The request body exactly as sent.
    #[serde(serialize_with = "raw_json")]
    pub request: Vec<u8>,
    pub sections: Vec<Section>,
    pub budget: Totals,
    pub response: Value,
    pub reply: Reply,
    pub results: Vec<TraceResult>,
    pub cache: Option<CacheStat>,
    pub memory: Option<MemoryAfter>,
}

/// Writes bytes that are JSON as they are (key order kept), never re-encoded.
fn raw_json<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let text = std::str::from_utf8(bytes).map_err(serde::ser::Error::custom)?;
    let raw = serde_json::value::RawValue::from_string(text.to_string())
        .map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

/// The call stored under `key`, in full (none when there is no such trace).
pub fn detail(store: &Store, agent: &str, key: u64) -> Result<Option<StepDetail>, StoreError> {
    let Some(t) = store.trace_at(agent, key)? else {
        return Ok(None);
    };
    let request = request_bytes(store, agent, &t.request)?;
    let body: Value = serde_json::from_slice(&request).unwrap_or(Value::Null);
    let (model, ids) = match &t.request {
        RequestRecord::Step {
            model, message_ids, ..
        } => (model.as_str(), message_ids.as_slice()),
        RequestRecord::Raw { body } => (body["model"].as_str().unwrap_or(""), &[][..]),
    };
    let counter = TokenCounter::for_model(model);
    let sections = sections(&body, ids, &|s| counter.count(s));
    let memory = match &t.after {
        Some(a) => snapshot::expand(a, |id| store.text(agent, id))
            .ok()
            .map(|s| MemoryAfter {
                core: s
                    .core
                    .blocks
                    .iter()
                    .map(|b| (b.label.clone(), b.value.clone()))
                    .collect(),
                queue: s.fifo.len(),
                recall: s.recall_count,
                archival: s.archival_count,
                summary: s.summary.map(|s| s.text),
            }),
        None => None,
    };
    Ok(Some(StepDetail {
        row: StepRow::of(key, &t),
        budget: Totals::of(&sections),
        sections,
        request,
        reply: reply_of(&t.response),
        response: t.response,
        results: t.results,
        cache: t.cache,
        memory,
    }))
}

/// Step `step`'s call in full.
pub fn step_detail(
    store: &Store,
    agent: &str,
    step: u64,
) -> Result<Option<StepDetail>, StoreError> {
    match store.step_trace(agent, step)? {
        Some((key, _)) => detail(store, agent, key),
        None => Ok(None),
    }
}

/// The reply in a chat-completions response body.
pub fn reply_of(response: &Value) -> Reply {
    let choice = &response["choices"][0];
    let m = &choice["message"];
    Reply {
        text: m["content"].as_str().map(str::to_string),
        tool_calls: m["tool_calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| ReplyCall {
                        name: c["function"]["name"].as_str().unwrap_or("").to_string(),
                        arguments: match &c["function"]["arguments"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default(),
        finish_reason: choice["finish_reason"].as_str().map(str::to_string),
        usage: response.get("usage").cloned(),
    }
}

/// A request body cut into the sections the model read. `ids` are the queue's message ids,
/// in order (a step call's); `count` counts a text's tokens.
pub fn sections(body: &Value, ids: &[u64], count: &dyn Fn(&str) -> u32) -> Vec<Section> {
    let mut out = Vec::new();
    let section = |part, label: String, name, id, text: String, extra| Section {
        part,
        tokens: count(&text) + extra,
        label,
        name,
        id,
        text,
    };
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut rest = messages;
    if let Some((first, tail)) = messages.split_first()
        && first["role"] == "system"
    {
        let text = first["content"].as_str().unwrap_or("");
        out.extend(
            split_system(text)
                .into_iter()
                .map(|(part, label, name, text)| section(part, label, name, None, text, 0)),
        );
        rest = tail;
    }
    // The summary alert comes before the queue when there is one: one message more than ids.
    if rest.len() == ids.len() + 1 {
        let text = message_text(&rest[0]);
        out.push(section(
            Part::Summary,
            "summary".into(),
            None,
            None,
            text,
            MESSAGE_OVERHEAD,
        ));
        rest = &rest[1..];
    }
    let ids = (rest.len() == ids.len()).then_some(ids);
    for (i, m) in rest.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("?").to_string();
        let id = ids.map(|ids| ids[i]);
        let label = match id {
            Some(id) => format!("{role} #{id}"),
            None => role.clone(),
        };
        out.push(section(
            Part::Message,
            label,
            Some(role),
            id,
            message_text(m),
            MESSAGE_OVERHEAD,
        ));
    }
    if let Some(tools) = body.get("tools").filter(|t| !t.is_null()) {
        out.push(section(
            Part::Tools,
            "tools".into(),
            None,
            None,
            tools.to_string(),
            0,
        ));
    }
    out
}

/// A message's content and tool calls as readable text.
fn message_text(m: &Value) -> String {
    let mut s = m["content"].as_str().unwrap_or("").to_string();
    for c in m["tool_calls"].as_array().into_iter().flatten() {
        if !s.is_empty() {
            s.push('\n');
        }
        let args = match &c["function"]["arguments"] {
            Value::String(a) => a.clone(),
            other => other.to_string(),
        };
        s.push_str(&format!(
            "→ {}({args})",
            c["function"]["name"].as_str().unwrap_or("?")
        ));
    }
    s
}

type Piece = (Part, String, Option<String>, String);

/// The system message cut into instructions, core blocks and metadata; whole when it does not
/// have that shape.
fn split_system(text: &str) -> Vec<Piece> {
    let whole = || vec![(Part::System, "system".into(), None, text.to_string())];
    let Some(core_at) = text.find(CORE_HEADING) else {
        return whole();
    };
    let Some(meta_at) = text.rfind("\n### Memory metadata") else {
        return whole();
    };
    let body_start = core_at + CORE_HEADING.len();
    if meta_at < body_start {
        return whole();
    }
    let mut out: Vec<Piece> = vec![(
        Part::Instructions,
        "instructions".into(),
        None,
        text[..body_start].to_string(),
    )];
    let mut rest = &text[body_start..meta_at];
    while let Some(open) = rest.strip_prefix('<') {
        let Some(end) = open.find(['>', ' ']) else {
            return whole();
        };
        let label = &open[..end];
        let Some(nl) = open.find('\n') else {
            return whole();
        };
        let close = format!("\n</{label}>\n");
        let value_and_after = &open[nl + 1..];
        let Some(c) = value_and_after.find(&close) else {
            return whole();
        };
        out.push((
            Part::Core,
            format!("core <{label}>"),
            Some(label.to_string()),
            value_and_after[..c].to_string(),
        ));
        rest = &value_and_after[c + close.len()..];
    }
    if !rest.is_empty() {
        return whole();
    }
    out.push((
        Part::Metadata,
        "memory metadata".into(),
        None,
        text[meta_at + 1..].to_string(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{CompiledSystem, CoreMemory, ToolMode};

    #[test]
    fn a_system_message_splits_into_its_sections_and_back() {
        let mut core = CoreMemory::with_defaults("I am a </persona> helper", "Name: Ada");
        core.blocks[1].read_only = true;
        let compiled = CompiledSystem {
            core,
            metadata: "### Memory metadata (as of now)\n- x\n".into(),
            compiled_at: Utc::now(),
            reason: "test".into(),
        };
        let text = crate::engine::prompt::system_prompt(ToolMode::Native, None, &compiled);
        let parts = split_system(&text);
        let labels: Vec<&str> = parts.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "instructions",
                "core <persona>",
                "core <human>",
                "memory metadata"
            ]
        );
        assert_eq!(parts[1].3, "I am a </persona> helper");
        assert_eq!(parts[2].3, "Name: Ada");
        // A system message of another shape is one section, never a guess.
        let odd = split_system("You are a helpful assistant.");
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].0, Part::System);
    }

    #[test]
    fn queue_messages_take_their_ids_and_the_summary_its_own_section() {
        let body = serde_json::json!({
            "messages": [
                {"role": "system", "content": "plain"},
                {"role": "user", "content": "summary alert"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "thinking",
                 "tool_calls": [{"function": {"name": "send_message", "arguments": "{\"message\":\"yo\"}"}}]},
            ],
            "tools": [{"type": "function"}],
        });
        let s = sections(&body, &[7, 8], &|t| t.len() as u32);
        let labels: Vec<&str> = s.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(
            labels,
            ["system", "summary", "user #7", "assistant #8", "tools"]
        );
        assert!(s[3].text.contains("→ send_message("), "{}", s[3].text);
        assert_eq!(
            Totals::of(&s).total,
            s.iter().map(|x| x.tokens).sum::<u32>()
        );
    }
}
