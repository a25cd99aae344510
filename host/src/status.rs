//! The status read model: one document per order, the same from every process. Built from four sources: the
//! workflow's own view (while it runs, the document it published in this process or else its `status` query; its final
//! document once it has finished), the execution's description where the workflow has no document to give (Temporal's
//! status, pending activity attempts and their last failure), the events table (every attempt ever made, summed up in
//! a few bounded reads: failure counts kept as the attempts are written, the newest failures, the attention message)
//! and the store's record of plugin versions (never this process's registry, which another process may not share).
//! When the workflow cannot answer — no worker running — the database's view is returned, marked as such, rather
//! than an error.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use temporalio_client::errors::{WorkflowGetResultError, WorkflowQueryError};
use temporalio_client::{
    Client, NamespacedClient as _, QueryRejectCondition, WorkflowDescribeOptions, WorkflowExecutionStatus,
    WorkflowGetResultOptions, WorkflowHandle, WorkflowQueryOptions,
};
use temporalio_sdk::workflows::WorkflowImplementation;

use crate::domain::lifecycle::RECENT_ERRORS;
use crate::domain::{
    Activity, ApprovalStatus, OrderId, PaymentState, PaymentStatus, PluginRun, RecentError, ShippingStatus,
    StatusDocument, WorkflowStatus,
};
use crate::store::{EventSummary, OrderRow, Store, StoreError};
use crate::workflows::OrderWorkflow;

/// Why no document could be made.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Neither Temporal nor the database knows the order.
    #[error("no order {0}")]
    NotFound(String),
    /// Temporal did not answer and the database does not know the order yet.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads status documents.
#[derive(Clone)]
pub struct StatusReader {
    pub client: Client,
    pub store: std::sync::Arc<dyn Store>,
    /// How long to wait for Temporal before falling back to the database's view.
    pub timeout: Duration,
    /// The workflows' own documents of finished orders, read once.
    pub finished: std::sync::Arc<FinishedDocuments>,
    /// Counts reads by where their document came from.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for StatusReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusReader").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// The workflow's part of finished orders' documents, the newest [`FinishedDocuments::CAPACITY`]: a finished run
/// never changes, so it is read from Temporal once per process. (The events part is read on every request.)
#[derive(Debug, Default)]
pub struct FinishedDocuments(std::sync::Mutex<(HashMap<String, StatusDocument>, VecDeque<String>)>);

impl FinishedDocuments {
    pub const CAPACITY: usize = 4096;

    fn get(&self, order_id: &str) -> Option<StatusDocument> {
        self.0.lock().ok()?.0.get(order_id).cloned()
    }

    fn put(&self, doc: &StatusDocument) {
        let Ok(mut guard) = self.0.lock() else { return };
        let (docs, order) = &mut *guard;
        if docs.insert(doc.order_id.clone(), doc.clone()).is_none() {
            order.push_back(doc.order_id.clone());
        }
        while order.len() > Self::CAPACITY {
            if let Some(oldest) = order.pop_front() {
                docs.remove(&oldest);
            }
        }
    }
}

type OrderHandle = WorkflowHandle<Client, <OrderWorkflow as WorkflowImplementation>::Run>;

/// What the workflow said about itself.
enum Answer {
    /// Its document, and where it came from (`query` or `result`).
    Document(Box<StatusDocument>, &'static str),
    /// Temporal does not know the workflow (never started, or gone from retention), or it ended without a document.
    Unknown,
    /// It did not answer: why.
    Unavailable(String),
}

impl StatusReader {
    /// The merged status of order `id`, with one call to Temporal at most: while the order runs, the document its
    /// workflow published in this process (when this process's worker holds it, [`crate::workflows::published`]),
    /// else the `status` query; once it has finished (its row says so), its final document — the workflow's result, read once per process,
    /// since a query of a closed workflow makes a worker replay its whole history — or, for a run that ended without
    /// one, the database's view with Temporal's description.
    pub async fn order_status(&self, id: &OrderId) -> Result<StatusDocument, StatusError> {
        let handle: OrderHandle = self.client.get_workflow_handle(id.to_string());
        let (row, events) = tokio::join!(
            self.store.get_order(id.as_str()),
            self.store.event_summary(id.as_str(), RECENT_ERRORS as u32)
        );
        let (row, events) = (row?, events?);
        let finished = row.as_ref().is_some_and(|r| r.state.is_terminal());
        let (published, namespace) = (crate::workflows::published::documents(), self.client.namespace());
        let running = || published.fresh(&namespace, id.as_str()).map(|doc| (doc, "published"));
        let cached = if finished {
            // A result left by this process's worker is taken only where the database agrees on how the order ended.
            let agrees = |doc: &StatusDocument| row.as_ref().is_some_and(|r| r.state == doc.state);
            let closed = || published.closed(&namespace, id.as_str()).filter(agrees).map(|doc| (doc, "closed"));
            // Then, the row having its end (written by the last step) while the run here has not taken it in yet:
            // its running document, as a query would answer, rather than a wait for the result.
            let cached = self.finished.get(id.as_str()).map(|doc| (doc, "finished"));
            cached.or_else(closed).or_else(running)
        } else {
            running()
        };
        let mut doc = if let Some((doc, source)) = cached {
            self.metrics.status_read(source);
            doc
        } else {
            let (doc, source) = self.workflow_document(&handle, id, finished, row.as_ref()).await?;
            self.metrics.status_read(source);
            // Only what Temporal confirmed closed: never a view made while it did not answer.
            let closed = run_ended(&doc);
            if finished && closed && doc.notes.is_empty() {
                self.finished.put(&doc);
            }
            doc
        };
        merge_events(&mut doc, &events);
        Ok(doc)
    }

    /// The workflow's own document, or the database's view where it has none to give.
    async fn workflow_document(
        &self,
        handle: &OrderHandle,
        id: &OrderId,
        finished: bool,
        row: Option<&OrderRow>,
    ) -> Result<(StatusDocument, &'static str), StatusError> {
        match self.workflow_view(handle, finished).await {
            Answer::Document(doc, source) => Ok((*doc, source)),
            Answer::Unknown => {
                let Some(row) = row else { return Err(StatusError::NotFound(id.to_string())) };
                let mut doc = self.database_view(row).await?;
                self.describe_into(handle, &mut doc).await;
                if !row.state.is_terminal() && run_ended(&doc) {
                    doc.notes.push(format!(
                        "the run is {} without the order having reached an end: its state is the last one recorded",
                        doc.workflow.status
                    ));
                }
                Ok((doc, "database"))
            }
            Answer::Unavailable(why) => {
                let Some(row) = row else {
                    return Err(StatusError::Unavailable(format!(
                        "{why}, and the database does not know order {id} yet"
                    )));
                };
                let mut doc = self.database_view(row).await?;
                self.describe_into(handle, &mut doc).await;
                doc.notes.push(format!("{why}: this is the database's view"));
                Ok((doc, "database"))
            }
        }
    }

    /// Temporal's status of the run, its id, and its pending attempts, when Temporal answers in time.
    async fn describe_into(&self, handle: &OrderHandle, doc: &mut StatusDocument) {
        let description = tokio::time::timeout(self.timeout, handle.describe(WorkflowDescribeOptions::default()));
        if let Ok(Ok(description)) = description.await {
            merge_description(doc, &description);
        }
    }

    /// The workflow's own document: its `status` query while it runs, its result once it has finished.
    async fn workflow_view(&self, handle: &OrderHandle, finished: bool) -> Answer {
        if finished {
            return self.final_view(handle).await;
        }
        // Only an open run is asked: Temporal answers a query of a closed one by having a worker replay its whole
        // history, and a run that ended without the database hearing of it (terminated, timed out) would then tell
        // its last state as if it still ran, on every read.
        let options = WorkflowQueryOptions::builder().reject_condition(QueryRejectCondition::NotOpen).build();
        let query = handle.query(OrderWorkflow::status, (), options);
        match tokio::time::timeout(self.timeout, query).await {
            Ok(Ok(doc)) => Answer::Document(Box::new(doc), "query"),
            Ok(Err(WorkflowQueryError::Rejected { status: Some(WorkflowExecutionStatus::Completed) })) => {
                self.final_view(handle).await
            }
            // Unknown to Temporal, or closed without a document (terminated, failed, timed out): the database knows.
            Ok(Err(
                WorkflowQueryError::NotFound(_)
                | WorkflowQueryError::Rejected {
                    status:
                        Some(
                            WorkflowExecutionStatus::Failed
                            | WorkflowExecutionStatus::Canceled
                            | WorkflowExecutionStatus::Terminated
                            | WorkflowExecutionStatus::TimedOut
                            | WorkflowExecutionStatus::ContinuedAsNew,
                        ),
                },
            )) => Answer::Unknown,
            // Open but answering no query (paused), or a status this client does not know.
            Ok(Err(WorkflowQueryError::Rejected { status })) => Answer::Unavailable(format!(
                "the run is {} and answers no status query",
                status.map_or("in a state this host does not know", status_name)
            )),
            Ok(Err(e)) => Answer::Unavailable(format!("the status query failed: {e}")),
            Err(_) => Answer::Unavailable("no worker answered the status query in time".to_owned()),
        }
    }

    /// A closed run's own document: its result, when it completed with one.
    async fn final_view(&self, handle: &OrderHandle) -> Answer {
        let result = tokio::time::timeout(self.timeout, handle.get_result(WorkflowGetResultOptions::default()));
        match result.await {
            Ok(Ok(doc)) => Answer::Document(Box::new(doc), "result"),
            // Runs that ended without a document, and runs gone from retention: the database knows.
            Ok(Err(
                WorkflowGetResultError::Failed(_)
                | WorkflowGetResultError::Cancelled { .. }
                | WorkflowGetResultError::Terminated { .. }
                | WorkflowGetResultError::TimedOut
                | WorkflowGetResultError::NotFound(_),
            )) => Answer::Unknown,
            Ok(Err(e)) => Answer::Unavailable(format!("Temporal did not give the final document: {e}")),
            Err(_) => Answer::Unavailable("Temporal did not give the final document in time".to_owned()),
        }
    }

    /// A status document from the database alone (the workflow is gone from Temporal's retention or not answering).
    async fn database_view(&self, row: &OrderRow) -> Result<StatusDocument, StoreError> {
        let (payment, runs) =
            tokio::join!(self.store.get_payment(&row.payment_id), self.store.plugin_runs(&row.order_id));
        let (payment, runs) = (payment?, runs?);
        let mut plugins = BTreeMap::new();
        for run in &runs {
            let Some(slot) = run.activity.parse::<Activity>().ok().and_then(Activity::slot) else { continue };
            let plugin = PluginRun { name: run.name.clone(), version: run.version.clone(), digest: run.digest.clone() };
            plugins.insert(slot.to_string(), plugin);
        }
        Ok(StatusDocument {
            order_id: row.order_id.clone(),
            state: row.state,
            step: row.step.clone().unwrap_or_default(),
            items: row.items.clone(),
            address: row.address.clone(),
            total_cents: row.total_cents,
            payment: PaymentStatus {
                payment_id: row.payment_id.clone(),
                status: payment.as_ref().map_or(PaymentState::Pending, |p| p.status),
                amount_cents: payment.as_ref().map(|p| p.amount_cents).or(row.total_cents),
                transaction_id: payment.and_then(|p| p.transaction_id),
            },
            shipping: ShippingStatus {
                attempt: 0,
                package_id: row.package_id.clone(),
                carrier: row.carrier.clone(),
                tracking: row.tracking.clone(),
            },
            approval: ApprovalStatus::default(),
            retries: BTreeMap::new(),
            recent_errors: Vec::new(),
            plugins,
            workflow: WorkflowStatus {
                workflow_id: row.order_id.clone(),
                run_id: String::new(),
                status: "UNKNOWN".into(),
            },
            notes: Vec::new(),
            attention: None,
        })
    }
}

/// Temporal's status, the run id, and pending attempts with their last failure.
fn merge_description(doc: &mut StatusDocument, description: &temporalio_client::WorkflowExecutionDescription) {
    status_name(description.status()).clone_into(&mut doc.workflow.status);
    let raw = description.raw();
    if let Some(info) = raw.workflow_execution_info.as_ref().and_then(|i| i.execution.as_ref()) {
        doc.workflow.run_id.clone_from(&info.run_id);
    }
    for pending in &raw.pending_activities {
        let activity = pending.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        let attempt = u32::try_from(pending.attempt).unwrap_or(0);
        let retries = doc.retries.entry(activity.clone()).or_default();
        *retries = (*retries).max(attempt.saturating_sub(1));
        if let Some(failure) = &pending.last_failure {
            let at =
                pending.last_attempt_complete_time.as_ref().map(|t| timestamp(t.seconds, t.nanos)).unwrap_or_default();
            doc.recent_errors.push(RecentError { activity, attempt, message: failure.message.clone(), at });
        }
    }
}

/// Retries, recent errors and the attention message as the events table saw them, merged into the workflow's view.
fn merge_events(doc: &mut StatusDocument, events: &EventSummary) {
    if doc.attention.is_none() {
        doc.attention.clone_from(&events.attention);
    }
    for (activity, n) in &events.failures {
        let retries = doc.retries.entry(activity.clone()).or_default();
        *retries = (*retries).max(*n);
    }
    let mut errors: Vec<RecentError> = events
        .recent_failures
        .iter()
        .filter_map(|e| {
            Some(RecentError {
                activity: e.activity.clone()?,
                attempt: e.attempt.unwrap_or(0),
                message: e.message.clone().unwrap_or_else(|| e.outcome.clone().unwrap_or_default()),
                at: e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
        })
        .collect();
    errors.append(&mut doc.recent_errors);
    errors.sort_by(|a, b| a.at.cmp(&b.at));
    errors.dedup_by(|a, b| a.activity == b.activity && a.attempt == b.attempt && a.message == b.message);
    let skip = errors.len().saturating_sub(RECENT_ERRORS);
    doc.recent_errors = errors.split_off(skip);
}

/// Whether Temporal said the document's run has ended (neither running nor unheard of).
fn run_ended(doc: &StatusDocument) -> bool {
    !matches!(doc.workflow.status.as_str(), "RUNNING" | "UNKNOWN")
}

fn status_name(status: WorkflowExecutionStatus) -> &'static str {
    match status {
        WorkflowExecutionStatus::Running => "RUNNING",
        WorkflowExecutionStatus::Completed => "COMPLETED",
        WorkflowExecutionStatus::Failed => "FAILED",
        WorkflowExecutionStatus::Canceled => "CANCELED",
        WorkflowExecutionStatus::Terminated => "TERMINATED",
        WorkflowExecutionStatus::ContinuedAsNew => "CONTINUED_AS_NEW",
        WorkflowExecutionStatus::TimedOut => "TIMED_OUT",
        WorkflowExecutionStatus::Paused => "PAUSED",
        _ => "UNKNOWN",
    }
}

fn timestamp(seconds: i64, nanos: i32) -> String {
    chrono::DateTime::from_timestamp(seconds, u32::try_from(nanos).unwrap_or(0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
