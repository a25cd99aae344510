//! One activity attempt's bookkeeping: failure simulation at the start, an event and a log line at the end, and the
//! single place where errors become retryable or non-retryable Temporal failures.

use std::time::{Duration, SystemTime};

use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::ActivityDeps;
use super::failure::{InjectAt, Verdict};
use crate::domain::Activity;
use crate::plugins::{Invocation, PluginError};
use crate::store::{NewEvent, StoreError, Transition};

/// The `type` of the `ApplicationFailure`s activities raise; workflows match on them.
pub mod failure_types {
    /// The plugin said the call can never succeed (invalid order, card declined, undeliverable).
    pub const PLUGIN_PERMANENT: &str = "PluginPermanent";
    /// A plugin failure worth retrying (its own retryable answer, trap, timeout, memory limit, busy, not loaded).
    pub const PLUGIN_RETRYABLE: &str = "PluginRetryable";
    /// The database could not be reached or refused for now.
    pub const STORE_UNAVAILABLE: &str = "StoreUnavailable";
    /// The database holds something that contradicts the request (a payment id of another order).
    pub const STORE_CONFLICT: &str = "StoreConflict";
    /// The activity's input can never be processed.
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// Injected by failure simulation.
    pub const SIMULATED: &str = "SimulatedFailure";
}

/// Why an attempt failed.
#[derive(Debug)]
pub(crate) enum AttemptError {
    Plugin(PluginError),
    Store(StoreError),
    /// The input can never be processed (e.g. an order id that is not the workflow id).
    Invalid(String),
    /// The order id or payment id belongs to another run or order: this run may not touch it. Its event (outcome
    /// [`REFUSED`]) lands in that order's log, where it is not one of the owner's failures.
    Refused(String),
    /// The plugin version this payment is bound to (the one its first charge attempt ran on) cannot run here now: never
    /// replaced by another version, retried (another process, or this one later, may load it).
    VersionUnavailable(String),
}

/// The event outcome of an attempt refused because the order is another run's.
pub const REFUSED: &str = "refused";

impl From<PluginError> for AttemptError {
    fn from(e: PluginError) -> Self {
        AttemptError::Plugin(e)
    }
}

impl From<StoreError> for AttemptError {
    fn from(e: StoreError) -> Self {
        AttemptError::Store(e)
    }
}

impl AttemptError {
    /// (event outcome, failure type, retryable)
    fn classify(&self) -> (&'static str, &'static str, bool) {
        use failure_types as t;
        match self {
            AttemptError::Plugin(e) if !e.is_retryable() => ("permanent_error", t::PLUGIN_PERMANENT, false),
            AttemptError::Plugin(_) | AttemptError::VersionUnavailable(_) => {
                ("retryable_error", t::PLUGIN_RETRYABLE, true)
            }
            AttemptError::Store(e) if e.is_transient() => ("retryable_error", t::STORE_UNAVAILABLE, true),
            AttemptError::Store(_) => ("permanent_error", t::STORE_CONFLICT, false),
            AttemptError::Invalid(_) => ("permanent_error", t::INVALID_INPUT, false),
            AttemptError::Refused(_) => (REFUSED, t::STORE_CONFLICT, false),
        }
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Plugin(e) => e.fmt(f),
            AttemptError::Store(e) => e.fmt(f),
            AttemptError::Invalid(m) | AttemptError::Refused(m) | AttemptError::VersionUnavailable(m) => f.write_str(m),
        }
    }
}

/// An attempt in progress.
pub(crate) struct Attempt<'a> {
    deps: &'a ActivityDeps,
    activity: Activity,
    order_id: String,
    workflow_id: String,
    pub(crate) number: u32,
    digest: Option<String>,
    started: std::time::Instant,
}

impl ActivityDeps {
    /// The version of `slot` this order runs on ([`crate::rollout::Rollout::plugin_for`]): a live canary it is
    /// pinned to, else the stable one.
    pub(crate) async fn plugin_for(
        &self,
        order_id: &str,
        slot: crate::plugins::Slot,
    ) -> Result<Option<std::sync::Arc<crate::plugins::LoadedPlugin>>, AttemptError> {
        self.rollout.plugin_for(order_id, slot).await.map_err(|e| match e {
            crate::rollout::RolloutError::Store(e) => AttemptError::Store(e),
            e => AttemptError::VersionUnavailable(e.to_string()),
        })
    }

    /// Starts an attempt of `activity` for `order_id`: applies failure simulation, which may fail or hang it.
    pub(crate) async fn attempt(
        &self,
        ctx: &ActivityContext,
        activity: Activity,
        order_id: &str,
    ) -> Result<Attempt<'_>, ActivityError> {
        let info = ctx.info();
        let attempt = Attempt {
            deps: self,
            activity,
            order_id: order_id.to_owned(),
            workflow_id: info.workflow_id.clone().unwrap_or_default(),
            number: info.attempt,
            digest: None,
            started: std::time::Instant::now(),
        };
        if self.failure.injected(activity, attempt.number, InjectAt::Before) {
            return Err(attempt.simulated("simulated_failure", "injected failure before the work").await);
        }
        match self.failure.verdict(&attempt.workflow_id, activity, attempt.number) {
            Verdict::Pass => Ok(attempt),
            Verdict::Fail => Err(attempt.simulated("simulated_failure", "simulated retryable failure (trellis)").await),
            Verdict::Hang => {
                let _ = attempt.event("simulated_hang", Some("simulated hang (trellis)".to_owned()), None).await;
                hang(ctx).await;
                Err(retryable(failure_types::SIMULATED, "simulated hang ended by timeout or cancellation".to_owned()))
            }
        }
    }
}

impl Attempt<'_> {
    /// Remembers which plugin version this attempt ran, for its event, and records the call's latency.
    pub(crate) fn ran<T>(&mut self, call: &Invocation<T>) {
        if let Some(plugin) = call.plugin.as_deref() {
            let digest = plugin.digest.to_string();
            self.deps.metrics.plugin_call(plugin.slot.as_str(), &digest, call.elapsed);
            self.digest = Some(digest);
        }
    }

    /// Ends the attempt: appends its event, logs it, and maps a failure to a Temporal failure. A success can still be
    /// turned into an injected failure after its effects (`FAILURE_INJECT=<activity>:after:N`).
    pub(crate) async fn finish<T>(
        self,
        result: Result<T, AttemptError>,
        details: Option<serde_json::Value>,
    ) -> Result<T, ActivityError> {
        self.conclude(result.map(|value| (value, None)), details).await
    }

    /// Ends an attempt whose success moves the order (`Transition`, the last of its work): the state and the
    /// attempt's event go to the database in one trip — the event alone when an earlier attempt wrote the state.
    pub(crate) async fn finish_moving<T>(
        self,
        result: Result<(T, Transition), AttemptError>,
        details: Option<serde_json::Value>,
    ) -> Result<T, ActivityError> {
        self.conclude(result.map(|(value, transition)| (value, Some(transition))), details).await
    }

    async fn conclude<T>(
        self,
        result: Result<(T, Option<Transition>), AttemptError>,
        details: Option<serde_json::Value>,
    ) -> Result<T, ActivityError> {
        let error = match result {
            Ok((value, moving)) => {
                if self.deps.failure.injected(self.activity, self.number, InjectAt::After) {
                    // The state is part of the work that was done.
                    if let Some(transition) = &moving {
                        let applied = self.deps.store.transition(&self.order_id, transition).await;
                        self.moved(transition, applied.map_err(|e| self.store_failure(&e))?);
                    }
                    return Err(self.simulated("simulated_failure", "injected failure after the work was done").await);
                }
                match self.completed(moving.as_ref(), details.clone()).await {
                    Ok(()) => {
                        tracing::info!(
                            order_id = %self.order_id, workflow_id = %self.workflow_id,
                            activity = self.activity.name(), attempt = self.number,
                            digest = self.digest.as_deref().unwrap_or("-"), "activity completed"
                        );
                        return Ok(value);
                    }
                    // The state could not be written: the attempt failed like any other store failure in its work
                    // (retried when transient), and says so in an event if the database takes one.
                    Err(e) => AttemptError::Store(e),
                }
            }
            Err(error) => error,
        };
        let (outcome, type_name, is_retryable) = error.classify();
        let message = error.to_string();
        self.event(outcome, Some(message.clone()), details).await?;
        tracing::warn!(
            order_id = %self.order_id, workflow_id = %self.workflow_id, activity = self.activity.name(),
            attempt = self.number, digest = self.digest.as_deref().unwrap_or("-"), retryable = is_retryable,
            error = %message, "activity attempt failed"
        );
        let failure = ApplicationFailure::builder(message).type_name(type_name.to_owned());
        Err(ActivityError::application(failure.non_retryable(!is_retryable).build()))
    }

    /// Records a successful attempt: its `completed` event, with the state it `moving`s the order to in the same trip —
    /// the event alone when an earlier attempt already wrote the state.
    async fn completed(
        &self,
        moving: Option<&Transition>,
        details: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        let event = self.new_event("completed", None, details);
        let applied = match moving {
            Some(transition) => {
                let applied = self.deps.store.transition_with_event(&self.order_id, transition, &event).await?;
                self.moved(transition, applied);
                applied
            }
            None => false,
        };
        if !applied {
            self.deps.store.append_event(&event).await?;
        }
        self.counted("completed");
        Ok(())
    }

    /// Logs the state `transition` moved the order to, if `applied`.
    fn moved(&self, transition: &Transition, applied: bool) {
        if let Some(state) = transition.state.filter(|_| applied) {
            self.state_changed(state);
        }
    }

    /// Logs a state change this attempt wrote.
    pub(crate) fn state_changed(&self, state: crate::domain::OrderState) {
        tracing::info!(
            order_id = %self.order_id, workflow_id = %self.workflow_id, activity = self.activity.name(),
            attempt = self.number, %state, "order state changed"
        );
    }

    async fn simulated(&self, outcome: &str, message: &str) -> ActivityError {
        tracing::info!(
            order_id = %self.order_id, workflow_id = %self.workflow_id, activity = self.activity.name(),
            attempt = self.number, "{message}"
        );
        if let Err(e) = self.event(outcome, Some(message.to_owned()), None).await {
            return e;
        }
        retryable(failure_types::SIMULATED, message.to_owned())
    }

    async fn event(
        &self,
        outcome: &str,
        message: Option<String>,
        details: Option<serde_json::Value>,
    ) -> Result<(), ActivityError> {
        self.counted(outcome);
        self.append(&self.new_event(outcome, message, details)).await
    }

    /// Counts this attempt's outcome and time in the metrics.
    fn counted(&self, outcome: &str) {
        self.deps.metrics.activity_attempt(self.activity.name(), outcome);
        self.deps.metrics.activity_time(self.activity.name(), self.started.elapsed());
    }

    /// This attempt's event.
    fn new_event(&self, outcome: &str, message: Option<String>, details: Option<serde_json::Value>) -> NewEvent {
        NewEvent {
            activity: Some(self.activity.name().to_owned()),
            attempt: Some(self.number),
            outcome: Some(outcome.to_owned()),
            message,
            plugin_digest: self.digest.clone(),
            details,
            ..NewEvent::new(&self.order_id, "activity")
        }
    }

    async fn append(&self, event: &NewEvent) -> Result<(), ActivityError> {
        self.deps.store.append_event(event).await.map(|_| ()).map_err(|e| self.store_failure(&e))
    }

    /// A database failure while recording the attempt: retried.
    fn store_failure(&self, e: &StoreError) -> ActivityError {
        retryable(failure_types::STORE_UNAVAILABLE, format!("cannot record the {} attempt: {e}", self.activity))
    }
}

fn retryable(type_name: &str, message: String) -> ActivityError {
    ActivityError::application(ApplicationFailure::builder(message).type_name(type_name.to_owned()).build())
}

/// A simulated hang: does nothing until the attempt is cancelled or its start-to-close deadline has passed, so no
/// task outlives the attempt it belongs to. An activity of its own hears Temporal's cancel through its heartbeats; a
/// local one (whose heartbeats the SDK drops) is cancelled by the worker itself when its timeout passes or its
/// workflow cancels it, and the deadline stops it in any case.
async fn hang(ctx: &ActivityContext) {
    let deadline = ctx.info().deadline.unwrap_or_else(|| SystemTime::now() + Duration::from_mins(1));
    loop {
        let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
        if left.is_zero() {
            return;
        }
        tokio::select! {
            () = ctx.cancelled() => return,
            () = tokio::time::sleep(left.min(Duration::from_millis(100))) => {}
        }
        let _ = ctx.record_heartbeat(()).await;
    }
}
