//! `memscope migrate`: agents moved from one store to another, row for row.
//!
//! Contract: the source is only read (alongside its writer, if one runs); the target is opened
//! for writing. Every name is checked in both before anything is written; each agent is then
//! copied in one transaction of its own (state, recall, archival, traces, journal, shared
//! texts, marks, deleted passages), byte for byte, and its search index is built in the
//! target on first use. Either store may be a redb file or a PostgreSQL database. The source keeps its agents.

use std::io::Write;
use std::path::Path;

use crate::session::{Failure, Outcome, open_reader};
use crate::store::{Store, display_name};

/// Copies `names` (every agent when empty) from the store `from` into the store `to`.
pub fn migrate(from: &Path, to: &Path, names: &[String], out: &mut dyn Write) -> Outcome {
    let same = match (std::fs::canonicalize(from), std::fs::canonicalize(to)) {
        (Ok(a), Ok(b)) => a == b,
        _ => crate::store::is_postgres_url(&from.to_string_lossy()) && from == to,
    };
    if same {
        return Err(Failure::start(format!(
            "--from and --to are the same store ({})",
            display_name(from)
        )));
    }
    let src = open_reader(from).map_err(Failure::start)?;
    let dst = Store::open(to).map_err(Failure::start)?;
    let there: Vec<String> = src
        .agents()
        .map_err(Failure::runtime)?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let names: Vec<String> = if names.is_empty() {
        there.clone()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        return Err(Failure::runtime(format!(
            "{} holds no agents; nothing was copied",
            display_name(from)
        )));
    }
    for n in &names {
        if !there.contains(n) {
            return Err(Failure::start(format!(
                "there is no agent named '{}' in {} (it has: {}); nothing was copied",
                crate::text::visible(n),
                display_name(from),
                there.join(", ")
            )));
        }
        if dst.load_agent(n).map_err(Failure::runtime)?.is_some() {
            return Err(Failure::runtime(format!(
                "{} already has an agent named '{}'; nothing was copied (rename one first)",
                display_name(to),
                crate::text::visible(n)
            )));
        }
    }
    let mut total = 0;
    for n in &names {
        let rows = dst.copy_agent(&src, n).map_err(|e| {
            Failure::runtime(format!(
                "copying '{}' failed ({e}); the agents before it were copied, it was not",
                crate::text::visible(n)
            ))
        })?;
        total += rows;
        writeln!(
            out,
            "copied agent {} ({rows} rows)",
            crate::text::visible(n)
        )
        .map_err(Failure::output)?;
    }
    writeln!(
        out,
        "{} agent(s), {total} rows, from {} to {}",
        names.len(),
        display_name(from),
        display_name(to)
    )
    .map_err(Failure::output)
}
