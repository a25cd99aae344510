//! Reading Temporal failures: the message that explains them and how the lifecycle counts them.

use temporalio_common::protos::temporal::api::failure::v1::{Failure, failure::FailureInfo};
use temporalio_sdk::ActivityExecutionError;

use crate::activities::failure_types;
use crate::domain::lifecycle::FailureKind;

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
