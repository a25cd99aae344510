//! Activity options: timeouts and retry policies. Chosen so that with the Trellis failure simulation on (a third of
//! attempts fail, a third hang) an order approved at once still ships within 15 s: a hung attempt costs one
//! start-to-close timeout, a failed one a short backoff.

use std::time::Duration;

use temporalio_sdk::{ActivityCloseTimeouts, ActivityOptions, LocalActivityOptions, WorkflowCancellationToken};

use crate::activities::failure_types;

/// Start-to-close timeout of `receive_order`, which runs before the order's settings are known.
pub const RECEIVE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a business activity may keep retrying before the order gives up on it.
pub const RETRY_WINDOW: Duration = Duration::from_mins(5);
/// `dispatch_carrier` attempts before a dispatch counts as failed for good.
pub const DISPATCH_ATTEMPTS: u32 = 20;

fn retry_policy(max_attempts: u32) -> temporalio_common::RetryPolicy {
    temporalio_common::RetryPolicy::builder()
        .initial_interval(Duration::from_millis(50))
        .backoff_coefficient(1.5)
        .maximum_interval(Duration::from_millis(200))
        .maximum_attempts(max_attempts)
        .non_retryable_error_types([
            failure_types::PLUGIN_PERMANENT,
            failure_types::STORE_CONFLICT,
            failure_types::INVALID_INPUT,
        ])
        .build()
}

/// A business activity: bounded per attempt and overall, retried quickly.
pub fn business(attempt_timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: RETRY_WINDOW,
        start_to_close: attempt_timeout,
    })
    .retry_policy(retry_policy(0))
    .build()
}

/// A business activity that must not be abandoned when the workflow is cancelled (the charge): it runs on a
/// cancellation token of its own.
pub fn detached(attempt_timeout: Duration) -> ActivityOptions {
    let mut options = business(attempt_timeout);
    options.cancellation_token = Some(WorkflowCancellationToken::new());
    options
}

/// `dispatch_carrier`: a bounded number of attempts, after which the parent hears `dispatch_failed`.
pub fn dispatch(attempt_timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: RETRY_WINDOW,
        start_to_close: attempt_timeout,
    })
    .retry_policy(retry_policy(DISPATCH_ATTEMPTS))
    .build()
}

/// Compensation (`refund_payment`): retried until it succeeds — money must go back — and never cancelled with the
/// workflow.
pub fn compensation(attempt_timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(attempt_timeout)
        .retry_policy(retry_policy(0))
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// `record_state`, a local activity: bookkeeping that must happen, on a token of its own so it also runs while
/// the workflow is being cancelled.
pub fn bookkeeping() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .retry_policy(
            temporalio_common::RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .maximum_interval(Duration::from_secs(2))
                .build(),
        )
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}
