//! Running one business step: as a local activity (new runs), or as an activity of its own (runs recorded before
//! [`super::patches::LOCAL_STEPS`], which must replay as they were recorded).
//!
//! A local activity runs in the worker that runs the workflow task, inside that task: no activity task is scheduled,
//! polled or completed on the server, and its result is one `MarkerRecorded` event named after the activity. The
//! activity function is the same either way — the same failure simulation, plugin call, idempotent write and one
//! event per attempt with the plugin digest that ran it. What differs: retries with a short backoff happen inside
//! the worker (history shows the final attempt's marker; the events table shows every attempt); a start-to-close
//! timeout cancels the attempt in the worker; a worker that dies mid-step leaves the workflow task to time out, and
//! the step runs again elsewhere — which every step already survives, being idempotent.

use temporalio_common::ActivityDefinition;
use temporalio_common::data_converters::TemporalDeserializable;
use temporalio_sdk::{ActivityExecutionError, WorkflowContext};

use super::options::Step;

/// Runs the step `activity` names with `input` as `options` say, locally when `local`.
pub(super) async fn run<W, AD>(
    ctx: &WorkflowContext<W>,
    local: bool,
    activity: impl Fn() -> AD,
    input: AD::Input,
    options: Step,
) -> Result<AD::Output, ActivityExecutionError>
where
    AD: ActivityDefinition,
    AD::Input: Clone,
    AD::Output: TemporalDeserializable,
{
    if !local {
        return ctx.execute_activity(activity(), input, options.remote).await;
    }
    let mut local_options = options.local;
    // Shown next to the step's marker in the Temporal UI.
    local_options.summary = Some(activity().name().to_owned());
    let result = ctx.execute_local_activity(activity(), input.clone(), local_options).await;
    match result {
        Err(ActivityExecutionError::Cancelled(_)) => result,
        // A step that must not be abandoned keeps going as an activity of its own (a permanent failure fails there
        // again at once, as the retry policy says).
        Err(_) if options.fallback => ctx.execute_activity(activity(), input, options.remote).await,
        result => result,
    }
}
