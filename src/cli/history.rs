//! `steps`, `step N`, `diff A B`, `fork`, `rewind`, `pop`, `rethink`, `rewrite`: an agent's
//! past from the command line.
//!
//! Contract: the reading commands open the store read-only (they run beside a writer) and need
//! no endpoint; `--json` prints one JSON document whose field names are stable (README). `step
//! N --json` holds the request exactly as it was sent, as a JSON object (its bytes as they
//! were). The changing commands open the store for writing and go through the agent's own
//! history operations, journaling what they did as the TUI's would.

use std::io::Write;

use serde_json::json;

use crate::config::Resolved;
use crate::engine::history::lines::{detail_lines, diff_lines, row_header, row_line};
use crate::engine::history::{HistoryError, diff, view};
use crate::session::{Failure, Outcome, open_existing, open_reader, open_writer};
use crate::store::Store;
use crate::text;

fn out_err(e: std::io::Error) -> Failure {
    Failure::output(e)
}

/// JSON for stdout: escaped where a terminal would read control characters in it, exact
/// (byte for byte as recorded) into a pipe or a file.
pub(super) fn safe_json(doc: String) -> String {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        text::json_terminal_safe(doc)
    } else {
        doc
    }
}

fn refused(e: HistoryError) -> Failure {
    match e {
        HistoryError::Refused(why) => Failure::start(why),
        HistoryError::Store(e) => Failure::runtime(e),
    }
}

/// Every model call of the agent, oldest first.
pub fn steps(cfg: &Resolved, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let mut rows = Vec::new();
    let mut before = None;
    loop {
        let page = view::rows(&agent.store, agent.name(), before, 512)?;
        let Some(last) = page.last() else { break };
        before = Some(last.key);
        rows.extend(page);
    }
    rows.reverse();
    if json_out {
        let doc = json!({"agent": agent.name(), "steps": rows});
        writeln!(out, "{}", safe_json(doc.to_string())).map_err(out_err)?;
        return Ok(());
    }
    writeln!(out, "{}", row_header(24, 26)).map_err(out_err)?;
    for r in &rows {
        writeln!(out, "{}", row_line(r)).map_err(out_err)?;
    }
    if rows.is_empty() {
        writeln!(out, "(no model calls yet)").map_err(out_err)?;
    }
    Ok(())
}

fn detail_of(store: &Store, agent: &str, step: u64) -> Result<view::StepDetail, Failure> {
    view::step_detail(store, agent, step)?.ok_or_else(|| {
        Failure::start(format!(
            "agent '{agent}' has no step {step} (`memscope steps` lists them)"
        ))
    })
}

/// One model call: the request as sent, the reply, the memory it left.
pub fn step(cfg: &Resolved, n: u64, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let d = detail_of(&agent.store, agent.name(), n)?;
    if json_out {
        let doc = serde_json::to_string(&d).map_err(Failure::runtime)?;
        writeln!(out, "{}", safe_json(doc)).map_err(out_err)?;
        return Ok(());
    }
    for line in detail_lines(&d) {
        writeln!(out, "{}", text::visible(&line)).map_err(out_err)?;
    }
    Ok(())
}

/// What changed from step `a` to step `b`.
pub fn diff(cfg: &Resolved, a: u64, b: u64, json_out: bool, out: &mut dyn Write) -> Outcome {
    let store = open_reader(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    let (da, db) = (
        detail_of(&agent.store, agent.name(), a)?,
        detail_of(&agent.store, agent.name(), b)?,
    );
    let d = diff::diff(&da, &db);
    if json_out {
        let doc = serde_json::to_string(&d).map_err(Failure::runtime)?;
        writeln!(out, "{}", safe_json(doc)).map_err(out_err)?;
        return Ok(());
    }
    for line in diff_lines(&d) {
        writeln!(out, "{}", text::visible(&line)).map_err(out_err)?;
    }
    Ok(())
}

/// A new agent made from this one as it was right after step `step`.
pub fn fork(cfg: &Resolved, step: u64, name: &str, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let agent = open_existing(cfg, store)?;
    agent.fork_from(step, name).map_err(refused)?;
    agent.journal(&agent.event(crate::engine::EventKind::Forked {
        from_step: step,
        name: name.to_string(),
    }))?;
    writeln!(
        out,
        "made agent '{}' from '{}' as it was right after step {step}",
        text::visible(name),
        text::visible(agent.name())
    )
    .map_err(out_err)
}

/// What `rewind` and `pop` did, said and journaled.
fn rewound(
    agent: &crate::engine::Agent,
    r: &crate::engine::history::Rewound,
    out: &mut dyn Write,
) -> Outcome {
    agent.journal(&agent.event(r.event(agent)))?;
    writeln!(
        out,
        "'{}' is back at step {}; what it was is kept whole as the agent '{}'",
        text::visible(agent.name()),
        r.step,
        text::visible(&r.backup)
    )
    .map_err(out_err)?;
    if let Some(t) = &r.dropped_input {
        writeln!(out, "dropped message: {}", text::visible(t)).map_err(out_err)?;
    }
    Ok(())
}

/// The agent taken back to right after step `step`.
pub fn rewind(cfg: &Resolved, step: u64, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_writer(cfg, store)?;
    let r = agent.rewind_to(step).map_err(refused)?;
    rewound(&agent, &r, out)
}

/// The last user message and everything after it dropped (kept in a backup).
pub fn pop(cfg: &Resolved, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_writer(cfg, store)?;
    let r = agent.pop().map_err(refused)?;
    rewound(&agent, &r, out)
}

/// The last inner thought (`rethink`) or send_message (`rewrite`) replaced.
pub fn edit_reply(cfg: &Resolved, message: bool, new: &str, out: &mut dyn Write) -> Outcome {
    let store = Store::open(&cfg.store).map_err(Failure::start)?;
    let mut agent = open_writer(cfg, store)?;
    let shown = if message {
        agent.rewrite(new)
    } else {
        agent.rethink(new)
    }
    .map_err(refused)?;
    if let crate::engine::EventKind::MessageEdited { id, part, .. } = &shown {
        writeln!(out, "message {id}: the {part} was replaced").map_err(out_err)?;
    }
    Ok(())
}
