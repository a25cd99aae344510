//! Table tests of the lifecycle: every stage against every command a person, the child or the server can send, then
//! the paths through the driver's outcomes ([`paths`]). No Temporal, no I/O; milliseconds.

mod delegated;
mod money;
mod paths;

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::*;
use crate::domain::payloads::{Charged, OrderSettings, Received, ShippingResult, Validated};
use crate::domain::{Address, OrderOptions, TimeoutAction, sample};

pub(super) fn order() -> OrderInput {
    OrderInput {
        order_id: "order-1".into(),
        payment_id: "pay-1".into(),
        items: sample::items(),
        address: sample::address(),
        options: OrderOptions::default(),
    }
}

pub(super) fn settings(action: TimeoutAction, max_shipping_attempts: u32) -> OrderSettings {
    OrderSettings {
        approval_timeout_ms: 10_000,
        approval_timeout_action: action,
        max_shipping_attempts,
        shipping_task_queue: "shipping".into(),
        activity_timeout_ms: 300,
    }
}

pub(super) fn plugin(name: &str) -> PluginRun {
    PluginRun { name: name.into(), version: "0.1.0".into(), digest: format!("sha256:{name}") }
}

pub(super) fn other_address() -> Address {
    Address { street: "9 Elm St".into(), city: "Portland".into(), state: "OR".into(), zip_code: "97201".into() }
}

pub(super) fn received(action: TimeoutAction, attempts: u32) -> Command {
    Command::Received(Received { settings: settings(action, attempts), created: true, attempt: 1 })
}

pub(super) fn validated() -> Command {
    let result = Validated { order: order(), total_cents: 4200, plugin: plugin("validation"), attempt: 2 };
    Command::Validated { result, at: Some(SystemTime::UNIX_EPOCH) }
}

pub(super) fn charged() -> Command {
    Command::Charged(Charged { transaction_id: "txn-1".into(), amount_cents: 4200, plugin: None, attempt: 1 })
}

pub(super) fn shipped() -> Command {
    Command::Shipped(ShippingResult {
        package_id: "pkg-1".into(),
        carrier: "UPS".into(),
        tracking: "1Z".into(),
        eta_days: 2,
        retries: BTreeMap::from([("dispatch_carrier".to_owned(), 1)]),
        plugin: plugin("shipping"),
        address: None,
    })
}

pub(super) fn failed(activity: Activity, kind: FailureKind) -> Command {
    Command::ActivityFailed { activity, kind, message: "no".into(), at: None }
}

/// Applies commands the lifecycle must accept, returning the last decision.
pub(super) fn run(order: &mut Lifecycle, commands: impl IntoIterator<Item = Command>) -> Decision {
    let mut last = None;
    for command in commands {
        let name = command.name();
        last = Some(order.apply(command).unwrap_or_else(|r| panic!("{name} refused: {r}")));
    }
    last.expect("at least one command")
}

/// The stages a person's command can meet, reached through the commands that lead there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum At {
    Receiving,
    Validating,
    AwaitingApproval,
    Charging,
    Packing,
    DispatchReady,
    DispatchApproved,
    DispatchFailed,
    Shipped,
    Cancelled,
    Rejected,
}

pub(super) const ALL: [At; 11] = [
    At::Receiving,
    At::Validating,
    At::AwaitingApproval,
    At::Charging,
    At::Packing,
    At::DispatchReady,
    At::DispatchApproved,
    At::DispatchFailed,
    At::Shipped,
    At::Cancelled,
    At::Rejected,
];

pub(super) fn at(stage: At) -> Lifecycle {
    let mut o = Lifecycle::new(order());
    let to_approval = [received(TimeoutAction::Cancel, 3), validated()];
    let to_charging = || {
        [
            received(TimeoutAction::Cancel, 3),
            validated(),
            Command::Approve,
            Command::ApprovalWaitEnded { timed_out: false },
        ]
    };
    let ready = Command::PackageReady { shipment: 1, package_id: "pkg-1".into() };
    match stage {
        At::Receiving => {}
        At::Validating => drop(run(&mut o, [received(TimeoutAction::Cancel, 3)])),
        At::AwaitingApproval => drop(run(&mut o, to_approval)),
        At::Charging => drop(run(&mut o, to_charging())),
        At::Packing => drop(run(&mut o, to_charging().into_iter().chain([charged()]))),
        At::DispatchReady => drop(run(&mut o, to_charging().into_iter().chain([charged(), ready]))),
        At::DispatchApproved => drop(run(
            &mut o,
            to_charging().into_iter().chain([charged(), ready, Command::DispatchApprovalSent { shipment: 1 }]),
        )),
        At::DispatchFailed => drop(run(
            &mut o,
            to_charging().into_iter().chain([
                charged(),
                ready,
                Command::DispatchApprovalSent { shipment: 1 },
                Command::DispatchFailed { shipment: 1, reason: "no carrier".into() },
            ]),
        )),
        At::Shipped => drop(run(&mut o, to_charging().into_iter().chain([charged(), shipped()]))),
        At::Cancelled => drop(run(&mut o, [Command::Cancel { reason: None }, received(TimeoutAction::Cancel, 3)])),
        At::Rejected => drop(run(
            &mut o,
            [received(TimeoutAction::Cancel, 3), failed(Activity::ValidateOrder, FailureKind::Permanent)],
        )),
    }
    o
}

/// What a person's command gets in each stage: `Ok(answer)` or the refusal's text.
#[test]
fn people_commands_in_every_stage() {
    let approve = |s: At| -> Result<&str, String> {
        match s {
            At::Receiving | At::Validating | At::AwaitingApproval => Ok("approved"),
            At::Charging => Err("not awaiting approval: the order is already approved (state approved)".into()),
            At::Packing | At::DispatchReady | At::DispatchApproved | At::DispatchFailed => {
                Err("not awaiting approval: the order is already approved (state shipping)".into())
            }
            At::Shipped => Err("not awaiting approval: the order is shipped".into()),
            At::Cancelled => Err("not awaiting approval: the order is cancelled".into()),
            At::Rejected => Err("not awaiting approval: the order is rejected".into()),
        }
    };
    let change = |s: At, accepted: &'static str| -> Result<&'static str, String> {
        match s {
            // A dispatch reported failed after its go-ahead stays committed until the child has ended.
            At::DispatchReady | At::DispatchApproved | At::DispatchFailed => {
                Err("the package has already been dispatched".into())
            }
            At::Shipped => Err("the order is already shipped".into()),
            At::Cancelled => Err("the order is already cancelled".into()),
            At::Rejected => Err("the order is already rejected".into()),
            _ => Ok(accepted),
        }
    };
    for stage in ALL {
        let charged = matches!(stage, At::Packing);
        let cancel_answer =
            if charged { "cancellation accepted; the payment will be refunded" } else { "cancellation accepted" };
        let table: [(Command, Result<&str, String>); 3] = [
            (Command::Approve, approve(stage)),
            (Command::Cancel { reason: Some("changed my mind".into()) }, change(stage, cancel_answer)),
            (Command::UpdateAddress(other_address()), change(stage, "address updated; it will be used for dispatch")),
        ];
        for (command, expected) in table {
            let name = command.name();
            let order = at(stage);
            let decided = order.decide(command.clone());
            let got = decided.as_ref().map(|d| d.message.clone().unwrap_or_default()).map_err(ToString::to_string);
            assert_eq!(
                got.as_deref().map_err(String::as_str),
                expected.as_deref().map_err(String::as_str),
                "{name} at {stage:?}"
            );
            // decide changes nothing; apply agrees with decide.
            let mut applied = order.clone();
            assert_eq!(applied.apply(command).map_err(|r| r.to_string()), decided.map_err(|r| r.to_string()));
            if got.is_err() {
                assert_eq!(applied, order, "a refusal leaves {stage:?} as it was");
            }
        }
    }
}

#[test]
fn duplicate_approve_is_refused_and_a_signal_keeps_a_note() {
    let mut o = at(At::AwaitingApproval);
    run(&mut o, [Command::Approve]);
    assert_eq!(o.decide(Command::Approve).unwrap_err(), Refusal::AlreadyApproved(OrderState::AwaitingApproval));
    o.apply_signal(Command::Approve);
    assert_eq!(
        o.document("w", "r").notes,
        ["approve_order ignored: not awaiting approval: the order is already approved (state awaiting_approval)"]
    );
}
