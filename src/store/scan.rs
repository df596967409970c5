//! Reading every record one at a time, so that one damaged record never hides the rest:
//! streaming scans for `dump`, the whole-store check, and moving damaged records aside.
//!
//! Contract: [`Store::scan`] hands each readable record of an agent's table to a callback in
//! key order and returns the ones it could not read (by table and key) instead of failing.
//! [`Store::check`] does so for every table of every agent; [`Store::quarantine`] moves the
//! records it found into the `quarantine` table (raw bytes, never deleted) in one transaction,
//! and takes moved messages out of their agent's queue, so a writer can open the agent again.

use serde::de::DeserializeOwned;

use crate::memory::AgentState;

use super::backend::{Span, Tbl};
use super::{Result, Store, StoreError};

/// A table of per-agent records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Recall,
    Archival,
    Traces,
    Journal,
    ArchivalDeleted,
    Marks,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Recall,
        Table::Archival,
        Table::Traces,
        Table::Journal,
        Table::ArchivalDeleted,
        Table::Marks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Recall => "recall",
            Table::Archival => "archival",
            Table::Traces => "traces",
            Table::Journal => "journal",
            Table::ArchivalDeleted => "archival_deleted",
            Table::Marks => "marks",
        }
    }

    fn tbl(self) -> Tbl {
        match self {
            Table::Recall => Tbl::Recall,
            Table::Archival => Tbl::Archival,
            Table::Traces => Tbl::Traces,
            Table::Journal => Tbl::Journal,
            Table::ArchivalDeleted => Tbl::ArchivalDeleted,
            Table::Marks => Tbl::Marks,
        }
    }
}

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub table: &'static str,
    pub agent: String,
    /// The record's key (0 for an agent's own state in `agents`).
    pub key: u64,
    pub why: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agent '{}', table {}, key {}: {}",
            self.agent, self.table, self.key, self.why
        )
    }
}

impl Store {
    /// Calls `each` with every readable record of `agent` in `table`, in key order; returns
    /// the records it could not read. An error from `each` stops the scan.
    pub fn scan<T: DeserializeOwned, E: From<StoreError>>(
        &self,
        table: Table,
        agent: &str,
        each: impl FnMut(u64, T) -> std::result::Result<(), E>,
    ) -> std::result::Result<Vec<Unreadable>, E> {
        self.scan_in(table, agent, None, each)
    }

    /// Like [`Store::scan`], newest record first, stopping after `n` records.
    pub fn scan_newest<T: DeserializeOwned, E: From<StoreError>>(
        &self,
        table: Table,
        agent: &str,
        n: usize,
        each: impl FnMut(u64, T) -> std::result::Result<(), E>,
    ) -> std::result::Result<Vec<Unreadable>, E> {
        self.scan_in(table, agent, Some(n), each)
    }

    /// Every record in key order, or the newest `newest` newest first.
    fn scan_in<T: DeserializeOwned, E: From<StoreError>>(
        &self,
        table: Table,
        agent: &str,
        newest: Option<usize>,
        mut each: impl FnMut(u64, T) -> std::result::Result<(), E>,
    ) -> std::result::Result<Vec<Unreadable>, E> {
        let tx = self.located(self.begin_read())?;
        let mut bad = Vec::new();
        let span = match newest {
            None => Span::ALL,
            Some(_) => Span::ALL.newest(),
        };
        let rows = self.located(tx.rows(table.tbl(), agent, span))?;
        for row in rows.take(newest.unwrap_or(usize::MAX)) {
            let (key, v) = self.located(row)?;
            match serde_json::from_slice::<T>(&v) {
                Ok(record) => each(key, record)?,
                Err(e) => bad.push(Unreadable {
                    table: table.name(),
                    agent: agent.to_string(),
                    key,
                    why: e.to_string(),
                }),
            }
        }
        Ok(bad)
    }

    /// The messages with these ids that can be read, in order: a reader's view of a queue that
    /// holds a damaged record (a writer uses `recall_get`, which refuses).
    pub fn recall_get_readable(
        &self,
        agent: &str,
        ids: &[u64],
    ) -> Result<Vec<crate::memory::Message>> {
        self.located((|| {
            let tx = self.begin_read()?;
            let rows = tx.get_many(Tbl::Recall, agent, ids)?;
            Ok(rows
                .into_iter()
                .flatten()
                .filter_map(|v| serde_json::from_slice(&v).ok())
                .collect())
        })())
    }

    /// How many records `agent` has in `table`, without reading them.
    pub fn count(&self, table: Table, agent: &str) -> Result<u64> {
        self.located((|| self.begin_read()?.count(table.tbl(), agent))())
    }

    /// Reads every record of every table and returns the ones that cannot be read, with the
    /// number of records read.
    pub fn check(&self) -> Result<(u64, Vec<Unreadable>)> {
        let mut bad = Vec::new();
        let mut read = 0u64;
        let mut names = Vec::new();
        self.located((|| {
            let tx = self.begin_read()?;
            for (name, v) in tx.agents()? {
                match serde_json::from_slice::<crate::memory::AgentState>(&v) {
                    Ok(_) => read += 1,
                    Err(e) => bad.push(Unreadable {
                        table: "agents",
                        agent: name.clone(),
                        key: 0,
                        why: e.to_string(),
                    }),
                }
                names.push(name);
            }
            Ok(())
        })())?;
        for name in &names {
            for table in Table::ALL {
                let found = self.scan::<serde_json::Value, StoreError>(table, name, |_, _| {
                    read += 1;
                    Ok(())
                })?;
                bad.extend(found);
            }
        }
        Ok((read, bad))
    }

    /// Moves the given records into the `quarantine` table (their bytes as they are) and out
    /// of their own tables, in one transaction. An agent whose own record is moved aside is
    /// rebuilt in the same transaction from its newest readable step snapshot (see
    /// `rebuild.rs`; from nothing but its rows when it has none), so its rows never lose their
    /// agent. Returns how many were moved, and each agent rebuilt with how.
    pub fn quarantine(&self, records: &[Unreadable]) -> Result<(usize, Vec<(String, String)>)> {
        let mut rebuilt = Vec::new();
        for r in records.iter().filter(|r| r.table == "agents") {
            let (state, how) = match self.rebuild_agent(&r.agent)? {
                Some(b) => {
                    let note = b.note();
                    (b.state, note)
                }
                None => (
                    self.bare_state(&r.agent)?,
                    "rebuilt with empty core memory (no step snapshot could be read); its \
                     messages and passages are kept"
                        .to_string(),
                ),
            };
            rebuilt.push((r.agent.clone(), state, how));
        }
        let moved = self.located((|| {
            // Nobody else may be writing an agent that is repaired.
            let agents: Vec<&str> = records.iter().map(|r| r.agent.as_str()).collect();
            let mut tx = self.begin_write_as(&agents)?;
            let mut moved = 0;
            for r in records {
                let bytes = if r.table == "agents" {
                    tx.remove_agent(&r.agent)?
                } else {
                    let Some(table) = Table::ALL.into_iter().find(|t| t.name() == r.table) else {
                        continue;
                    };
                    tx.remove(table.tbl(), &r.agent, r.key)?
                };
                if let Some(b) = bytes {
                    tx.quarantine(r.table, &r.agent, r.key, &b)?;
                    moved += 1;
                }
            }
            for (agent, state, _) in &rebuilt {
                tx.put_agent(agent, &super::encode(state))?;
            }
            // A queue that held a message moved aside goes on without it.
            let agents: std::collections::BTreeSet<&str> = records
                .iter()
                .filter(|r| r.table == "recall")
                .map(|r| r.agent.as_str())
                .collect();
            for agent in agents {
                let gone: Vec<u64> = records
                    .iter()
                    .filter(|r| r.table == "recall" && r.agent == agent)
                    .map(|r| r.key)
                    .collect();
                let state = tx
                    .agent(agent)?
                    .and_then(|v| serde_json::from_slice::<AgentState>(&v).ok());
                if let Some(mut state) = state {
                    state.fifo.retain(|id| !gone.contains(id));
                    state.last_prompt = None;
                    tx.put_agent(agent, &super::encode(&state))?;
                }
            }
            // Their search indexes start over without what was moved aside.
            let touched: std::collections::BTreeSet<&str> =
                records.iter().map(|r| r.agent.as_str()).collect();
            for agent in touched {
                tx.new_epoch(agent)?;
                tx.changed(agent)?;
            }
            tx.commit()?;
            Ok(moved)
        })())?;
        Ok((
            moved,
            rebuilt.into_iter().map(|(a, _, how)| (a, how)).collect(),
        ))
    }

    /// A fresh state for `agent` that knows its rows: the ids in use, the counts, and its
    /// newest messages in the queue.
    fn bare_state(&self, agent: &str) -> Result<AgentState> {
        self.located((|| {
            let tx = self.begin_read()?;
            let mut state =
                AgentState::new(agent, crate::memory::CoreMemory::with_defaults("", ""));
            let next = |t: Tbl| -> Result<u64> { Ok(tx.last_id(t, agent)?.map_or(1, |l| l + 1)) };
            state.next_message_id = next(Tbl::Recall)?;
            state.next_passage_id = next(Tbl::Archival)?;
            state.next_trace_id = next(Tbl::Traces)?;
            state.recall_count = tx.count(Tbl::Recall, agent)?;
            state.archival_count = tx.count(Tbl::Archival, agent)?;
            let mut newest: Vec<u64> = tx
                .rows(Tbl::Recall, agent, Span::ALL.newest())?
                .take(8)
                .filter_map(|r| r.ok().map(|(id, _)| id))
                .collect();
            newest.reverse();
            state.fifo = newest;
            Ok(state)
        })())
    }
}
