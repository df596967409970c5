//! An agent's state as one step's commit left it, stored with that step's trace.
//!
//! Contract: [`compact`] turns an [`AgentState`] into a small JSON object: the fields that
//! change at nearly every step (the queue's ids, the counters) inline, and all the others (core
//! memory, the compiled system message, the summary, the policy...) as one text named
//! `{"$t": fingerprint}` and handed back to store once (see `store::texts`). Those change only
//! now and then, so consecutive steps share the text and a snapshot costs little more than its
//! queue ids and counters. [`expand`] rebuilds the state exactly. The last prompt's sections are left out (they only serve the cache meter, and a
//! state restored from a snapshot starts its cache comparison afresh).

use serde_json::{Map, Value};

use super::AgentState;
use super::state::text_id;

/// The fields kept inline: they change at nearly every step.
const VOLATILE: [&str; 9] = [
    "fifo",
    "next_message_id",
    "next_passage_id",
    "next_trace_id",
    "recall_count",
    "archival_count",
    "step",
    "warned",
    "commits",
];

/// A snapshot of `state`, and the text it names.
pub fn compact(state: &AgentState) -> (Value, (u64, String)) {
    let mut state = state.clone();
    state.last_prompt = None;
    let Value::Object(fields) = serde_json::to_value(&state).expect("states serialize") else {
        unreachable!("a state is an object")
    };
    let mut out = Map::new();
    let mut rest = Map::new();
    for (k, v) in fields {
        if VOLATILE.contains(&k.as_str()) {
            out.insert(k, v);
        } else if !v.is_null() {
            rest.insert(k, v);
        }
    }
    let text = Value::Object(rest).to_string();
    let id = text_id(&text);
    out.insert("$t".into(), id.into());
    (Value::Object(out), (id, text))
}

/// The state a snapshot holds; `text` fetches the shared text by fingerprint.
pub fn expand<E: std::fmt::Display>(
    snapshot: &Value,
    text: impl FnOnce(u64) -> Result<Option<String>, E>,
) -> Result<AgentState, String> {
    let Value::Object(fields) = snapshot else {
        return Err("a snapshot is not an object".into());
    };
    let id = fields
        .get("$t")
        .and_then(Value::as_u64)
        .ok_or("a snapshot names no text")?;
    let s = text(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the snapshot's text {id} is missing"))?;
    let Value::Object(mut out) = serde_json::from_str(&s).map_err(|e| e.to_string())? else {
        return Err(format!("the snapshot's text {id} is not an object"));
    };
    for (k, v) in fields {
        if k != "$t" {
            out.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::CoreMemory;
    use std::collections::HashMap;

    #[test]
    fn a_snapshot_rebuilds_the_state_and_shares_its_long_fields() {
        let mut s = AgentState::new("a", CoreMemory::with_defaults("persona text", "human"));
        s.fifo = (10..60).collect();
        s.step = 7;
        let (snap, text) = compact(&s);
        assert!(snap.get("core").is_none(), "{snap}");
        assert_eq!(snap["step"], 7);
        let store: HashMap<u64, String> = [text].into_iter().collect();
        let back = expand(&snap, |id| Ok::<_, String>(store.get(&id).cloned())).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&s).unwrap()
        );
        // The same core in the next step is the same text.
        s.step = 8;
        let (_, again) = compact(&s);
        assert_eq!(Some(again.0), snap["$t"].as_u64());
        // A core edit is a new text.
        s.core = CoreMemory::with_defaults("another persona", "human");
        assert_ne!(Some(compact(&s).1.0), snap["$t"].as_u64());
        // A missing text is an error, never a default.
        assert!(expand(&snap, |_| Ok::<_, String>(None)).is_err());
    }
}
