//! Paths through the lifecycle: the happy path, approvals, cancels at each point, re-shipping, failures.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::*;
use super::*;
use crate::domain::payloads::{Refunded, ValidateInput};
use crate::domain::{PaymentState, TimeoutAction, sample};

#[test]
fn the_happy_path_records_every_state_in_order() {
    let mut o = Lifecycle::new(order());
    assert_eq!(o.start(), Next::Receive(order()));
    let d = run(&mut o, [received(TimeoutAction::Cancel, 3)]);
    assert!(matches!(d.next, Next::Validate(ValidateInput { seq: 2, .. })), "{d:?}");
    let d = run(&mut o, [validated()]);
    assert_eq!(
        d.record.as_ref().map(|r| (r.state, r.seq, r.step.as_str())),
        Some((OrderState::AwaitingApproval, 3, "manual_review"))
    );
    assert_eq!(d.next, Next::AwaitApproval(Duration::from_secs(10)));
    assert_eq!(o.document("w", "r").approval.deadline.as_deref(), Some("1970-01-01T00:00:10Z"));
    run(&mut o, [Command::Approve]);
    assert!(o.approval_settled());
    let d = run(&mut o, [Command::ApprovalWaitEnded { timed_out: false }]);
    assert_eq!(d.record.as_ref().map(|r| (r.state, r.seq)), Some((OrderState::Approved, 4)));
    assert!(matches!(&d.next, Next::Charge(c) if c.seq == 5 && c.amount_cents == 4200 && c.payment_id == "pay-1"));
    let d = run(&mut o, [charged()]);
    assert_eq!(d.record.as_ref().map(|r| (r.state, r.seq)), Some((OrderState::Shipping, 6)));
    let Next::Ship { input, workflow_id, task_queue } = d.next else { panic!("{:?}", d.next) };
    assert_eq!(
        (input.shipment, input.shipped_seq, workflow_id.as_str(), task_queue.as_str()),
        (1, 7, "order-1-shipping-1", "shipping")
    );
    let d = run(&mut o, [shipped()]);
    assert_eq!((d.record, d.next), (None, Next::Finish(End::Shipped)));
    let doc = o.document("order-1", "run");
    assert_eq!(
        (doc.state, doc.step.as_str(), doc.workflow.status.as_str()),
        (OrderState::Shipped, "shipped", "COMPLETED")
    );
    assert_eq!(doc.retries, BTreeMap::from([("dispatch_carrier".into(), 1), ("validate_order".into(), 1)]));
    assert_eq!(doc.payment.status, PaymentState::Charged);
}

#[test]
fn approve_before_validation_skips_the_wait() {
    let mut o = Lifecycle::new(order());
    let d = run(&mut o, [Command::Approve, received(TimeoutAction::Cancel, 3), validated()]);
    assert_eq!(d.record.map(|r| r.state), Some(OrderState::Approved));
    assert!(matches!(d.next, Next::Charge(_)));
}

#[test]
fn approve_after_timeout_is_refused() {
    let mut o = at(At::AwaitingApproval);
    let d = run(&mut o, [Command::ApprovalWaitEnded { timed_out: true }]);
    assert_eq!(
        d.record.map(|r| (r.state, r.message)),
        Some((OrderState::Cancelled, Some("approval timed out".into())))
    );
    assert_eq!(d.next, Next::Finish(End::Cancelled { reason: "approval timed out".into(), by_server: false }));
    assert_eq!(o.decide(Command::Approve).unwrap_err(), Refusal::NotAwaitingApproval(OrderState::Cancelled));
}

#[test]
fn timeout_may_approve_instead() {
    let mut o = Lifecycle::new(order());
    let d =
        run(&mut o, [received(TimeoutAction::Approve, 3), validated(), Command::ApprovalWaitEnded { timed_out: true }]);
    assert!(matches!(d.next, Next::Charge(_)));
    assert_eq!(o.document("w", "r").notes, ["approved automatically: the approval timeout passed"]);
}

#[test]
fn cancel_during_charge_refunds_after_the_charge() {
    let mut o = at(At::Charging);
    let d = run(&mut o, [Command::Cancel { reason: Some("too slow".into()) }]);
    assert_eq!(d.next, Next::Continue, "the charge is never raced: it finishes first");
    let d = run(&mut o, [charged()]);
    let Next::Refund(refund) = d.next else { panic!("{:?}", d.next) };
    assert_eq!(
        (refund.transaction_id.as_str(), refund.amount_cents, refund.reason.as_str()),
        ("txn-1", 4200, "too slow")
    );
    let d = run(&mut o, [Command::Refunded(Refunded { refund_id: "r".into(), plugin: None, attempt: 1 })]);
    assert_eq!(d.record.map(|r| r.state), Some(OrderState::Cancelled));
    assert_eq!(d.next, Next::Finish(End::Cancelled { reason: "too slow".into(), by_server: false }));
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Refunded);
}

#[test]
fn cancel_while_packing_cancels_the_child_then_refunds() {
    let mut o = at(At::Packing);
    assert!(!o.shipment_needs_driver());
    run(&mut o, [Command::Cancel { reason: None }]);
    assert!(o.shipment_needs_driver());
    assert_eq!(o.shipment_step(), Next::CancelShipment { reason: "cancelled by request".into() });
    // A package_ready that arrives after the cancel does not commit the dispatch.
    run(&mut o, [Command::PackageReady { shipment: 1, package_id: "pkg".into() }]);
    assert_eq!(o.shipment_step(), Next::CancelShipment { reason: "cancelled by request".into() });
    assert!(matches!(run(&mut o, [Command::Interrupted]).next, Next::Refund(_)));
}

#[test]
fn cancel_after_dispatch_is_refused_and_the_parcel_ships() {
    let mut o = at(At::DispatchReady);
    assert_eq!(o.shipment_step(), Next::ApproveDispatch { shipment: 1, address: sample::address() });
    assert_eq!(o.decide(Command::Cancel { reason: None }).unwrap_err(), Refusal::Dispatched);
    run(&mut o, [Command::DispatchApprovalSent { shipment: 1 }, Command::ServerCancelled { reason: "ops".into() }]);
    assert!(o.must_finish_shipment(), "a server cancel waits for a committed parcel");
    assert_eq!(run(&mut o, [shipped()]).next, Next::Finish(End::Shipped));
}

#[test]
fn address_change_after_package_ready_is_refused_and_before_it_reaches_dispatch() {
    let mut o = at(At::Packing);
    run(&mut o, [Command::UpdateAddress(other_address())]);
    run(&mut o, [Command::PackageReady { shipment: 1, package_id: "pkg".into() }]);
    assert_eq!(o.shipment_step(), Next::ApproveDispatch { shipment: 1, address: other_address() });
    assert_eq!(o.decide(Command::UpdateAddress(sample::address())).unwrap_err(), Refusal::Dispatched);
}

#[test]
fn an_address_update_during_validation_wins_over_the_validators_copy() {
    let mut o = at(At::Validating);
    run(&mut o, [Command::UpdateAddress(other_address()), validated()]);
    assert_eq!(o.order().address, other_address());
}

#[test]
fn dispatch_failed_retries_shipping_then_fails_and_refunds_on_the_last_attempt() {
    let mut o = charged_with_attempts(2);
    let fail = |n: u32| {
        [
            Command::DispatchFailed { shipment: n, reason: format!("carrier {n} refused") },
            Command::ShipmentFailed {
                shipment: n,
                message: "child failed".into(),
                at: None,
                end: ShipmentEnd::DispatchFailed,
            },
        ]
    };
    let d = run(&mut o, fail(1));
    assert!(
        matches!(&d.next, Next::Ship { input, workflow_id, .. } if input.shipment == 2 && workflow_id == "order-1-shipping-2")
    );
    assert_eq!(
        o.decide(Command::DispatchFailed { shipment: 1, reason: "stale".into() }).unwrap_err(),
        Refusal::NotCurrentShipment { shipment: 1, current: 2 }
    );
    let d = run(&mut o, fail(2));
    let Next::Refund(refund) = d.next else { panic!("{:?}", d.next) };
    assert_eq!(refund.reason, "shipping failed 2 time(s): carrier 1 refused; carrier 2 refused");
    let doc = o.document("w", "r");
    assert_eq!(
        doc.recent_errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["shipment 1 failed: carrier 1 refused", "shipment 2 failed: carrier 2 refused"]
    );
}

#[test]
fn failures_reject_fail_or_cancel() {
    let mut o = at(At::Validating);
    let d = run(&mut o, [failed(Activity::ValidateOrder, FailureKind::Permanent)]);
    assert_eq!(d.next, Next::Finish(End::Rejected { reason: "no".into() }));

    let mut o = at(At::Charging);
    let d = run(&mut o, [failed(Activity::ChargePayment, FailureKind::Permanent)]);
    assert_eq!(d.next, Next::Finish(End::Rejected { reason: "no".into() }), "a declined payment is not refunded");
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Declined);

    let mut o = at(At::Receiving);
    let d = run(&mut o, [failed(Activity::ReceiveOrder, FailureKind::Other)]);
    assert_eq!(d.next, Next::Finish(End::Failed { reason: "receive_order: no".into() }));

    let mut o = at(At::Validating);
    let d = run(
        &mut o,
        [Command::ServerCancelled { reason: "ops".into() }, failed(Activity::ValidateOrder, FailureKind::Cancelled)],
    );
    assert_eq!(d.next, Next::Finish(End::Cancelled { reason: "ops".into(), by_server: true }));
}

#[test]
fn a_failed_refund_still_ends_the_order_and_stays_on_record() {
    let mut o = at(At::Packing);
    run(&mut o, [Command::ShipmentNotStarted { reason: "id taken".into() }]);
    let d = run(&mut o, [failed(Activity::RefundPayment, FailureKind::Other)]);
    assert_eq!(d.next, Next::Finish(End::Failed { reason: "id taken".into() }));
    assert_eq!(o.document("w", "r").recent_errors.last().map(|e| e.activity.as_str()), Some("refund_payment"));
}

#[test]
fn outcomes_that_do_not_fit_the_stage_are_refused() {
    let o = at(At::AwaitingApproval);
    assert!(matches!(
        o.decide(charged()),
        Err(Refusal::Unexpected { command: "charge_payment", stage: "awaiting_approval" })
    ));
    assert!(matches!(o.decide(shipped()), Err(Refusal::Unexpected { .. })));
    assert!(matches!(o.decide(failed(Activity::ChargePayment, FailureKind::Other)), Err(Refusal::Unexpected { .. })));
    assert!(matches!(at(At::Shipped).decide(received(TimeoutAction::Cancel, 1)), Err(Refusal::Unexpected { .. })));
}

#[test]
fn recent_errors_keep_the_latest_ten() {
    let mut o = charged_with_attempts(20);
    for n in 1..=12 {
        run(
            &mut o,
            [Command::ShipmentFailed { shipment: n, message: format!("m{n}"), at: None, end: ShipmentEnd::Other }],
        );
    }
    let doc = o.document("w", "r");
    assert_eq!(doc.recent_errors.len(), RECENT_ERRORS);
    assert_eq!(doc.recent_errors[0].message, "shipment 3 failed: m3");
}

/// An order charged and packing its first shipment, allowed `attempts` shipments.
fn charged_with_attempts(attempts: u32) -> Lifecycle {
    let mut o = Lifecycle::new(order());
    let to_charged = [
        received(TimeoutAction::Cancel, attempts),
        validated(),
        Command::Approve,
        Command::ApprovalWaitEnded { timed_out: false },
        charged(),
    ];
    run(&mut o, to_charged);
    o
}
