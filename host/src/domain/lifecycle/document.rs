//! The workflow's own view of the order as a status document (the `status` query and the workflow's result).

use super::Lifecycle;
use crate::domain::{ApprovalStatus, OrderState, StatusDocument, WorkflowStatus};

impl Lifecycle {
    /// The status document as this workflow run knows it; the read model merges in what Temporal and the events
    /// table know.
    pub fn document(&self, workflow_id: &str, run_id: &str) -> StatusDocument {
        let status = match self.state {
            OrderState::Failed => "FAILED",
            s if s.is_terminal() => "COMPLETED",
            _ => "RUNNING",
        };
        StatusDocument {
            order_id: self.order.order_id.clone(),
            state: self.state,
            step: self.step.clone(),
            items: self.order.items.clone(),
            address: self.order.address.clone(),
            total_cents: self.total_cents,
            payment: self.payment.clone(),
            shipping: self.shipping.clone(),
            approval: ApprovalStatus { deadline: self.approval_deadline.clone(), approved: self.approved },
            retries: self.retries.clone(),
            recent_errors: self.recent_errors.clone(),
            plugins: self.plugins.clone(),
            workflow: WorkflowStatus { workflow_id: workflow_id.into(), run_id: run_id.into(), status: status.into() },
            notes: self.notes.clone(),
            attention: self.attention.clone(),
        }
    }
}
