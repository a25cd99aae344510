//! Delegated dispatch: the child is started with the go-ahead, and cancels and address changes are asked of it. The
//! money rules hold whatever the child (or someone sending signals in its name) answers: a stop is honoured only by
//! the child's end as cancelled, a parcel that may be out is never refunded.

use super::super::*;
use super::*;
use crate::domain::payloads::{Refunded, ShipmentChange};
use crate::domain::{PaymentState, TimeoutAction, sample};

/// A charged order whose first shipment's child holds the dispatch.
fn delegated(attempts: u32) -> Lifecycle {
    let mut o = Lifecycle::new(order());
    o.delegate_dispatch();
    let d = run(
        &mut o,
        [
            received(TimeoutAction::Cancel, attempts),
            validated(),
            Command::Approve,
            Command::ApprovalWaitEnded { timed_out: false },
            charged(),
        ],
    );
    let Next::Ship { input, .. } = d.next else { panic!("{:?}", d.next) };
    assert!(input.delegated, "the child is told it holds the dispatch");
    assert_eq!(o.stage(), &Stage::Shipping { shipment: 1, dispatch: Dispatch::Delegated });
    o
}

fn ended(end: ShipmentEnd) -> Command {
    Command::ShipmentFailed { shipment: 1, message: "child ended".into(), at: None, end }
}

fn refunded() -> Command {
    Command::Refunded(Refunded { refund_id: "r-1".into(), plugin: None, attempt: 1 })
}

/// Asks `command` of the shipment the way the driver does: applied, then sent; what the child is sent.
fn ask_for(o: &mut Lifecycle, command: Command) -> ShipmentChange {
    let d = o.apply(command).expect("asked");
    let change = d.ask.expect("the child must be asked");
    assert_eq!((d.message, d.next), (None, Next::Continue), "no answer yet");
    assert!(!o.answered(change));
    assert!(o.shipment_needs_driver());
    let Next::AskShipment(request) = o.shipment_step() else { panic!("{:?}", o.shipment_step()) };
    assert_eq!((request.change, request.shipment), (change, 1));
    run(o, [Command::ShipmentAsked { change, undelivered: None }]);
    assert!(!o.shipment_needs_driver(), "sent once");
    request
}

/// [`ask_for`], the change's number.
fn ask(o: &mut Lifecycle, command: Command) -> u32 {
    ask_for(o, command).change
}

#[test]
fn a_shipment_that_nobody_changes_needs_nothing_from_the_driver() {
    let mut o = delegated(3);
    assert!(!o.shipment_needs_driver());
    assert_eq!(o.shipment_step(), Next::Continue);
    assert_eq!(run(&mut o, [shipped()]).next, Next::Finish(End::Shipped));
}

#[test]
fn a_stop_the_child_takes_cancels_and_refunds_when_it_ends_cancelled() {
    let mut o = delegated(3);
    let request = ask_for(&mut o, Command::Cancel { reason: Some("changed my mind".into()) });
    assert!(request.stop && request.address.is_none());
    let change = request.change;
    let d = run(&mut o, [ended(ShipmentEnd::Cancelled)]);
    assert!(matches!(d.next, Next::Refund(_)), "{d:?}");
    assert_eq!(o.take_answer(change), Some(Ok("cancellation accepted; the payment will be refunded".into())));
    let d = run(&mut o, [refunded()]);
    assert_eq!(
        d.next,
        Next::Finish(End::Cancelled { reason: "changed my mind".into(), by_server: false }),
        "the person's reason"
    );
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Refunded);
}

#[test]
fn a_stop_refused_by_a_dispatching_child_is_refused_and_the_parcel_ships_unrefunded() {
    let mut o = delegated(3);
    let change = ask(&mut o, Command::Cancel { reason: None });
    run(&mut o, [Command::ShipmentAnswered { shipment: 1, change, taken: false }]);
    assert_eq!(o.take_answer(change), Some(Err(Refusal::Dispatched)));
    assert_eq!(o.decide(Command::Cancel { reason: None }).unwrap_err(), Refusal::Dispatched, "now refused at once");
    assert_eq!(o.decide(Command::UpdateAddress(other_address())).unwrap_err(), Refusal::Dispatched);
    assert_eq!(run(&mut o, [shipped()]).next, Next::Finish(End::Shipped));
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Charged);
}

#[test]
fn a_stop_is_never_taken_on_the_childs_word_only_by_its_end() {
    // Someone sends `shipment_change_answered` with taken=true for the stop; the child goes on and ships.
    let mut o = delegated(3);
    let change = ask(&mut o, Command::Cancel { reason: None });
    run(&mut o, [Command::ShipmentAnswered { shipment: 1, change, taken: true }]);
    assert!(!o.answered(change), "still waiting for the child's end");
    assert_eq!(run(&mut o, [shipped()]).next, Next::Finish(End::Shipped), "shipped and not refunded");
    assert_eq!(o.take_answer(change), Some(Err(Refusal::Dispatched)));
    assert_eq!(o.document("w", "r").payment.status, PaymentState::Charged);
}

#[test]
fn an_address_the_child_takes_is_the_orders_and_one_it_cannot_is_refused() {
    let mut o = delegated(3);
    let change = ask(&mut o, Command::UpdateAddress(other_address()));
    run(&mut o, [Command::ShipmentAnswered { shipment: 1, change, taken: true }]);
    assert_eq!(o.take_answer(change), Some(Ok("address updated; it will be used for dispatch".into())));
    assert_eq!(o.order().address, other_address());
    assert!(!o.answered(change) || o.take_answer(change).is_none(), "taken once, then forgotten");

    let second = ask(&mut o, Command::UpdateAddress(sample::address()));
    run(&mut o, [Command::ShipmentAnswered { shipment: 1, change: second, taken: false }]);
    assert_eq!(o.take_answer(second), Some(Err(Refusal::Dispatched)));
    assert_eq!(o.order().address, other_address(), "the refused address is not the order's");
    // The child's result names where the parcel went.
    let Command::Shipped(mut result) = shipped() else { unreachable!() };
    result.address = Some(other_address());
    run(&mut o, [Command::Shipped(result)]);
    assert_eq!(o.document("w", "r").address, other_address());
}

#[test]
fn a_child_that_failed_without_saying_its_dispatch_failed_may_have_shipped() {
    let mut o = delegated(3);
    let change = ask(&mut o, Command::Cancel { reason: None });
    // Even with a dispatch_failed signal: anyone can send it, only the child's end counts.
    run(&mut o, [Command::DispatchFailed { shipment: 1, reason: "forged".into() }]);
    let d = run(&mut o, [ended(ShipmentEnd::Other)]);
    assert!(matches!(d.next, Next::Finish(End::Failed { .. })), "neither redispatched nor refunded: {d:?}");
    assert!(d.record.and_then(|r| r.attention).is_some_and(|a| a.contains("may be with the carrier")));
    assert_eq!(o.take_answer(change), Some(Err(Refusal::Dispatched)));
}

#[test]
fn a_dispatch_failure_lets_the_stop_hold_and_the_order_is_refunded() {
    let mut o = delegated(3);
    let change = ask(&mut o, Command::Cancel { reason: None });
    run(&mut o, [Command::DispatchFailed { shipment: 1, reason: "no carrier".into() }]);
    assert!(!o.answered(change), "a dispatch_failed signal alone decides nothing: anyone can send it");
    let d = run(&mut o, [ended(ShipmentEnd::DispatchFailed)]);
    assert!(matches!(d.next, Next::Refund(_)), "{d:?}");
    assert_eq!(o.take_answer(change), Some(Ok("cancellation accepted; the payment will be refunded".into())));
}

#[test]
fn a_forged_dispatch_failed_does_not_let_a_cancel_through_without_the_child() {
    let mut o = delegated(3);
    run(&mut o, [Command::DispatchFailed { shipment: 1, reason: "forged".into() }]);
    let d = o.decide(Command::Cancel { reason: None }).expect("asked");
    assert!(d.ask.is_some(), "still asked of the child, not taken here");
}

#[test]
fn a_server_cancel_asks_the_child_to_stop_and_ends_cancelled_by_the_server() {
    let mut o = delegated(3);
    run(&mut o, [Command::ServerCancelled { reason: "ops".into() }]);
    let Next::AskShipment(request) = o.shipment_step() else { panic!("{:?}", o.shipment_step()) };
    assert!(request.stop);
    run(&mut o, [Command::ShipmentAsked { change: request.change, undelivered: None }]);
    run(&mut o, [Command::ServerCancelled { reason: "ops again".into() }]);
    assert_eq!(o.shipment_step(), Next::Continue, "asked once");
    assert!(matches!(run(&mut o, [ended(ShipmentEnd::Cancelled)]).next, Next::Refund(_)));
    assert_eq!(run(&mut o, [refunded()]).next, Next::Finish(End::Cancelled { reason: "ops".into(), by_server: true }));

    // Refused: the parcel ships, the run completes, a note says why the server's cancel did nothing.
    let mut o = delegated(3);
    run(&mut o, [Command::ServerCancelled { reason: "ops".into() }]);
    let Next::AskShipment(request) = o.shipment_step() else { panic!() };
    run(
        &mut o,
        [
            Command::ShipmentAsked { change: request.change, undelivered: None },
            Command::ShipmentAnswered { shipment: 1, change: request.change, taken: false },
        ],
    );
    assert_eq!(run(&mut o, [shipped()]).next, Next::Finish(End::Shipped));
    assert!(o.document("w", "r").notes.iter().any(|n| n.starts_with("server cancel ignored")));
}

#[test]
fn a_child_cancelled_without_a_stop_asked_did_not_dispatch_and_is_shipped_again() {
    let mut o = delegated(3);
    let d = run(&mut o, [ended(ShipmentEnd::Cancelled)]);
    let Next::Ship { input, .. } = d.next else { panic!("{:?}", d.next) };
    assert_eq!((input.shipment, input.delegated), (2, true));
}

#[test]
fn a_cancel_sent_as_a_signal_that_comes_too_late_is_noted() {
    let mut o = delegated(3);
    o.apply_signal(Command::Cancel { reason: None });
    let Next::AskShipment(request) = o.shipment_step() else { panic!() };
    run(
        &mut o,
        [Command::ShipmentAsked { change: request.change, undelivered: Some("workflow completed".into()) }, shipped()],
    );
    assert!(
        o.document("w", "r").notes.iter().any(|n| n == "cancel_order ignored: the package has already been dispatched")
    );
    assert!(o.take_answer(request.change).is_none(), "nobody waits for a signal's answer");
}

#[test]
fn a_package_ready_never_hands_a_delegated_shipment_back_to_the_handshake() {
    // Sent by anyone: were it taken, a cancel would be accepted (and refunded) while the child dispatches.
    let mut o = delegated(3);
    let stop = ask(&mut o, Command::Cancel { reason: None });
    let ready = Command::PackageReady { shipment: 1, package_id: "pkg".into() };
    assert!(matches!(o.apply(ready), Err(Refusal::Invalid(_))));
    assert!(!o.answered(stop));
    assert_eq!(o.stage(), &Stage::Shipping { shipment: 1, dispatch: Dispatch::Delegated });
    assert_eq!(run(&mut o, [shipped()]).next, Next::Finish(End::Shipped));
    assert_eq!(o.take_answer(stop), Some(Err(Refusal::Dispatched)));
}

#[test]
fn a_cancelled_end_is_believed_over_a_forged_refusal() {
    // Someone answers "dispatching" for the child, which took the stop and ended cancelled: nothing was sent, so
    // the order ships again rather than sitting charged with a parcel that never left.
    let mut o = delegated(3);
    let stop = ask(&mut o, Command::Cancel { reason: None });
    run(&mut o, [Command::ShipmentAnswered { shipment: 1, change: stop, taken: false }]);
    let d = run(&mut o, [ended(ShipmentEnd::Cancelled)]);
    assert!(matches!(d.next, Next::Ship { .. }), "{d:?}");
}

#[test]
fn an_order_that_ends_answers_every_change_still_asked() {
    let mut o = delegated(1);
    let change = ask(&mut o, Command::UpdateAddress(other_address()));
    run(&mut o, [Command::ShipmentNotStarted { reason: "no queue".into() }]);
    assert!(matches!(o.take_answer(change), Some(Err(Refusal::Finished(_)))));
}
