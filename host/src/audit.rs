//! `order-host audit`: the money and lifecycle invariants, checked over the database and Temporal.
//!
//! - a `charged` payment belongs to a shipped order, one still running (its refund may be pending), or one marked
//!   as needing attention;
//! - no order is both shipped and refunded, and no order has two charged payments;
//! - no finished order (but a shipped one) keeps a charge whose outcome is unknown (`pending`) unless a person was told;
//! - every finished row matches how its workflow run ended (when Temporal still remembers the run; a Temporal that
//!   does not answer is a violation: nothing was checked). The run is the one that received the order (`run_id`):
//!   a later run refused under the same id does not count.
//!
//! The checks are pure ([`check_order`]); [`run`] feeds them every order, a page at a time.

use std::collections::BTreeMap;
use std::fmt;

use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowDescribeOptions, WorkflowExecutionInfo, WorkflowExecutionStatus};

use crate::domain::{OrderState, PaymentState};
use crate::store::{OrderRow, PaymentRow, Store, StoreError};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub order_id: String,
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order {}: {}", self.order_id, self.problem)
    }
}

/// How the order's workflow run ended, as Temporal reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Running,
    Completed,
    Failed,
    Cancelled,
    /// Terminated or timed out: ended without the workflow's own say.
    Stopped,
    /// Temporal no longer remembers it (retention), or the row predates run ids.
    Unknown,
    /// Temporal did not answer: nothing can be said, and the audit says so.
    Unreachable,
}

/// What the audit found.
#[derive(Debug, Default)]
pub struct Report {
    pub orders: u64,
    pub violations: Vec<Violation>,
    /// Orders a person was told about (`attention` events): not violations, but listed.
    pub attention: Vec<(String, String)>,
}

/// The invariants of one order.
pub fn check_order(
    order: &OrderRow,
    payments: &[PaymentRow],
    needs_attention: bool,
    run: RunOutcome,
) -> Vec<Violation> {
    let mut problems = Vec::new();
    if run == RunOutcome::Unreachable {
        problems.push("Temporal did not answer for its workflow run: not checked".to_owned());
    }
    let charged = payments.iter().filter(|p| p.status == PaymentState::Charged).count();
    let pending = payments.iter().any(|p| p.status == PaymentState::Pending);
    if pending && order.state.is_terminal() && order.state != OrderState::Shipped && !needs_attention {
        problems.push(format!(
            "a charge whose outcome is unknown (payment pending) on an order that ended {}, with nobody told",
            order.state
        ));
    }
    let refunded = payments.iter().any(|p| p.status == PaymentState::Refunded);
    let running = !order.state.is_terminal() && matches!(run, RunOutcome::Running | RunOutcome::Unknown);
    if charged > 0 && order.state != OrderState::Shipped && !running && !needs_attention {
        problems.push(format!("payment charged but the order ended {} with no refund and nobody told", order.state));
    }
    if order.state == OrderState::Shipped && refunded {
        problems.push("shipped and refunded".to_owned());
    }
    if charged > 1 {
        problems.push(format!("{charged} charged payments"));
    }
    let expected = match order.state {
        OrderState::Shipped | OrderState::Rejected => Some(&[RunOutcome::Completed][..]),
        OrderState::Cancelled => Some(&[RunOutcome::Completed, RunOutcome::Cancelled][..]),
        OrderState::Failed => Some(&[RunOutcome::Failed][..]),
        _ => None,
    };
    match (expected, run) {
        (_, RunOutcome::Unknown | RunOutcome::Unreachable) => {}
        (Some(ok), run) if !ok.contains(&run) => {
            problems.push(format!("the row says {} but its workflow run ended {run:?}", order.state));
        }
        (None, run) if run != RunOutcome::Running => {
            problems.push(format!("the row says {} but its workflow run ended {run:?}", order.state));
        }
        _ => {}
    }
    problems.into_iter().map(|problem| Violation { order_id: order.order_id.clone(), problem }).collect()
}

/// Checks every order in `store`; `client` is asked how each order's own run ended.
pub async fn run(store: &dyn Store, client: &Client, namespace: &str) -> Result<Report, StoreError> {
    let attention: BTreeMap<String, String> = store.needing_attention(u32::MAX).await?.into_iter().collect();
    let mut report = Report { attention: attention.clone().into_iter().collect(), ..Report::default() };
    let mut after: Option<String> = None;
    loop {
        let page = store.audit_page(after.as_deref(), 500).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.order_id.clone());
        for (order, payments) in &page {
            report.orders += 1;
            let run = run_outcome(client, namespace, order).await;
            let needs_attention = attention.contains_key(&order.order_id);
            report.violations.extend(check_order(order, payments, needs_attention, run));
        }
    }
    Ok(report)
}

async fn run_outcome(client: &Client, namespace: &str, order: &OrderRow) -> RunOutcome {
    let Some(run_id) = order.run_id.clone() else { return RunOutcome::Unknown };
    let info = WorkflowExecutionInfo::builder()
        .namespace(namespace)
        .workflow_id(order.order_id.clone())
        .run_id(run_id)
        .build();
    let handle = info.bind_untyped(client.clone());
    match handle.describe(WorkflowDescribeOptions::default()).await {
        Ok(description) => match description.status() {
            WorkflowExecutionStatus::Running
            | WorkflowExecutionStatus::ContinuedAsNew
            | WorkflowExecutionStatus::Paused => RunOutcome::Running,
            WorkflowExecutionStatus::Completed => RunOutcome::Completed,
            WorkflowExecutionStatus::Failed => RunOutcome::Failed,
            WorkflowExecutionStatus::Canceled => RunOutcome::Cancelled,
            WorkflowExecutionStatus::Terminated | WorkflowExecutionStatus::TimedOut => RunOutcome::Stopped,
            _ => RunOutcome::Unknown,
        },
        Err(WorkflowInteractionError::NotFound(_)) => RunOutcome::Unknown,
        Err(e) => {
            tracing::warn!(order_id = %order.order_id, error = %e, "audit: Temporal did not describe the run");
            RunOutcome::Unreachable
        }
    }
}
