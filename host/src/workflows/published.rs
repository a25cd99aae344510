//! The status documents of the orders whose workflows this process's worker holds, as each one last left them, so
//! that a status read of a running order served by the same process costs no Temporal query (which, on a busy server,
//! is a round trip through the server to a worker and back).
//!
//! A workflow publishes its document after every change it makes while it is not replaying, and withdraws it when the
//! run leaves this worker (evicted from the cache, finished, or the worker stops): the run's value is dropped then.
//! What is published is the same document the `status` query would answer, read from the same state. A reader takes
//! it only while it is fresh ([`Published::FRESH_FOR`]): should the server hand the run to another process's worker
//! without this one hearing of it yet, this process stops answering from a copy that may lag after that long, and asks
//! Temporal instead.
//!
//! A run that completes with its document ([`Publication::close`]) leaves that document behind when it leaves the
//! worker: it is the workflow's result, so a status read of the order just finished needs no Temporal call either
//! ([`Published::closed`]; the newest [`Published::CLOSED`] are kept).

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use crate::domain::StatusDocument;

/// The documents published in this process: running runs', and the results of runs that completed here.
#[derive(Debug, Default)]
pub struct Published(Mutex<Documents>);

#[derive(Debug, Default)]
struct Documents {
    running: HashMap<Key, Entry>,
    closed: HashMap<Key, StatusDocument>,
    closed_order: VecDeque<Key>,
}

/// Namespace and workflow id.
type Key = (String, String);

#[derive(Debug)]
struct Entry {
    run_id: String,
    doc: StatusDocument,
    at: Instant,
    /// The document is the run's result (it completed with it).
    closed: bool,
}

static DOCUMENTS: LazyLock<Published> = LazyLock::new(Published::default);

/// This process's published documents (one per process: workflows are built by the SDK and cannot be handed state).
pub fn documents() -> &'static Published {
    &DOCUMENTS
}

impl Published {
    /// How long a document is served after it was published.
    pub const FRESH_FOR: Duration = Duration::from_secs(3);
    /// How many results of runs that completed here are kept.
    pub const CLOSED: usize = 4096;

    /// Keeps `doc` as the newest document of its workflow run (`closed`: the run completes with it).
    pub fn publish(&self, namespace: &str, doc: StatusDocument, closed: bool) {
        let Ok(mut docs) = self.0.lock() else { return };
        let key = (namespace.to_owned(), doc.workflow.workflow_id.clone());
        let run_id = doc.workflow.run_id.clone();
        // The workflow runs here again (a completion that was refused, run anew): what it left before is no longer
        // its result.
        docs.closed.remove(&key);
        docs.running.insert(key, Entry { run_id, doc, at: Instant::now(), closed });
    }

    /// The newest document of running workflow `workflow_id`, if it was published less than [`Self::FRESH_FOR`] ago
    /// and does not describe an order that has ended.
    pub fn fresh(&self, namespace: &str, workflow_id: &str) -> Option<StatusDocument> {
        let docs = self.0.lock().ok()?;
        let entry = docs.running.get(&(namespace.to_owned(), workflow_id.to_owned()))?;
        let fresh = entry.at.elapsed() < Self::FRESH_FOR && !entry.doc.state.is_terminal();
        fresh.then(|| entry.doc.clone())
    }

    /// The final document of workflow `workflow_id`'s run: the result it completed with in this process, or — the
    /// run still here, between its last step and its completion — the ended order's document it is completing with.
    pub fn closed(&self, namespace: &str, workflow_id: &str) -> Option<StatusDocument> {
        let docs = self.0.lock().ok()?;
        let key = (namespace.to_owned(), workflow_id.to_owned());
        match docs.running.get(&key) {
            Some(entry) if entry.closed => Some(entry.doc.clone()),
            Some(entry) => {
                let ending = entry.doc.state.is_terminal() && entry.at.elapsed() < Self::FRESH_FOR;
                ending.then(|| entry.doc.clone())
            }
            None => docs.closed.get(&key).cloned(),
        }
    }

    /// Forgets the document of run `run_id` (a newer run of the same id keeps its own); a run's result is kept.
    fn withdraw(&self, namespace: &str, workflow_id: &str, run_id: &str) {
        let Ok(mut docs) = self.0.lock() else { return };
        let key = (namespace.to_owned(), workflow_id.to_owned());
        if docs.running.get(&key).is_none_or(|e| e.run_id != run_id) {
            return;
        }
        let Some(entry) = docs.running.remove(&key) else { return };
        if !entry.closed {
            docs.closed.remove(&key);
            return;
        }
        if docs.closed.insert(key.clone(), entry.doc).is_none() {
            docs.closed_order.push_back(key);
        }
        while docs.closed_order.len() > Self::CLOSED {
            if let Some(oldest) = docs.closed_order.pop_front() {
                docs.closed.remove(&oldest);
            }
        }
    }
}

/// Held by a workflow run's value: withdraws the run's document when the run leaves this worker.
#[derive(Debug)]
pub struct Publication {
    namespace: String,
    workflow_id: String,
    run_id: String,
}

impl Publication {
    pub fn new(namespace: &str, workflow_id: &str, run_id: &str) -> Publication {
        Publication { namespace: namespace.into(), workflow_id: workflow_id.into(), run_id: run_id.into() }
    }

    /// Publishes `doc` unless the run is replaying (a replay passes through older states on its way back to now).
    pub fn publish(&self, replaying: bool, document: impl FnOnce(&str, &str) -> StatusDocument) {
        if !replaying {
            documents().publish(&self.namespace, document(&self.workflow_id, &self.run_id), false);
        }
    }

    /// Publishes `doc` as the run's result: the run completes with it, and it stays served once the run has left.
    pub fn close(&self, replaying: bool, doc: &StatusDocument) {
        if !replaying {
            documents().publish(&self.namespace, doc.clone(), true);
        }
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        documents().withdraw(&self.namespace, &self.workflow_id, &self.run_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle::Lifecycle;
    use crate::domain::{OrderState, sample};

    fn doc(id: &str, run: &str) -> StatusDocument {
        let order = crate::domain::OrderInput {
            order_id: id.into(),
            payment_id: format!("pay-{id}"),
            items: sample::items(),
            address: sample::address(),
            options: crate::domain::OrderOptions::default(),
        };
        Lifecycle::new(order).document(id, run)
    }

    #[test]
    fn a_run_serves_its_newest_document_until_it_leaves() {
        let (ns, id) = ("published-test", "order-pub-1");
        let publication = Publication::new(ns, id, "run-1");
        assert!(documents().fresh(ns, id).is_none());
        publication.publish(false, doc);
        assert_eq!(documents().fresh(ns, id).map(|d| d.workflow.run_id), Some("run-1".into()));
        // Another namespace's workflow of the same id is another workflow.
        assert!(documents().fresh("other", id).is_none());
        drop(publication);
        assert!(documents().fresh(ns, id).is_none());
    }

    #[test]
    fn replays_publish_nothing_and_an_old_run_does_not_withdraw_a_newer_one() {
        let (ns, id) = ("published-test", "order-pub-2");
        let old = Publication::new(ns, id, "run-1");
        old.publish(true, |_, _| panic!("a replay builds no document"));
        assert!(documents().fresh(ns, id).is_none());
        let new = Publication::new(ns, id, "run-2");
        new.publish(false, doc);
        drop(old);
        assert_eq!(documents().fresh(ns, id).map(|d| d.workflow.run_id), Some("run-2".into()));
        drop(new);
    }

    #[test]
    fn an_ended_order_is_not_served_as_running_and_only_a_result_stays_behind() {
        let (ns, id) = ("published-test", "order-pub-3");
        let publication = Publication::new(ns, id, "run-1");
        let shipped = StatusDocument { state: OrderState::Shipped, ..doc(id, "run-1") };
        publication.publish(false, |_, _| shipped.clone());
        assert!(documents().fresh(ns, id).is_none(), "not served as running");
        assert_eq!(documents().closed(ns, id), Some(shipped.clone()), "the end it is completing with");
        publication.close(false, &shipped);
        drop(publication);
        assert_eq!(documents().closed(ns, id), Some(shipped));

        // The run comes back here (its completion was refused and it runs again): what it left is forgotten, and
        // stays forgotten when it leaves again without completing.
        let again = Publication::new(ns, id, "run-1");
        again.publish(false, doc);
        assert!(documents().closed(ns, id).is_none());
        drop(again);
        assert!(documents().closed(ns, id).is_none());

        // A run that left without completing here leaves nothing.
        let (ns, id) = ("published-test", "order-pub-4");
        let publication = Publication::new(ns, id, "run-1");
        publication.publish(false, doc);
        drop(publication);
        assert!(documents().closed(ns, id).is_none());
    }
}
