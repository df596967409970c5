//! The store's tables in redb: the embedded default.
//!
//! Contract: one redb table per [`Tbl`], keyed `(agent, id)`, so each agent's records are
//! contiguous and ordered; `agents` keyed by name; `search_epochs` by name; `quarantine` by
//! `(table, agent, key)`. A table a store has never had (written by an older memscope) reads
//! as empty. Errors go through `db_err`, which tells damage from a failed disk.

use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use super::{RowIter, Span, Tbl};
use crate::store::handle::Tx;
use crate::store::{Result, db_err};

const AGENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("agents");
/// Each agent's search epoch; `NEXT` holds the next one to hand out.
const EPOCHS: TableDefinition<&str, u64> = TableDefinition::new("search_epochs");
/// No agent can have this name (names are printable).
const NEXT: &str = "\u{0}next";
/// Damaged records moved aside, keyed `(table, agent, key)`.
const QUARANTINE: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("quarantine");

type Def = TableDefinition<'static, (&'static str, u64), &'static [u8]>;

fn def(t: Tbl) -> Def {
    TableDefinition::new(t.name())
}

/// A table to read, or None when the store has never had it.
fn existing<K: redb::Key + 'static, V: redb::Value + 'static>(
    tx: &ReadTransaction,
    def: TableDefinition<'_, K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>> {
    match tx.open_table(def) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(db_err(e)),
    }
}

/// Makes every table, so that readers of a new store find them.
pub(crate) fn create_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(AGENTS).map_err(db_err)?;
    for t in [Tbl::Recall, Tbl::Archival, Tbl::Traces, Tbl::Journal] {
        tx.open_table(def(t)).map_err(db_err)?;
    }
    Ok(())
}

type Bounds<'a> = (
    std::ops::Bound<(&'a str, u64)>,
    std::ops::Bound<(&'a str, u64)>,
);

fn bounds(agent: &str, span: Span) -> Bounds<'_> {
    use std::ops::Bound::*;
    let hi = match span.hi {
        Some(hi) => Excluded((agent, hi)),
        None => Included((agent, u64::MAX)),
    };
    (Included((agent, span.lo)), hi)
}

fn empty_span(span: Span) -> bool {
    span.hi.is_some_and(|hi| hi <= span.lo)
}

pub(super) fn agent(tx: &Tx<ReadTransaction>, name: &str) -> Result<Option<Vec<u8>>> {
    let Some(t) = existing(tx, AGENTS)? else {
        return Ok(None);
    };
    Ok(t.get(name).map_err(db_err)?.map(|v| v.value().to_vec()))
}

pub(super) fn agents(tx: &Tx<ReadTransaction>) -> Result<Vec<(String, Vec<u8>)>> {
    let Some(t) = existing(tx, AGENTS)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        out.push((k.value().to_string(), v.value().to_vec()));
    }
    Ok(out)
}

pub(super) fn get(
    tx: &Tx<ReadTransaction>,
    t: Tbl,
    agent: &str,
    id: u64,
) -> Result<Option<Vec<u8>>> {
    let Some(t) = existing(tx, def(t))? else {
        return Ok(None);
    };
    Ok(t.get((agent, id))
        .map_err(db_err)?
        .map(|v| v.value().to_vec()))
}

pub(super) fn rows<'a>(
    tx: &'a Tx<ReadTransaction>,
    t: Tbl,
    agent: &'a str,
    span: Span,
) -> Result<RowIter<'a>> {
    let Some(t) = existing(tx, def(t))? else {
        return Ok(Box::new(std::iter::empty()));
    };
    if empty_span(span) {
        return Ok(Box::new(std::iter::empty()));
    }
    let range = t.range(bounds(agent, span)).map_err(db_err)?;
    let each = |row: std::result::Result<_, redb::StorageError>| {
        let (k, v): (redb::AccessGuard<(&str, u64)>, redb::AccessGuard<&[u8]>) =
            row.map_err(db_err)?;
        Ok((k.value().1, v.value().to_vec()))
    };
    Ok(if span.newest_first {
        Box::new(range.rev().map(each))
    } else {
        Box::new(range.map(each))
    })
}

pub(super) fn count(tx: &Tx<ReadTransaction>, t: Tbl, agent: &str) -> Result<u64> {
    let Some(t) = existing(tx, def(t))? else {
        return Ok(0);
    };
    let mut n = 0;
    for row in t.range(bounds(agent, Span::ALL)).map_err(db_err)? {
        row.map_err(db_err)?;
        n += 1;
    }
    Ok(n)
}

pub(super) fn epoch(tx: &Tx<ReadTransaction>, agent: &str) -> Result<u64> {
    let Some(t) = existing(tx, EPOCHS)? else {
        return Ok(0);
    };
    Ok(t.get(agent).map_err(db_err)?.map_or(0, |v| v.value()))
}

pub(super) fn w_agent(tx: &Tx<WriteTransaction>, name: &str) -> Result<Option<Vec<u8>>> {
    let t = tx.open_table(AGENTS).map_err(db_err)?;
    Ok(t.get(name).map_err(db_err)?.map(|v| v.value().to_vec()))
}

pub(super) fn w_get(
    tx: &Tx<WriteTransaction>,
    t: Tbl,
    agent: &str,
    id: u64,
) -> Result<Option<Vec<u8>>> {
    let t = tx.open_table(def(t)).map_err(db_err)?;
    Ok(t.get((agent, id))
        .map_err(db_err)?
        .map(|v| v.value().to_vec()))
}

pub(super) fn w_rows(
    tx: &Tx<WriteTransaction>,
    t: Tbl,
    agent: &str,
    span: Span,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let t = tx.open_table(def(t)).map_err(db_err)?;
    if empty_span(span) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for row in t.range(bounds(agent, span)).map_err(db_err)? {
        let (k, v) = row.map_err(db_err)?;
        out.push((k.value().1, v.value().to_vec()));
    }
    if span.newest_first {
        out.reverse();
    }
    Ok(out)
}

pub(super) fn put_agent(tx: &mut Tx<WriteTransaction>, name: &str, state: &[u8]) -> Result<()> {
    let mut t = tx.open_table(AGENTS).map_err(db_err)?;
    t.insert(name, state).map_err(db_err)?;
    Ok(())
}

pub(super) fn remove_agent(tx: &mut Tx<WriteTransaction>, name: &str) -> Result<Option<Vec<u8>>> {
    let mut t = tx.open_table(AGENTS).map_err(db_err)?;
    Ok(t.remove(name).map_err(db_err)?.map(|v| v.value().to_vec()))
}

pub(super) fn put_all(
    tx: &mut Tx<WriteTransaction>,
    t: Tbl,
    agent: &str,
    rows: &mut dyn Iterator<Item = Result<(u64, Vec<u8>)>>,
) -> Result<u64> {
    let mut t = tx.open_table(def(t)).map_err(db_err)?;
    let mut n = 0;
    for row in rows {
        let (id, value) = row?;
        t.insert((agent, id), value.as_slice()).map_err(db_err)?;
        n += 1;
    }
    Ok(n)
}

pub(super) fn remove(
    tx: &mut Tx<WriteTransaction>,
    t: Tbl,
    agent: &str,
    id: u64,
) -> Result<Option<Vec<u8>>> {
    let mut t = tx.open_table(def(t)).map_err(db_err)?;
    Ok(t.remove((agent, id))
        .map_err(db_err)?
        .map(|v| v.value().to_vec()))
}

pub(super) fn clear(tx: &mut Tx<WriteTransaction>, t: Tbl, agent: &str) -> Result<()> {
    let mut t = tx.open_table(def(t)).map_err(db_err)?;
    t.retain_in((agent, 0)..=(agent, u64::MAX), |_, _| false)
        .map_err(db_err)?;
    Ok(())
}

pub(super) fn new_epoch(tx: &mut Tx<WriteTransaction>, agent: &str) -> Result<()> {
    let mut t = tx.open_table(EPOCHS).map_err(db_err)?;
    let next = t.get(NEXT).map_err(db_err)?.map_or(1, |v| v.value());
    t.insert(NEXT, next + 1).map_err(db_err)?;
    t.insert(agent, next).map_err(db_err)?;
    Ok(())
}

pub(super) fn quarantine(
    tx: &mut Tx<WriteTransaction>,
    table: &str,
    agent: &str,
    key: u64,
    value: &[u8],
) -> Result<()> {
    let mut q = tx.open_table(QUARANTINE).map_err(db_err)?;
    q.insert((table, agent, key), value).map_err(db_err)?;
    Ok(())
}
