//! The `shipping` task queue's activities: `prepare_package`, `dispatch_carrier`, `ship_order`.

#![allow(missing_debug_implementations)] // the #[activities] macro generates marker types

use std::sync::Arc;

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::ActivityDeps;
use super::payloads::{
    ClaimInput, Claimed, DispatchInput, Dispatched, PackageInfo, Packed, PrepareInput, ShipInput, Shipped,
};
use crate::domain::{Activity, OrderState};
use crate::plugins::convert;
use crate::plugins::{Registry, Slot, wit};
use crate::store::{ShipmentClaim, StoreError, Transition};

/// Activities of `ShippingWorkflow`.
#[derive(Debug)]
pub struct ShippingActivities {
    deps: ActivityDeps,
}

impl ShippingActivities {
    pub fn new(deps: ActivityDeps) -> Self {
        ShippingActivities { deps }
    }
}

#[activities]
impl ShippingActivities {
    /// Asks the shipping plugin to pack the order.
    #[activity(name = "prepare_package")]
    pub async fn prepare_package(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PrepareInput,
    ) -> Result<Packed, ActivityError> {
        // The parent's `shipping` state, written like `record_state` would (see `charge_payment`).
        if let Some(before) = &input.before {
            super::write_state(self.deps.store.as_ref(), before).await?;
        }
        let mut attempt = self.deps.attempt(&ctx, Activity::PreparePackage, &input.order.order_id).await?;
        let number = attempt.number;
        let order = convert::order(&input.order, input.shipment, number);
        let plugin = match self.deps.plugin_for(&input.order.order_id, Slot::Shipping).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let call = Registry::call_on(Slot::Shipping, plugin, move |p| p.prepare_package(&order)).await;
        attempt.ran(&call);
        let result = call.outcome.map_err(Into::into).map(|p| Packed {
            package: PackageInfo {
                package_id: p.package_id,
                weight_grams: p.weight_grams,
                box_size: convert::box_size(p.box_).to_owned(),
                units: p.units,
            },
            plugin: convert::plugin_run(call.plugin.as_deref().expect("a plugin answered")),
            attempt: number,
        });
        let details = result.as_ref().ok().map(|p| serde_json::to_value(&p.package).unwrap_or_default());
        attempt.finish(result, details).await
    }

    /// Asks the shipping plugin to hand the parcel to a carrier at the order's (latest) address.
    #[activity(name = "dispatch_carrier")]
    pub async fn dispatch_carrier(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DispatchInput,
    ) -> Result<Dispatched, ActivityError> {
        let mut attempt = self.deps.attempt(&ctx, Activity::DispatchCarrier, &input.order.order_id).await?;
        let number = attempt.number;
        // A shipment is dispatched or stopped, never both: the dispatch claims it first. A shipment a stop claimed
        // before, or a dispatch to another address (a run of this task that heard a change, superseding the one this
        // attempt belongs to), is not sent; a parcel claimed before is the one that goes.
        let mut input = input;
        let mut claimed_package = None;
        if input.claim {
            match self.claim_dispatch(&input).await {
                Ok(Claim::Go(package)) => {
                    if package.package_id != input.package.package_id {
                        input.package = package.clone();
                        claimed_package = Some(package);
                    }
                }
                Ok(Claim::Refused(reason)) => {
                    return attempt.finish(Err(StoreError::Conflict(reason).into()), None).await;
                }
                Err(e) => return attempt.finish(Err(e.into()), None).await,
            }
        }
        // One parcel is handed to the carrier once. A workflow task that dispatched can run again from its last
        // commit (its worker died, or the server refused the completion that followed because a signal arrived): the
        // dispatch it recorded is the answer, the carrier is not asked again.
        match self.recorded_dispatch(&input).await {
            Ok(Some(earlier)) => {
                let dispatched = Dispatched { attempt: number, package: claimed_package, ..earlier };
                let details = dispatch_details(&input, &dispatched, true);
                return attempt.finish(Ok(dispatched), Some(details)).await;
            }
            Ok(None) => {}
            Err(e) => return attempt.finish(Err(e.into()), None).await,
        }
        let order = convert::order(&input.order, input.shipment, number);
        let package = wit::Package {
            package_id: input.package.package_id.clone(),
            weight_grams: input.package.weight_grams,
            box_: convert::box_size_back(&input.package.box_size),
            units: input.package.units,
        };
        let plugin = match self.deps.plugin_for(&input.order.order_id, Slot::Shipping).await {
            Ok(plugin) => plugin,
            Err(e) => return attempt.finish(Err(e), None).await,
        };
        let call = Registry::call_on(Slot::Shipping, plugin, move |p| p.dispatch_carrier(&order, &package)).await;
        attempt.ran(&call);
        let result = call.outcome.map_err(Into::into).map(|d| Dispatched {
            carrier: d.carrier,
            tracking: d.tracking,
            eta_days: d.eta_days,
            plugin: convert::plugin_run(call.plugin.as_deref().expect("a plugin answered")),
            attempt: number,
            package: claimed_package,
        });
        let details = result.as_ref().ok().map(|d| dispatch_details(&input, d, false));
        attempt.finish(result, details).await
    }

    /// Claims a shipment for its stop or its dispatch, as its workflow decides when a change reached it before the
    /// dispatch (bookkeeping, no plugin): the claim that holds — a dispatch claimed before wins over a stop.
    #[activity(name = "claim_shipment")]
    pub async fn claim_shipment(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ClaimInput,
    ) -> Result<Claimed, ActivityError> {
        // A database that cannot be reached is retried as long as the step is.
        let held = self.claim(&input).await?;
        tracing::info!(
            order_id = %input.order_id,
            workflow_id = ctx.info().workflow_id.as_deref().unwrap_or_default(),
            shipment = input.shipment,
            asked_stop = input.stop,
            held_stop = held.stop,
            "shipment claimed"
        );
        Ok(held)
    }

    /// Records the order as shipped with its parcel, carrier and tracking number.
    #[activity(name = "ship_order")]
    pub async fn ship_order(self: Arc<Self>, ctx: ActivityContext, input: ShipInput) -> Result<Shipped, ActivityError> {
        let attempt = self.deps.attempt(&ctx, Activity::ShipOrder, &input.order_id).await?;
        let number = attempt.number;
        let transition = Transition {
            seq: input.seq,
            state: Some(OrderState::Shipped),
            step: Some(Activity::ShipOrder.name().into()),
            package_id: Some(input.package_id.clone()),
            carrier: Some(input.carrier.clone()),
            tracking: Some(input.tracking.clone()),
            address: Some(input.address.clone()),
            ..Transition::default()
        };
        attempt.finish_moving(Ok((Shipped { attempt: number }, transition)), None).await
    }
}

/// What a dispatch's claim on its shipment says.
enum Claim {
    /// Dispatch this parcel (the input's, or the one claimed before).
    Go(PackageInfo),
    /// Do not dispatch, for this reason.
    Refused(String),
}

impl ShippingActivities {
    /// Claims a shipment ([`crate::store::Store::claim_shipment`]): the claim that holds, its parcel read back
    /// (`None` when it has none, or one that no longer reads as a parcel).
    async fn claim(&self, claim: &ClaimInput) -> Result<Claimed, StoreError> {
        let asked = ShipmentClaim {
            order_id: claim.order_id.clone(),
            shipment: claim.shipment,
            stop: claim.stop,
            address: claim.address.clone(),
            package: claim.package.as_ref().and_then(|p| serde_json::to_value(p).ok()),
        };
        let held = self.deps.store.claim_shipment(&asked).await?;
        let package = held.package.and_then(|p| serde_json::from_value::<PackageInfo>(p).ok());
        Ok(Claimed { stop: held.stop, address: held.address, package })
    }

    /// Claims the shipment for this dispatch.
    async fn claim_dispatch(&self, input: &DispatchInput) -> Result<Claim, StoreError> {
        let held = self
            .claim(&ClaimInput {
                order_id: input.order.order_id.clone(),
                shipment: input.shipment,
                stop: false,
                address: input.order.address.clone(),
                package: Some(input.package.clone()),
            })
            .await?;
        let (order, shipment) = (&input.order.order_id, input.shipment);
        if held.stop {
            return Ok(Claim::Refused(format!(
                "shipment {shipment} of order {order} was stopped before its dispatch: the parcel is not sent"
            )));
        }
        if held.address != input.order.address {
            return Ok(Claim::Refused(format!(
                "shipment {shipment} of order {order} is claimed for a dispatch to another address: not sent here"
            )));
        }
        Ok(Claim::Go(held.package.unwrap_or_else(|| input.package.clone())))
    }

    /// The dispatch of this shipment's parcel that an earlier attempt completed and recorded, if any.
    async fn recorded_dispatch(&self, input: &DispatchInput) -> Result<Option<Dispatched>, StoreError> {
        let activity = Activity::DispatchCarrier.name();
        let recorded = self.deps.store.completed_details(&input.order.order_id, activity, DISPATCHES_READ).await?;
        Ok(recorded.into_iter().find_map(|details| {
            let same_parcel = details["shipment"] == input.shipment
                && details["package_id"].as_str() == Some(input.package.package_id.as_str());
            same_parcel.then(|| serde_json::from_value::<Dispatched>(details["dispatched"].clone()).ok()).flatten()
        }))
    }
}

/// How many of an order's completed dispatches are read to find this parcel's (one per shipment, a few at most).
const DISPATCHES_READ: u32 = 100;

/// A completed dispatch's event details: where it went and, for a run of its task again, the whole result.
fn dispatch_details(input: &DispatchInput, dispatched: &Dispatched, reused: bool) -> serde_json::Value {
    serde_json::json!({
        "carrier": dispatched.carrier,
        "tracking": dispatched.tracking,
        "zip_code": input.order.address.zip_code,
        "shipment": input.shipment,
        "package_id": input.package.package_id,
        "dispatched": dispatched,
        "reused_dispatch": reused,
    })
}
