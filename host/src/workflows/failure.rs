//! Reading Temporal failures: the message that explains them and how the lifecycle counts them.

use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};
use temporalio_sdk::ActivityExecutionError;

use crate::activities::failure_types;
use crate::domain::lifecycle::{FailureKind, ShipmentEnd};

/// The innermost failure's message (an activity failure wraps the application failure that explains it).
pub(super) fn describe_failure(failure: Option<&Failure>) -> String {
    let mut current = failure;
    let mut message = String::from("unknown failure");
    while let Some(f) = current {
        if !f.message.is_empty() {
            message.clone_from(&f.message);
        }
        current = f.cause.as_deref();
    }
    message
}

/// How a shipping child ended, from its own failure: the cause right under the child-workflow failure — not deeper,
/// where a step's cancellation or failure inside the child would be found.
pub(super) fn shipment_end(failure: Option<&Failure>) -> ShipmentEnd {
    let own = failure.and_then(|f| f.cause.as_deref());
    match own.and_then(|f| f.failure_info.as_ref()) {
        Some(FailureInfo::CanceledFailureInfo(_)) => ShipmentEnd::Cancelled,
        Some(FailureInfo::ApplicationFailureInfo(info)) if info.r#type == DISPATCH_FAILED => {
            ShipmentEnd::DispatchFailed
        }
        _ => ShipmentEnd::Other,
    }
}

/// The failure type a shipping child ends with when it gives up without dispatching.
pub(super) const DISPATCH_FAILED: &str = "DispatchFailed";

/// How an activity's final failure counts: a cancellation, the plugin's permanent "no", or anything else.
pub(super) fn failure_kind(error: &ActivityExecutionError) -> FailureKind {
    if matches!(error, ActivityExecutionError::Cancelled(_)) {
        FailureKind::Cancelled
    } else if application_type(error.failure()) == Some(failure_types::PLUGIN_PERMANENT) {
        FailureKind::Permanent
    } else {
        FailureKind::Other
    }
}

/// The `type` of the innermost application failure, if any.
fn application_type(failure: Option<&Failure>) -> Option<&str> {
    let mut current = failure;
    let mut found = None;
    while let Some(f) = current {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info {
            found = Some(info.r#type.as_str());
        }
        current = f.cause.as_deref();
    }
    found
}
