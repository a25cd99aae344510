//! Assembling the status document from three sources: the workflow's `status` query (its own view), the execution's
//! description (Temporal's status, pending activity attempts and their last failure) and the events table (every
//! attempt ever made). When the workflow cannot answer — no worker running — the database's view is returned,
//! marked as such, rather than an error.

use std::collections::BTreeMap;

use temporalio_client::errors::WorkflowQueryError;
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowQueryOptions};

use super::AppState;
use super::error::ApiError;
use crate::domain::{
    ApprovalStatus, OrderId, PaymentState, PaymentStatus, PluginRun, RecentError, ShippingStatus, StatusDocument,
    WorkflowStatus,
};
use crate::plugins::Slot;
use crate::store::{EventRow, OrderRow};
use crate::workflows::OrderWorkflow;

/// How many errors the document lists.
const RECENT_ERRORS: usize = 10;

/// The merged status of order `id`.
pub async fn order_status(state: &AppState, id: &OrderId) -> Result<StatusDocument, ApiError> {
    let handle = state.order_handle(id);
    let timeout = state.command_timeout;
    let (query, description, events, row) = tokio::join!(
        tokio::time::timeout(timeout, handle.query(OrderWorkflow::status, (), WorkflowQueryOptions::default())),
        tokio::time::timeout(timeout, handle.describe(WorkflowDescribeOptions::default())),
        state.store.events(id.as_str(), 10_000),
        state.store.get_order(id.as_str()),
    );
    let events = events?;
    let row = row?;
    let mut doc = match query {
        Ok(Ok(doc)) => doc,
        Ok(Err(WorkflowQueryError::NotFound(_))) => match &row {
            Some(row) => from_row(state, row, &events).await?,
            None => return Err(ApiError::not_found(format!("no order {id}"))),
        },
        other => {
            let why = match other {
                Err(_) => "no worker answered the status query in time".to_owned(),
                Ok(Err(e)) => format!("the status query failed: {e}"),
                Ok(Ok(_)) => unreachable!(),
            };
            let Some(row) = &row else {
                return Err(ApiError::unavailable(format!("{why}, and the database does not know order {id} yet")));
            };
            let mut doc = from_row(state, row, &events).await?;
            doc.notes.push(format!("{why}: this is the database's view"));
            doc
        }
    };
    if let Ok(Ok(description)) = description {
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
                let at = pending
                    .last_attempt_complete_time
                    .as_ref()
                    .map(|t| timestamp(t.seconds, t.nanos))
                    .unwrap_or_default();
                doc.recent_errors.push(RecentError { activity, attempt, message: failure.message.clone(), at });
            }
        }
    }
    merge_events(&mut doc, &events);
    Ok(doc)
}

/// Retries, recent errors and plugin digests as the events table saw them, merged into the workflow's view.
fn merge_events(doc: &mut StatusDocument, events: &[EventRow]) {
    let mut failed: BTreeMap<String, u32> = BTreeMap::new();
    let mut errors = Vec::new();
    for e in events.iter().filter(|e| e.kind == "activity") {
        let Some(activity) = &e.activity else { continue };
        if e.outcome.as_deref() != Some("completed") {
            *failed.entry(activity.clone()).or_default() += 1;
            errors.push(RecentError {
                activity: activity.clone(),
                attempt: e.attempt.unwrap_or(0),
                message: e.message.clone().unwrap_or_else(|| e.outcome.clone().unwrap_or_default()),
                at: e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
        }
    }
    for (activity, n) in failed {
        let retries = doc.retries.entry(activity).or_default();
        *retries = (*retries).max(n);
    }
    errors.append(&mut doc.recent_errors);
    errors.sort_by(|a, b| a.at.cmp(&b.at));
    errors.dedup_by(|a, b| a.activity == b.activity && a.attempt == b.attempt && a.message == b.message);
    let skip = errors.len().saturating_sub(RECENT_ERRORS);
    doc.recent_errors = errors.split_off(skip);
}

/// A status document from the database alone (the workflow is gone from Temporal's retention or not answering).
async fn from_row(state: &AppState, row: &OrderRow, events: &[EventRow]) -> Result<StatusDocument, ApiError> {
    let payment = state.store.get_payment(&row.payment_id).await?;
    let mut plugins = BTreeMap::new();
    for e in events {
        let (Some(activity), Some(digest)) = (e.activity.as_deref(), e.plugin_digest.clone()) else { continue };
        let slot = match activity {
            "validate_order" => Slot::Validation,
            "charge_payment" | "refund_payment" => Slot::Payment,
            _ => Slot::Shipping,
        };
        let known = state.registry.status(slot).history.into_iter().find(|v| v.meta.digest.as_str() == digest);
        let (name, version) = known.map(|v| (v.meta.name.clone(), v.meta.version.clone())).unwrap_or_default();
        plugins.insert(slot.to_string(), PluginRun { name, version, digest });
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
        workflow: WorkflowStatus { workflow_id: row.order_id.clone(), run_id: String::new(), status: "UNKNOWN".into() },
        notes: Vec::new(),
    })
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
