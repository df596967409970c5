//! `dump`, `archival insert|search` and `agents list|create|delete`.

use std::io::Write;

use serde_json::{Value, json};

use crate::config::Resolved;
use crate::engine::Agent;
use crate::engine::exec::Embeds;
use crate::model::ModelClient;
use crate::session::{Failure, Outcome, open_existing, open_reader};
use crate::store::Store;
use crate::text;

fn out_err(e: std::io::Error) -> Failure {
    Failure::output(e)
}

/// The agent's whole state as one JSON document.
/// The agent's state for `dump --json`: everything but the stores, which are streamed.
fn dump_head(agent: &Agent) -> Result<Value, Failure> {
    let name = agent.name();
    let traces = agent
        .store
        .count(crate::store::Table::Traces, name)
        .map_err(Failure::runtime)?;
    Ok(json!({
        "agent": name,
        "core_memory": agent.state.core.blocks.iter().map(|b| json!({
            "label": b.label, "value": b.value, "limit": b.limit, "chars": b.chars(),
            "read_only": b.read_only, "description": b.description,
        })).collect::<Vec<_>>(),
        "context": {
            "system": agent.system_prompt(),
            "summary": agent.state.summary.as_ref().map(|s| s.text.clone()),
            "evicted": agent.state.summary.as_ref().map(|s| s.evicted_total).unwrap_or(0),
            "messages": agent.fifo().iter().map(|m| json!({
                "id": m.id, "role": m.role, "kind": m.kind, "text": m.text, "content": m.content,
                "tool_calls": m.tool_calls.iter().map(|c| json!({"id": c.id, "name": c.name, "arguments": c.arguments})).collect::<Vec<_>>(),
                "tool_call_id": m.tool_call_id, "tokens": m.tokens, "created_at": m.created_at,
            })).collect::<Vec<_>>(),
        },
        "steps": agent.state.step,
        "policy": agent.state.policy,
        "traces": traces,
        "budget": agent.budget(),
    }))
}

/// Writes `dump --json` as it reads: the agent's state, then recall and archival one record at
/// a time (memory stays flat however large the store), then the records it could not read.
fn dump_json(agent: &Agent, out: &mut dyn Write) -> Result<Vec<crate::store::Unreadable>, Failure> {
    use crate::memory::{Message, Passage};
    use crate::store::Table;
    let head = dump_head(agent)?;
    let Value::Object(head) = head else {
        unreachable!("an object")
    };
    writeln!(out, "{{").map_err(out_err)?;
    for (k, v) in &head {
        writeln!(out, "  {}: {},", json!(k), v).map_err(out_err)?;
    }
    let mut bad = Vec::new();
    let name = agent.name();
    writeln!(out, "  \"recall\": [").map_err(out_err)?;
    let mut first = true;
    bad.extend(agent.store.scan(Table::Recall, name, |_, m: Message| {
        let row = json!({
            "id": m.id, "role": m.role, "kind": m.kind, "text": m.text, "created_at": m.created_at,
        });
        write!(out, "{}    {row}", if first { "" } else { ",\n" }).map_err(out_err)?;
        first = false;
        Ok::<(), Failure>(())
    })?);
    writeln!(out, "\n  ],\n  \"archival\": [").map_err(out_err)?;
    let mut first = true;
    bad.extend(agent.store.scan(Table::Archival, name, |_, p: Passage| {
        let row = json!({
            "id": p.id, "text": p.text, "created_at": p.created_at, "source": p.source,
            "embedding_model": p.embedding_model,
            "embedding_dim": p.embedding.as_ref().map(Vec::len),
        });
        write!(out, "{}    {row}", if first { "" } else { ",\n" }).map_err(out_err)?;
        first = false;
        Ok::<(), Failure>(())
    })?);
    let unreadable: Vec<Value> = bad
        .iter()
        .map(|u| json!({"table": u.table, "key": u.key, "why": u.why}))
        .collect();
    writeln!(
        out,
        "\n  ],\n  \"unreadable\": {}\n}}",
        Value::Array(unreadable)
    )
    .map_err(out_err)?;
    Ok(bad)
}

pub fn dump(cfg: &Resolved, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = std::sync::Arc::new(open_reader(&cfg.store).map_err(Failure::start)?);
    // An agent whose own record is damaged is shown as its newest step snapshot left it.
    let damaged = match store.load_agent(&cfg.agent) {
        // A store that cannot be read at all is reported as such below, not by the rebuild.
        Err(e) => match store.rebuild_agent(&cfg.agent).ok().flatten() {
            Some(b) => Some(format!(
                "memscope: the agent's own record cannot be read ({e}); shown as {}; \
                 `memscope check --repair` rebuilds it so",
                b.note()
            )),
            // Nothing to rebuild from: the first error says what is wrong (a store that
            // failed once answers every later read with a vaguer one).
            None => return Err(Failure::runtime(e)),
        },
        Ok(_) => None,
    };
    if let Some(note) = &damaged {
        eprintln!("{note}");
    }
    let agent = open_existing(cfg, store)?;
    if json_out {
        let bad = dump_json(&agent, out)?;
        if !bad.is_empty() {
            // The rest was printed; say on stderr what was not, and run `check`.
            for b in &bad {
                eprintln!("memscope: cannot read a record: {b}");
            }
            return Err(Failure {
                code: 1,
                message: format!(
                    "memscope: {} record(s) could not be read and were left out (listed under \
                     \"unreadable\"); `memscope check --repair` moves them aside",
                    bad.len()
                ),
            });
        }
    } else {
        let b = agent.budget();
        writeln!(
            out,
            "agent {} · {} steps · context {}/{} tokens ({:.0}%)",
            agent.name(),
            agent.state.step,
            b.total,
            b.context_window,
            b.percent()
        )
        .map_err(out_err)?;
        for blk in &agent.state.core.blocks {
            writeln!(
                out,
                "\n[{}] {}/{} chars\n{}",
                blk.label,
                blk.chars(),
                blk.limit,
                text::visible(&blk.value)
            )
            .map_err(out_err)?;
        }
        writeln!(
            out,
            "\nqueue: {} messages · recall: {} · archival: {}",
            agent.fifo().len(),
            agent.state.recall_count,
            agent.state.archival_count
        )
        .map_err(out_err)?;
        for m in agent.fifo() {
            // An assistant message: its thought, then what it sent, each for what it is.
            let said = m
                .tool_calls
                .iter()
                .find(|c| c.name == "send_message")
                .and_then(|c| serde_json::from_str::<Value>(&c.arguments).ok())
                .and_then(|v| v.get("message")?.as_str().map(str::to_string));
            let shown = match said {
                Some(s) if m.thought().is_empty() => format!("said: {s}"),
                Some(s) => format!("thought: {} · said: {s}", m.thought()),
                None => m.text.clone(),
            };
            writeln!(
                out,
                "  #{} {:?}: {}",
                m.id,
                m.kind,
                text::visible(&text::one_line(&shown, 100))
            )
            .map_err(out_err)?;
        }
    }
    match damaged {
        Some(_) => Err(Failure {
            code: 1,
            message: "memscope: the agent's own record could not be read; what its snapshot and \
                      rows hold was shown"
                .into(),
        }),
        None => Ok(()),
    }
}

/// `memscope check [--repair]`: reads every record; lists the unreadable ones by agent, table
/// and key; with `--repair` moves them into the quarantine table. Exit 1 when some were found
/// and not moved.
pub fn check(cfg: &Resolved, repair: bool, out: &mut dyn Write) -> Outcome {
    let store = if repair {
        Store::open(&cfg.store)
    } else {
        open_reader(&cfg.store)
    }
    .map_err(Failure::start)?;
    let (read, bad) = store.check()?;
    for b in &bad {
        writeln!(out, "unreadable: {b}").map_err(out_err)?;
    }
    if bad.is_empty() {
        writeln!(
            out,
            "{}: all {read} records read",
            crate::store::display_name(&cfg.store)
        )
        .map_err(out_err)?;
        return Ok(());
    }
    if repair {
        let (moved, rebuilt) = store.quarantine(&bad)?;
        writeln!(
            out,
            "{}: {read} records read; moved {moved} unreadable record(s) into the quarantine table",
            crate::store::display_name(&cfg.store)
        )
        .map_err(out_err)?;
        for (agent, how) in rebuilt {
            writeln!(out, "agent '{}': {how}", text::visible(&agent)).map_err(out_err)?;
        }
        return Ok(());
    }
    Err(Failure::runtime(format!(
        "{}: {read} records read, {} unreadable; `memscope check --repair` moves them aside",
        crate::store::display_name(&cfg.store),
        bad.len()
    )))
}

pub async fn archival_insert(cfg: &Resolved, content: &str, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = crate::session::open_for_writing(cfg, store)?;
    let embeds = embed_for(
        cfg,
        crate::memory::chunk::chunk_text(content, crate::memory::chunk::DEFAULT_CHUNK_CHARS),
    )
    .await?;
    match agent
        .insert_passage_by_hand(content, embeds.as_ref())
        .map_err(Failure::runtime)?
    {
        Ok(crate::protocol::EventKind::ArchivalEdited { message, .. }) => {
            writeln!(out, "{message}").map_err(out_err)
        }
        Ok(_) => Ok(()),
        Err(why) => Err(Failure::runtime(why)),
    }
}

/// Re-embeds every passage not embedded with the configured model, in batches committed as
/// they complete (an interruption keeps what was done).
pub async fn archival_reembed(cfg: &Resolved, out: &mut dyn Write) -> Outcome {
    let Some(c) = cfg.client.clone().filter(|c| c.embedding_model.is_some()) else {
        return Err(Failure::start(
            "no embedding model is configured: pass --embedding-model (and --base-url or --embedding-base-url)",
        ));
    };
    let model = c.embedding_model.clone().unwrap_or_default();
    let client = ModelClient::new(c).map_err(Failure::start)?;
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_existing(cfg, store)?;
    // Only the ids are kept while looking; a batch is read whole when it is embedded.
    let mut stale: Vec<u64> = Vec::new();
    agent
        .store
        .scan(
            crate::store::Table::Archival,
            agent.name(),
            |id, p: crate::memory::Passage| {
                if p.embedding_model.as_deref() != Some(model.as_str()) || p.embedding.is_none() {
                    stale.push(id);
                }
                Ok::<(), crate::store::StoreError>(())
            },
        )
        .map_err(Failure::runtime)?;
    let total = stale.len();
    let mut done = 0;
    for ids in stale.chunks(16) {
        let batch = agent
            .store
            .archival_get(agent.name(), ids)
            .map_err(Failure::runtime)?;
        let texts: Vec<String> = batch.iter().map(|p| p.text.clone()).collect();
        let vectors = client.embed(&texts).await.map_err(|e| {
            Failure::runtime(format!(
                "embedding failed after {done} of {total} passages (those are saved): {e}"
            ))
        })?;
        let updated: Vec<crate::memory::Passage> = batch
            .iter()
            .zip(vectors)
            .map(|(p, v)| crate::memory::Passage {
                embedding: Some(v),
                embedding_model: Some(model.clone()),
                ..p.clone()
            })
            .collect();
        agent
            .update_embeddings(&updated)
            .map_err(Failure::runtime)?;
        done += updated.len();
        eprintln!("memscope: re-embedded {done}/{total} passages with {model}");
    }
    writeln!(out, "re-embedded {done} passages with {model}").map_err(out_err)
}

pub async fn archival_search(
    cfg: &Resolved,
    query: &str,
    page: usize,
    json_out: bool,
    out: &mut dyn Write,
) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_existing(cfg, store)?;
    let embeds = embed_for(cfg, vec![query.to_string()]).await?;
    // A one-shot search waits for the index to cover everything.
    agent
        .store
        .index_now(agent.name())
        .map_err(Failure::runtime)?;
    let (page, note) = agent
        .archival_page(query, page, embeds.as_ref())
        .map_err(Failure::runtime)?;
    if json_out {
        let v = json!({
            "total": page.total, "page": page.page, "pages": page.pages,
            "results": page.items.iter().map(|p| json!({"id": p.id, "text": p.text, "created_at": p.created_at})).collect::<Vec<_>>(),
        });
        writeln!(out, "{v}").map_err(out_err)?;
    } else {
        writeln!(out, "{}{note}", page.describe()).map_err(out_err)?;
        for p in &page.items {
            writeln!(
                out,
                "#{} {}  {}",
                p.id,
                p.created_at.format("%Y-%m-%d %H:%M"),
                text::visible(&text::one_line(&p.text, 200))
            )
            .map_err(out_err)?;
        }
    }
    Ok(())
}

async fn embed_for(cfg: &Resolved, inputs: Vec<String>) -> Result<Option<Embeds>, Failure> {
    let Some(c) = cfg.client.clone().filter(|c| c.embedding_model.is_some()) else {
        return Ok(None);
    };
    let model = c.embedding_model.clone().unwrap_or_default();
    let client = ModelClient::new(c).map_err(Failure::start)?;
    let result = client.embed(&inputs).await.map_err(|e| e.to_string());
    Ok(Some(Embeds { model, result }))
}

pub fn agents_list(cfg: &Resolved, out: &mut dyn Write) -> Outcome {
    let store = match open_reader(&cfg.store) {
        Ok(s) => s,
        Err(crate::store::StoreError::Missing(_)) => return Ok(()),
        Err(e) => return Err(Failure::start(e)),
    };
    for a in store.agents().map_err(Failure::runtime)? {
        writeln!(
            out,
            "{}\t{} steps\t{} messages\t{} passages\tcreated {}",
            a.name,
            a.step,
            a.recall_count,
            a.archival_count,
            a.created_at.format("%Y-%m-%d %H:%M")
        )
        .map_err(out_err)?;
    }
    Ok(())
}

pub fn agents_create(cfg: &Resolved, name: &str, out: &mut dyn Write) -> Outcome {
    // The same rule as a fork's name: printable and not empty.
    crate::engine::history::check_name(name).map_err(Failure::start)?;
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    if store.load_agent(name).map_err(Failure::runtime)?.is_some() {
        return Err(Failure::runtime(format!(
            "an agent named '{name}' already exists"
        )));
    }
    Agent::open(store, name, cfg.engine.clone()).map_err(Failure::runtime)?;
    writeln!(out, "created agent '{name}'").map_err(out_err)
}

/// Deletes an agent: with `yes`, at once; else only after a "y" typed on a terminal, and never
/// from a script that did not say --yes.
pub fn agents_delete(cfg: &Resolved, name: &str, yes: bool, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    if !yes {
        use std::io::IsTerminal;
        let Some(a) = store
            .agents()
            .map_err(Failure::runtime)?
            .into_iter()
            .find(|a| a.name == name)
        else {
            return Err(Failure::start(format!("there is no agent named '{name}'")));
        };
        let what = format!(
            "agent '{name}' and all its memory ({} messages, {} passages, {} steps)",
            a.recall_count, a.archival_count, a.step
        );
        if !std::io::stdin().is_terminal() {
            return Err(Failure::start(format!(
                "not deleting {what}: pass --yes to delete without asking"
            )));
        }
        eprint!("delete {what}? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| Failure::start(format!("cannot read the answer: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return writeln!(out, "nothing was deleted").map_err(out_err);
        }
    }
    if !store.delete_agent(name).map_err(Failure::runtime)? {
        return Err(Failure::start(format!("there is no agent named '{name}'")));
    }
    writeln!(out, "deleted agent '{name}' and all its memory").map_err(out_err)
}
