//! The `orders` task queue's activities: `receive_order`, `validate_order`, `charge_payment`, `refund_payment`, and
//! the `record_state` local activity.

#![allow(missing_debug_implementations)] // the #[activities] macro generates marker types

use std::sync::Arc;

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::ActivityDeps;
use super::attempt::AttemptError;
use super::payloads::{
    ChargeInput, Charged, ReceiveInput, Received, RecordStateInput, RefundInput, Refunded, ValidateInput, Validated,
};
use crate::domain::{Activity, OrderId, OrderInput, OrderState, PaymentId, PaymentState};
use crate::plugins::convert;
use crate::plugins::{LoadedPlugin, PluginError, Registry, Slot, wit};
use crate::rollout::RolloutError;
use crate::store::{NewOrder, PaymentRow, StoreError, Transition};

/// Activities of `OrderWorkflow`.
#[derive(Debug)]
pub struct OrderActivities {
    deps: ActivityDeps,
}

impl OrderActivities {
    pub fn new(deps: ActivityDeps) -> Self {
        OrderActivities { deps }
    }
}

#[activities]
impl OrderActivities {
    /// Records the order (idempotently) and fixes its settings.
    #[activity(name = "receive_order")]
    pub async fn receive_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ReceiveInput,
    ) -> Result<Received, ActivityError> {
        let ReceiveInput { order: input, owner_run_id } = input;
        let attempt = self.deps.attempt(&ctx, Activity::ReceiveOrder, &input.order_id).await?;
        let number = attempt.number;
        let workflow_id = ctx.info().workflow_id.clone().unwrap_or_default();
        let run_id = owner_run_id.or_else(|| ctx.info().workflow_run_id.clone()).unwrap_or_default();
        let result = async {
            // The REST API parsed these already; an order started with the `temporal` CLI is parsed here, once.
            OrderId::parse(&input.order_id).map_err(|e| AttemptError::Invalid(e.to_string()))?;
            PaymentId::parse(&input.payment_id).map_err(|e| AttemptError::Invalid(e.to_string()))?;
            // The REST API checked these too; whoever starts a workflow by other means is held to the same ranges.
            input.options.check().map_err(|e| AttemptError::Invalid(e.to_string()))?;
            if input.order_id != workflow_id {
                return Err(AttemptError::Invalid(format!(
                    "order_id {:?} must equal the workflow id {workflow_id:?}",
                    input.order_id
                )));
            }
            let created = self
                .deps
                .store
                .insert_order(&NewOrder {
                    order_id: input.order_id.clone(),
                    payment_id: input.payment_id.clone(),
                    run_id,
                    items: input.items.clone(),
                    address: input.address.clone(),
                })
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(why) => AttemptError::Refused(why),
                    e => AttemptError::Store(e),
                })?;
            // A live canary takes its share of new orders now, for the order's whole life.
            self.deps.rollout.pin_new_order(&input.order_id).await?;
            Ok(Received { settings: self.deps.defaults.settle(&input.options), created, attempt: number })
        }
        .await;
        attempt.finish(result, None).await
    }

    /// Runs the validation plugin; on success records the normalised order, its total and state `validated`.
    #[activity(name = "validate_order")]
    pub async fn validate_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ValidateInput,
    ) -> Result<Validated, ActivityError> {
        let mut attempt = self.deps.attempt(&ctx, Activity::ValidateOrder, &input.order.order_id).await?;
        let number = attempt.number;
        let order = convert::order(&input.order, 0, number);
        let plugin = match self.deps.plugin_for(&input.order.order_id, Slot::Validation).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let call = Registry::call_on(Slot::Validation, plugin, move |p| p.validate(&order)).await;
        attempt.ran(&call);
        let result = async {
            let valid = call.outcome?;
            if valid.total_cents > OrderInput::MAX_TOTAL_CENTS {
                let message = format!(
                    "the order total of {} cents exceeds the largest accepted, {} cents",
                    valid.total_cents,
                    OrderInput::MAX_TOTAL_CENTS
                );
                return Err(PluginError::Permanent { code: "total_too_large".into(), message }.into());
            }
            let plugin = convert::plugin_run(call.plugin.as_deref().expect("a plugin answered"));
            let order = convert::order_back(valid.order, &input.order);
            let transition = Transition {
                seq: input.seq,
                state: Some(OrderState::Validated),
                step: Some(Activity::ValidateOrder.name().into()),
                total_cents: Some(valid.total_cents),
                items: Some(order.items.clone()),
                address: Some(order.address.clone()),
                ..Transition::default()
            };
            Ok((Validated { order, total_cents: valid.total_cents, plugin, attempt: number }, transition))
        }
        .await;
        let details = result.as_ref().ok().map(|(v, _)| serde_json::json!({ "total_cents": v.total_cents }));
        attempt.finish_moving(result, details).await
    }

    /// Charges the payment once: a payment already charged returns its stored receipt without calling the plugin.
    #[activity(name = "charge_payment")]
    pub async fn charge_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ChargeInput,
    ) -> Result<Charged, ActivityError> {
        // The state entered before this step, written like `record_state` would: before the attempt (and its failure
        // simulation), retried as long as the step is.
        if let Some(before) = &input.before {
            super::write_state(self.deps.store.as_ref(), before).await?;
        }
        let mut attempt = self.deps.attempt(&ctx, Activity::ChargePayment, &input.order_id).await?;
        let number = attempt.number;
        let store = &self.deps.store;
        let charged_state = Transition {
            seq: input.seq,
            state: Some(OrderState::Charged),
            step: Some(Activity::ChargePayment.name().into()),
            ..Transition::default()
        };
        // The payment is bound to the version active at its first attempt: retries (whatever is published meanwhile)
        // and its refund run on that same version, which knows what it did.
        let active = match self.deps.plugin_for(&input.order_id, Slot::Payment).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let digest = active.as_ref().map(|p| p.meta().digest.as_str());
        let payment = match store.begin_payment(&input.payment_id, &input.order_id, input.amount_cents, digest).await {
            Ok(payment) => payment,
            Err(e) => return attempt.finish(Err(e.into()), None).await,
        };
        if payment.status == PaymentState::Charged {
            // An earlier attempt charged and recorded it, then failed to report: reuse its receipt.
            let result = store
                .transition(&input.order_id, &charged_state)
                .await
                .map(|_| Charged {
                    transaction_id: payment.transaction_id.clone().unwrap_or_default(),
                    amount_cents: payment.amount_cents,
                    plugin: None,
                    attempt: number,
                })
                .map_err(AttemptError::from);
            return attempt.finish(result, Some(serde_json::json!({ "reused_receipt": true }))).await;
        }
        if payment.status != PaymentState::Pending {
            let message = format!("payment {} is {}; it cannot be charged", input.payment_id, payment.status.as_str());
            let err = PluginError::Permanent { code: "payment_not_chargeable".into(), message };
            return attempt.finish(Err(err.into()), None).await;
        }

        let request = wit::ChargeRequest {
            payment_id: input.payment_id.clone(),
            order_id: input.order_id.clone(),
            amount_cents: input.amount_cents,
            attempt: number,
        };
        let plugin = match self.payment_version(&payment, active).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let call = Registry::call_on(Slot::Payment, plugin, move |p| p.charge(&request)).await;
        attempt.ran(&call);
        let result = async {
            match call.outcome {
                Ok(receipt) => {
                    let row = store
                        .complete_charge(
                            &input.payment_id,
                            &receipt.transaction_id,
                            Some((&input.order_id, &charged_state)),
                        )
                        .await?;
                    attempt.state_changed(OrderState::Charged);
                    Ok(Charged {
                        transaction_id: row.transaction_id.unwrap_or(receipt.transaction_id),
                        amount_cents: row.amount_cents,
                        plugin: call.plugin.as_deref().map(convert::plugin_run),
                        attempt: number,
                    })
                }
                Err(e) => {
                    if !e.is_retryable() {
                        store.decline_payment(&input.payment_id).await?;
                    }
                    Err(e.into())
                }
            }
        }
        .await;
        let details = result.as_ref().ok().map(|c| serde_json::json!({ "transaction_id": c.transaction_id }));
        attempt.finish(result, details).await
    }

    /// Gives a charged payment back (compensation); refunding twice returns the first refund.
    #[activity(name = "refund_payment")]
    pub async fn refund_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RefundInput,
    ) -> Result<Refunded, ActivityError> {
        let mut attempt = self.deps.attempt(&ctx, Activity::RefundPayment, &input.order_id).await?;
        let number = attempt.number;
        let store = &self.deps.store;
        let payment = match store.get_payment(&input.payment_id).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                // The charge never got as far as recording its payment, and it calls the plugin only after that:
                // nothing was taken.
                let result = Ok(Refunded { refund_id: String::new(), plugin: None, attempt: number });
                return attempt.finish(result, Some(serde_json::json!({ "never_charged": true }))).await;
            }
            Err(e) => return attempt.finish(Err(e.into()), None).await,
        };
        if payment.order_id != input.order_id {
            // Another order's payment (its id reused): never touch it. A person looks at this order.
            let err = AttemptError::Invalid(format!(
                "payment {} belongs to order {}, not {}: not refunded",
                input.payment_id, payment.order_id, input.order_id
            ));
            return attempt.finish(Err(err), None).await;
        }
        if payment.status == PaymentState::Refunded {
            let result =
                Ok(Refunded { refund_id: payment.refund_id.unwrap_or_default(), plugin: None, attempt: number });
            return attempt.finish(result, Some(serde_json::json!({ "reused_refund": true }))).await;
        }
        // `pending`: a charge was attempted and its outcome is unknown; the processor, keyed by the payment id, knows.
        if !matches!(payment.status, PaymentState::Charged | PaymentState::Pending) {
            let err = AttemptError::Invalid(format!(
                "payment {} is {}: nothing to refund",
                input.payment_id,
                payment.status.as_str()
            ));
            return attempt.finish(Err(err), None).await;
        }
        // What was charged, as recorded: the workflow may not know it (a charge whose outcome it never heard).
        let request = wit::RefundRequest {
            payment_id: input.payment_id.clone(),
            transaction_id: payment.transaction_id.clone().unwrap_or_else(|| input.transaction_id.clone()),
            amount_cents: payment.amount_cents,
            reason: input.reason.clone(),
        };
        // On the version that took the charge, whatever is active now: it knows its own transactions.
        let charged_with = payment.plugin_digest.clone();
        let current = match self.deps.plugin_for(&input.order_id, Slot::Payment).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let plugin = match self.payment_version(&payment, current).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let call = Registry::call_on(Slot::Payment, plugin, move |p| p.refund(&request)).await;
        attempt.ran(&call);
        let result = async {
            let receipt = call.outcome?;
            let row = store.refund_payment(&input.payment_id, &receipt.refund_id).await?;
            Ok(Refunded {
                refund_id: row.refund_id.unwrap_or(receipt.refund_id),
                plugin: call.plugin.as_deref().map(convert::plugin_run),
                attempt: number,
            })
        }
        .await;
        let details = Some(serde_json::json!({ "reason": input.reason, "charged_with": charged_with }));
        attempt.finish(result, details).await
    }

    /// Records a state that no business activity writes (`awaiting_approval`, `approved`, `shipping`, `cancelled`,
    /// `rejected`, `failed`). Run as a local activity; no failure simulation: it is bookkeeping.
    #[activity(name = "record_state")]
    pub async fn record_state(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RecordStateInput,
    ) -> Result<(), ActivityError> {
        if super::write_state(self.deps.store.as_ref(), &input).await? {
            tracing::info!(
                order_id = %input.order_id,
                workflow_id = ctx.info().workflow_id.as_deref().unwrap_or_default(),
                activity = Activity::RecordState.name(),
                attempt = ctx.info().attempt,
                state = %input.state,
                step = %input.step,
                reason = input.message.as_deref().unwrap_or_default(),
                "order state changed"
            );
        }
        Ok(())
    }
}

impl OrderActivities {
    /// The payment version `payment` is bound to: `active` when it is that one (or the payment predates versions),
    /// else that version from this process's registry or the store. Never another version: if it cannot run here
    /// now, the attempt fails and is retried.
    async fn payment_version(
        &self,
        payment: &PaymentRow,
        active: Option<Arc<LoadedPlugin>>,
    ) -> Result<Option<Arc<LoadedPlugin>>, AttemptError> {
        let Some(digest) = payment.plugin_digest.as_deref() else {
            return Ok(active);
        };
        if active.as_ref().is_some_and(|p| p.meta().digest.as_str() == digest) {
            return Ok(active);
        }
        self.deps.rollout.version(Slot::Payment, digest).await.map(Some).map_err(|e| match e {
            RolloutError::Store(e) => AttemptError::Store(e),
            e => AttemptError::VersionUnavailable(format!(
                "payment {} is bound to payment plugin {digest}, which cannot run here: {e}",
                payment.payment_id
            )),
        })
    }
}
