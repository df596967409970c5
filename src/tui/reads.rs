//! Background store reads for the UI: run on blocking threads, one at a time per kind, with
//! stale results dropped.
//!
//! Contract: [`Reads::request`] starts a read unless one of the same kind (history, archival,
//! recall, search) is running; then it remembers the newest request and starts it when the
//! running one ends, dropping that one's result, which is already stale ([`Reads::arrived`]).
//! So a burst of chain ends costs one read of each list, not one per event, and an older search
//! can never overwrite a newer one. [`Reads::finish`] waits for every read, since each holds
//! the store open.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::app::{Load, Loaded};
use super::data;
use crate::store::Store;

/// What a read is for: a newer read of the same kind supersedes an older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    History,
    Archival,
    Recall,
    Search,
    Steps,
    /// A step's detail or a diff.
    Step,
    Agents,
}

/// A read to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// The transcript from the journal entries below this sequence number.
    History(u64),
    Load(Load),
}

impl Read {
    fn kind(&self) -> Kind {
        match self {
            Read::History(_) => Kind::History,
            Read::Load(Load::Archival) => Kind::Archival,
            Read::Load(Load::Recall) => Kind::Recall,
            Read::Load(Load::Search { .. }) => Kind::Search,
            Read::Load(Load::Steps { .. }) => Kind::Steps,
            Read::Load(Load::StepDetail { .. } | Load::StepDiff { .. }) => Kind::Step,
            Read::Load(Load::Agents) => Kind::Agents,
        }
    }
}

pub struct Reads {
    store: Arc<Store>,
    agent: String,
    tx: UnboundedSender<(Kind, Loaded)>,
    /// Finished reads' results.
    pub results: UnboundedReceiver<(Kind, Loaded)>,
    /// Kinds being read, with the newest request that came in meanwhile.
    running: HashMap<Kind, Option<Read>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Reads {
    pub fn new(store: Arc<Store>, agent: String) -> Reads {
        let (tx, results) = unbounded_channel();
        Reads {
            store,
            agent,
            tx,
            results,
            running: HashMap::new(),
            tasks: Vec::new(),
        }
    }

    pub fn request(&mut self, read: Read) {
        let kind = read.kind();
        if let Some(next) = self.running.get_mut(&kind) {
            *next = Some(read);
            return;
        }
        self.running.insert(kind, None);
        let (store, agent, tx) = (self.store.clone(), self.agent.clone(), self.tx.clone());
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::task::spawn_blocking(move || {
            let loaded = match &read {
                Read::History(before) => data::history(&store, &agent, *before),
                Read::Load(l) => data::load(&store, &agent, l),
            };
            let _ = tx.send((kind, loaded));
        }));
    }

    /// A read finished: its result to apply, or None when a newer request came in meanwhile
    /// (that one is started now).
    pub fn arrived(&mut self, kind: Kind, loaded: Loaded) -> Option<Loaded> {
        match self.running.remove(&kind).flatten() {
            Some(newer) => {
                self.request(newer);
                None
            }
            None => Some(loaded),
        }
    }

    /// Reads in flight.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Waits for every read still running (each holds the store open).
    pub async fn finish(&mut self) {
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::StoreTab;

    fn search(q: &str) -> Read {
        Read::Load(Load::Search {
            tab: StoreTab::Archival,
            query: q.into(),
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reads_of_one_kind_run_one_at_a_time_and_only_the_newest_result_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("s.redb")).unwrap());
        let mut reads = Reads::new(store, "default".into());
        reads.request(search("first"));
        reads.request(search("second"));
        reads.request(search("third"));
        reads.request(Read::Load(Load::Recall));
        reads.request(Read::Load(Load::Recall));
        assert_eq!(
            reads.running(),
            2,
            "one search and one recall read at a time"
        );
        let mut applied = Vec::new();
        while reads.running() > 0 {
            let (kind, loaded) = reads.results.recv().await.unwrap();
            if let Some(l) = reads.arrived(kind, loaded) {
                applied.push(l);
            }
        }
        let queries: Vec<String> = applied
            .iter()
            .filter_map(|l| match l {
                Loaded::Search { query, .. } => Some(query.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            queries,
            ["third"],
            "the superseded searches' results are dropped"
        );
        let recalls = applied
            .iter()
            .filter(|l| matches!(l, Loaded::Recall(..)))
            .count();
        assert_eq!(recalls, 1);
        reads.finish().await;
    }
}
