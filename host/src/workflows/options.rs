//! Activity options: timeouts and retry policies. Chosen so that with the Trellis failure simulation on (a third of
//! attempts fail, a third hang) an order approved at once still ships within 15 s: a hung attempt costs one
//! start-to-close timeout, a failed one a short backoff.
//!
//! Each business step has its options in two forms ([`Step`]): as an activity of its own (what runs recorded before
//! [`super::patches::LOCAL_STEPS`] replay) and as a local activity (what new runs use), with the same per-attempt
//! timeout, retry policy, retry window and cancellation.

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
fn business(attempt_timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: RETRY_WINDOW,
        start_to_close: attempt_timeout,
    })
    .retry_policy(retry_policy(0))
    .build()
}

/// `dispatch_carrier`: a bounded number of attempts, after which the parent hears `dispatch_failed`.
fn dispatch(attempt_timeout: Duration) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: RETRY_WINDOW,
        start_to_close: attempt_timeout,
    })
    .retry_policy(retry_policy(DISPATCH_ATTEMPTS))
    .build()
}

/// The longest wait between two attempts of a step retried without end ([`compensation`]).
pub const COMPENSATION_MAX_INTERVAL: Duration = Duration::from_mins(1);

/// Compensation (`refund_payment`, and `ship_order` once the parcel is out): retried until it succeeds — money must go
/// back, a dispatched parcel be recorded — and never cancelled with the workflow. Its first retries are as quick as
/// any step's; then the wait grows to [`COMPENSATION_MAX_INTERVAL`], so a refund that fails for a day (the payment
/// provider down) leaves ~1,500 attempts in the events table, not 430,000. (An attempt already scheduled keeps the
/// policy it was scheduled with.)
fn compensation(attempt_timeout: Duration) -> ActivityOptions {
    let mut retry = retry_policy(0);
    retry.set_maximum_interval(Some(COMPENSATION_MAX_INTERVAL));
    ActivityOptions::with_start_to_close_timeout(attempt_timeout)
        .retry_policy(retry)
        .cancellation_token(WorkflowCancellationToken::new())
        .build()
}

/// How long a step that must not be abandoned (the refund, recording a dispatched parcel) retries as a local
/// activity before it becomes an activity of its own, which retries without end and without growing the history (a
/// local activity's long retries each leave a timer and a workflow task in it).
pub const LOCAL_COMPENSATION_WINDOW: Duration = Duration::from_mins(2);

/// Local-activity backoffs longer than this wait on a durable timer; shorter ones retry inside the worker with
/// nothing written to the history. While a local activity runs or retries in the worker, the workflow task stays
/// open and a signal or cancel waits for it: so only the first quick retries (50 and 75 ms backoffs) stay in the
/// worker, and a step that keeps failing retries on timers, with a workflow task between attempts where a cancel
/// is heard.
pub const LOCAL_RETRY_TIMER_PAST: Duration = Duration::from_millis(100);

/// One step's options, as an activity of its own and as a local activity.
#[derive(Debug)]
pub struct Step {
    pub remote: ActivityOptions,
    pub local: LocalActivityOptions,
    /// When the local activity gives up, run the step again as an activity of its own (steps that must not be
    /// abandoned).
    pub fallback: bool,
}

impl Step {
    /// Cancels the step with `token` rather than with the workflow (both forms).
    pub fn cancellation_token(mut self, token: &WorkflowCancellationToken) -> Self {
        self.remote.cancellation_token = Some(token.clone());
        self.local.cancellation_token = Some(token.clone());
        self
    }

    fn local(
        attempt_timeout: Duration,
        window: Duration,
        retry: temporalio_common::RetryPolicy,
    ) -> LocalActivityOptions {
        LocalActivityOptions::builder()
            .start_to_close_timeout(attempt_timeout)
            .schedule_to_close_timeout(window)
            .retry_policy(retry)
            .timer_backoff_threshold(LOCAL_RETRY_TIMER_PAST)
            .build()
    }
}

/// A business step ([`business`]).
pub fn business_step(attempt_timeout: Duration) -> Step {
    Step {
        remote: business(attempt_timeout),
        local: Step::local(attempt_timeout, RETRY_WINDOW, retry_policy(0)),
        fallback: false,
    }
}

/// A business step that must not be abandoned when the workflow is cancelled (the charge): it runs on a cancellation
/// token of its own.
pub fn detached_step(attempt_timeout: Duration) -> Step {
    business_step(attempt_timeout).cancellation_token(&WorkflowCancellationToken::new())
}

/// `dispatch_carrier` ([`dispatch`]).
pub fn dispatch_step(attempt_timeout: Duration) -> Step {
    Step {
        remote: dispatch(attempt_timeout),
        local: Step::local(attempt_timeout, RETRY_WINDOW, retry_policy(DISPATCH_ATTEMPTS)),
        fallback: false,
    }
}

/// A step retried until it succeeds and never cancelled with the workflow ([`compensation`]): as a local activity
/// for [`LOCAL_COMPENSATION_WINDOW`], then ([`Step::fallback`]) as an activity of its own.
pub fn compensation_step(attempt_timeout: Duration) -> Step {
    Step {
        remote: compensation(attempt_timeout),
        // The same quick backoff as every step: under the Trellis simulation a long backoff turned a rare streak of
        // failed attempts into a minute's wait (one order of 200 took 73 s when it grew to 5 s).
        local: Step::local(attempt_timeout, LOCAL_COMPENSATION_WINDOW, retry_policy(0)),
        fallback: true,
    }
    .cancellation_token(&WorkflowCancellationToken::new())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Attempts a retry policy makes within `window`, each failing at once (Temporal's schedule: the n-th retry waits
    /// `initial × coefficient^(n-1)`, at most the maximum interval).
    fn attempts_within(policy: &temporalio_common::RetryPolicy, window: Duration) -> u64 {
        let (mut elapsed, mut wait, mut attempts) = (Duration::ZERO, policy.initial_interval(), 1);
        let most = policy.maximum_interval().unwrap_or(Duration::MAX);
        while elapsed + wait <= window {
            elapsed += wait;
            attempts += 1;
            wait = wait.mul_f64(policy.backoff_coefficient()).min(most);
        }
        attempts
    }

    #[test]
    fn a_refund_retried_without_end_backs_off_to_a_minute_between_attempts() {
        let step = compensation_step(Duration::from_secs(1));
        let remote = step.remote.retry_policy.expect("a retry policy");
        assert_eq!(remote.maximum_attempts(), 0, "never given up");
        let day = attempts_within(&remote, Duration::from_hours(24));
        assert!(day < 2_000, "a refund failing for a day leaves {day} attempts (one event each)");
        let first_second = attempts_within(&remote, Duration::from_secs(1));
        assert!(first_second >= 5, "the first retries stay quick: {first_second} in the first second");
        assert!(step.fallback, "the local form hands over to it");
    }
}
