//! memscope's own agent file: the whole agent, lossless (its state and every row of every
//! per-agent table: recall, archival, step traces, the journal, shared texts, deleted
//! passages, marks), so that an import gives back the same agent, history included.
//!
//! Contract: [`export`] streams the file a row at a time (memory stays flat however large the
//! agent) and returns the rows it could not read (left out, reported like `dump`'s). [`import`]
//! checks the whole document first (its format tag and version, the state, every message and
//! passage, every row's key) and names the first thing wrong by its place in the file; then it
//! writes the agent under the given name in one transaction.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Deserialize;
use serde_json::{json, value::RawValue};

use super::imported::{ImportError, ImportReport};
use crate::memory::{AgentState, Message, Passage};
use crate::store::{Rows, Store, StoreError, Unreadable, table_names};

pub const FORMAT: &str = "memscope-agent";
pub const VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("there is no agent named '{0}' in this store")]
    NoAgent(String),
}

/// Writes `agent` as memscope JSON.
pub fn export(
    store: &Store,
    agent: &str,
    out: &mut dyn Write,
) -> Result<Vec<Unreadable>, ExportError> {
    let state = store
        .load_agent(agent)?
        .ok_or_else(|| ExportError::NoAgent(agent.to_string()))?;
    let head = json!({
        "format": FORMAT,
        "version": VERSION,
        "memscope": env!("CARGO_PKG_VERSION"),
        "exported_at": chrono::Utc::now(),
        "agent": agent,
    });
    let serde_json::Value::Object(head) = head else {
        unreachable!("an object")
    };
    writeln!(out, "{{")?;
    for (k, v) in &head {
        writeln!(out, "  {}: {v},", json!(k))?;
    }
    writeln!(
        out,
        "  \"state\": {},",
        serde_json::to_string(&state).expect("states serialize")
    )?;
    writeln!(out, "  \"tables\": {{")?;
    let mut bad = Vec::new();
    let names: Vec<&'static str> = table_names().collect();
    for (ti, &table) in names.iter().enumerate() {
        write!(out, "    {}: [", json!(table))?;
        let mut first = true;
        store.agent_rows(agent, table, |id, bytes| {
            let value = if table == "texts" {
                match std::str::from_utf8(bytes) {
                    Ok(s) => Some(json!(s).to_string()),
                    Err(e) => {
                        bad.push(unreadable(table, id, e.to_string()));
                        None
                    }
                }
            } else {
                match serde_json::from_slice::<&RawValue>(bytes) {
                    Ok(v) => Some(v.get().to_string()),
                    Err(e) => {
                        bad.push(unreadable(table, id, e.to_string()));
                        None
                    }
                }
            };
            if let Some(v) = value {
                write!(out, "{}\n      [{id}, {v}]", if first { "" } else { "," })?;
                first = false;
            }
            Ok::<(), ExportError>(())
        })?;
        let end = if first { "" } else { "\n    " };
        writeln!(out, "{end}]{}", if ti + 1 < names.len() { "," } else { "" })?;
    }
    writeln!(out, "  }}\n}}")?;
    Ok(bad)
}

fn unreadable(table: &'static str, key: u64, why: String) -> Unreadable {
    Unreadable {
        agent: String::new(),
        table,
        key,
        why,
    }
}

#[derive(Deserialize)]
struct File<'a> {
    format: String,
    version: u64,
    #[serde(borrow)]
    state: &'a RawValue,
    #[serde(borrow, default)]
    tables: BTreeMap<String, Vec<(u64, &'a RawValue)>>,
}

/// Whether `doc` says it is memscope's own format.
pub fn is_native(doc: &serde_json::Value) -> bool {
    doc.get("format").and_then(|f| f.as_str()) == Some(FORMAT)
}

/// Imports a memscope JSON document (`text`) as the agent `name` (the file's own name when
/// none).
pub fn import(store: &Store, text: &str, name: Option<&str>) -> Result<ImportReport, ImportError> {
    let bad = |s: String| ImportError::Invalid(s);
    let file: File =
        serde_json::from_str(text).map_err(|e| bad(format!("not a memscope agent file: {e}")))?;
    if file.format != FORMAT {
        return Err(bad(format!(
            "\"format\" is {:?}, not {FORMAT:?}",
            file.format
        )));
    }
    if file.version > VERSION {
        return Err(bad(format!(
            "the file is version {} of the format; this memscope reads up to version {VERSION}",
            file.version
        )));
    }
    let mut state: AgentState =
        serde_json::from_str(file.state.get()).map_err(|e| bad(format!("\"state\": {e}")))?;
    let known: Vec<&str> = table_names().collect();
    let mut rows: Vec<(&str, Rows)> = Vec::new();
    let mut recall_ids = std::collections::HashSet::new();
    let mut counts = (0usize, 0usize);
    for (table, list) in &file.tables {
        let Some(t) = known.iter().copied().find(|k| k == table) else {
            return Err(bad(format!(
                "\"tables\" has {table:?}, which is not one of: {}",
                known.join(", ")
            )));
        };
        let mut out = Vec::with_capacity(list.len());
        for (i, (id, v)) in list.iter().enumerate() {
            let at = || format!("\"tables\".{table}[{i}] (key {id})");
            let bytes = match t {
                "texts" => serde_json::from_str::<String>(v.get())
                    .map_err(|e| bad(format!("{}: {e}", at())))?
                    .into_bytes(),
                "recall" => {
                    let m: Message = serde_json::from_str(v.get())
                        .map_err(|e| bad(format!("{}: not a message: {e}", at())))?;
                    if m.id != *id {
                        return Err(bad(format!(
                            "{}: the message says its id is {}",
                            at(),
                            m.id
                        )));
                    }
                    recall_ids.insert(m.id);
                    counts.0 += 1;
                    v.get().as_bytes().to_vec()
                }
                "archival" => {
                    let p: Passage = serde_json::from_str(v.get())
                        .map_err(|e| bad(format!("{}: not a passage: {e}", at())))?;
                    if p.id != *id {
                        return Err(bad(format!(
                            "{}: the passage says its id is {}",
                            at(),
                            p.id
                        )));
                    }
                    counts.1 += 1;
                    v.get().as_bytes().to_vec()
                }
                _ => v.get().as_bytes().to_vec(),
            };
            out.push((*id, bytes));
        }
        rows.push((t, out));
    }
    if let Some(id) = state.fifo.iter().find(|id| !recall_ids.contains(id)) {
        return Err(bad(format!(
            "\"state\".fifo names message {id}, which \"tables\".recall lacks"
        )));
    }
    if let Some(n) = name {
        state.name = n.to_string();
    }
    if state.name.trim().is_empty() || state.name.chars().any(char::is_control) {
        return Err(bad(format!(
            "the agent name {:?} is not printable text",
            state.name
        )));
    }
    store.import(&state, &rows)?;
    Ok(ImportReport {
        agent: state.name.clone(),
        blocks: state.core.blocks.len(),
        messages: counts.0,
        in_context: state.fifo.len(),
        passages: counts.1,
        unsupported_tools: vec![],
        notes: vec![],
    })
}
