//! Money and ownership: what may have been taken is given back or a person is told; a run that never received the
//! order writes nothing; a parcel that may be out is never dispatched again nor refunded.

use super::super::*;
use super::*;
use crate::domain::payloads::Refunded;
use crate::domain::{PaymentState, TimeoutAction};

#[test]
fn a_run_that_was_not_received_writes_nothing() {
    // The row under this id belongs to another run (or the input was refused): no state write may reach it.
    for kind in [FailureKind::Other, FailureKind::Permanent] {
        let mut o = at(At::Receiving);
        let d = run(&mut o, [failed(Activity::ReceiveOrder, kind)]);
        assert!(matches!(d.next, Next::Finish(_)), "{d:?}");
        assert_eq!(d.record, None, "{kind:?}");
    }
}

#[test]
fn a_charge_with_an_unknown_outcome_is_refunded() {
    // The charge gave up (retries exhausted, store unreachable): the processor may hold the money.
    let mut o = at(At::Charging);
    let d = run(&mut o, [failed(Activity::ChargePayment, FailureKind::Other)]);
    let Next::Refund(refund) = &d.next else { panic!("{d:?}") };
    assert_eq!((refund.payment_id.as_str(), refund.transaction_id.as_str()), ("pay-1", ""));
    let refunded = Refunded { refund_id: "rfd-1".into(), plugin: None, attempt: 1 };
    let d = run(&mut o, [Command::Refunded(refunded)]);
    assert_eq!(d.record.map(|r| r.state), Some(OrderState::Failed));
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Refunded);

    // No payment was ever recorded: the refund finds nothing, and says so with an empty refund id.
    let mut o = at(At::Charging);
    run(&mut o, [failed(Activity::ChargePayment, FailureKind::Other)]);
    run(&mut o, [Command::Refunded(Refunded { refund_id: String::new(), plugin: None, attempt: 1 })]);
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Pending);
}

#[test]
fn a_cancel_heard_with_the_approval_refunds_a_charge_it_never_heard_of() {
    // The task that heard the approval charged and was lost; its run again hears approval and cancel together.
    let heard_together = |refund_unheard: bool| {
        let mut o = at(At::AwaitingApproval);
        run(&mut o, [Command::Approve, Command::Cancel { reason: Some("changed my mind".into()) }]);
        assert!(o.cancel_ends_approved_uncharged());
        if refund_unheard {
            o.refund_unheard_charges();
            assert!(!o.cancel_ends_approved_uncharged(), "asked once");
        }
        let d = run(&mut o, [Command::ApprovalWaitEnded { timed_out: false }]);
        (o, d)
    };
    let (mut o, d) = heard_together(true);
    let Next::Refund(refund) = &d.next else { panic!("{d:?}") };
    assert_eq!(refund.payment_id, "pay-1");
    // Nothing was recorded: the refund says so, and the order ends cancelled with nothing taken.
    let d = run(&mut o, [Command::Refunded(Refunded { refund_id: String::new(), plugin: None, attempt: 1 })]);
    assert_eq!(d.record.map(|r| r.state), Some(OrderState::Cancelled));
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Pending);

    // Runs recorded before the rule end at once, as they did.
    let (_, d) = heard_together(false);
    assert!(matches!(d.next, Next::Finish(End::Cancelled { .. })), "{d:?}");

    // Heard before the order was even received (the lost task received, validated and charged it): the same.
    let mut o = at(At::Receiving);
    run(&mut o, [Command::Approve, Command::Cancel { reason: None }]);
    assert!(o.cancel_ends_approved_uncharged());
    o.refund_unheard_charges();
    let d = run(&mut o, [received(TimeoutAction::Cancel, 3)]);
    assert!(matches!(d.next, Next::Refund(_)), "{d:?}");

    // Not approved, or charged: nothing to ask.
    let mut o = at(At::AwaitingApproval);
    run(&mut o, [Command::Cancel { reason: None }]);
    assert!(!o.cancel_ends_approved_uncharged());
    assert!(!at(At::Charging).cancel_ends_approved_uncharged());
}

#[test]
fn a_refund_refused_for_good_tells_a_person() {
    let mut o = at(At::Packing);
    run(&mut o, [Command::ShipmentNotStarted { reason: "id taken".into() }]);
    let d = run(&mut o, [failed(Activity::RefundPayment, FailureKind::Permanent)]);
    let record = d.record.expect("the end is recorded");
    assert_eq!(record.state, OrderState::Failed);
    assert_eq!(record.attention.as_deref(), Some("refund needs attention: no"));
    let doc = o.document("w", "r");
    assert_eq!(
        (doc.payment.status, doc.attention.as_deref()),
        (PaymentState::Charged, Some("refund needs attention: no"))
    );
}

#[test]
fn a_shipment_failing_after_its_dispatch_was_approved_is_neither_redispatched_nor_refunded() {
    let mut o = at(At::DispatchApproved);
    let d = run(
        &mut o,
        [Command::ShipmentFailed {
            shipment: 1,
            message: "ship_order: store down".into(),
            at: None,
            end: ShipmentEnd::Other,
        }],
    );
    assert!(matches!(d.next, Next::Finish(End::Failed { .. })), "no second shipment, no refund: {d:?}");
    let attention = d.record.and_then(|r| r.attention).expect("a person is told");
    assert!(attention.contains("may be with the carrier"), "{attention}");

    // A dispatch the child reported as failed, and ended on, is safe to try again.
    let mut o = at(At::DispatchApproved);
    run(&mut o, [Command::DispatchFailed { shipment: 1, reason: "carrier down".into() }]);
    let failed = Command::ShipmentFailed { shipment: 1, message: "failed".into(), at: None, end: ShipmentEnd::Other };
    let d = o.decide(failed).unwrap();
    assert!(matches!(d.next, Next::Finish(End::Failed { .. })), "a forged dispatch_failed, then a terminate: {d:?}");
    let failed =
        Command::ShipmentFailed { shipment: 1, message: "failed".into(), at: None, end: ShipmentEnd::DispatchFailed };
    let d = run(&mut o, [failed]);
    assert!(matches!(d.next, Next::Ship { .. }), "{d:?}");
}

#[test]
fn runs_recorded_before_the_guards_replay_the_original_rules() {
    // Their histories hold the commands of the original rules; taking the new ones would be nondeterministic.
    let mut o = Lifecycle::new(order());
    o.keep_original_rules();
    let d = run(&mut o, [failed(Activity::ReceiveOrder, FailureKind::Other)]);
    assert!(d.record.is_some(), "the original rules recorded the end");

    let mut o = Lifecycle::new(order());
    o.keep_original_rules();
    let to_charging = [
        received(TimeoutAction::Cancel, 3),
        validated(),
        Command::Approve,
        Command::ApprovalWaitEnded { timed_out: false },
    ];
    run(&mut o, to_charging.clone());
    let d = run(&mut o, [failed(Activity::ChargePayment, FailureKind::Other)]);
    assert!(matches!(d.next, Next::Finish(End::Failed { .. })), "no refund step: {d:?}");

    let mut o = Lifecycle::new(order());
    o.keep_original_rules();
    let ready = Command::PackageReady { shipment: 1, package_id: "pkg-1".into() };
    run(&mut o, to_charging.into_iter().chain([charged(), ready, Command::DispatchApprovalSent { shipment: 1 }]));
    let d = run(
        &mut o,
        [Command::ShipmentFailed { shipment: 1, message: "gone".into(), at: None, end: ShipmentEnd::Other }],
    );
    assert!(matches!(d.next, Next::Ship { .. }), "the original rules shipped again: {d:?}");
}
