//! The order lifecycle on the real dev server, with real plugins and a real store (SQLite and PostgreSQL).

use std::time::Duration;

use order_host::domain::{Address, OrderOptions, OrderState, PaymentState, TimeoutAction};
use order_host::plugins::Slot;
use order_host::store::EventRow;
use order_host_tests::db::TestDb;
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::{self, order_id, sample_input};
use order_host_tests::{paths, wait};
use temporalio_client::{WorkflowDescribeOptions, WorkflowGetResultOptions};

use crate::both_backends;

const SHIPPED_WITHIN: Duration = Duration::from_secs(30);

async fn events(host: &TestHost, order_id: &str) -> Vec<EventRow> {
    host.store.events(order_id, 1000).await.unwrap()
}

/// Waits until the order's row reads `state`. The workflow decides an end before the local step that records it runs,
/// so the status query can answer with the end while that step is still running or waiting to retry (seen in CI on
/// PostgreSQL): the row follows.
async fn row_reading(host: &TestHost, id: &str, state: OrderState) {
    wait::until(SHIPPED_WITHIN, &format!("order {id}'s row to read {state}"), || async {
        host.store.get_order(id).await.unwrap().filter(|row| row.state == state).map(|_| ())
    })
    .await;
}

/// Waits until Temporal's visibility lists order `id` under `OrderState = state` (visibility is eventually
/// consistent), the query an operator runs with `temporal workflow list --query`.
async fn wait_listed_as(host: &TestHost, id: &str, state: &str) {
    use temporalio_client::NamespacedClient;
    use temporalio_client::tonic::IntoRequest;
    use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
    let query = format!("WorkflowId = '{id}' AND OrderState = '{state}'");
    wait::until(SHIPPED_WITHIN, &format!("visibility to list {query}"), || {
        let request = ListWorkflowExecutionsRequest {
            namespace: host.client.namespace(),
            page_size: 10,
            query: query.clone(),
            ..Default::default()
        };
        let mut service = host.client.connection().workflow_service();
        async move {
            let listed = service.list_workflow_executions(request.into_request()).await.expect("list").into_inner();
            (!listed.executions.is_empty()).then_some(())
        }
    })
    .await;
}

/// Every business step of a new order ran as a local activity: no activity task on the server, one marker per step
/// in the order's and its shipping child's histories, each naming its activity (what the Temporal UI shows). Started
/// on this revision of the lifecycle, neither workflow records a patch marker (nor its `TemporalChangeVersion` upsert).
async fn steps_ran_inside_workflow_tasks(host: &TestHost, id: &str) {
    use temporalio_client::WorkflowFetchHistoryOptions;
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    let parent: order_host_tests::orders::OrderHandle = host.client.get_workflow_handle(id.to_owned());
    let child = host.client.get_workflow_handle::<order_host_tests::orders::ShippingRun>(format!("{id}-shipping-1"));
    let histories = [
        parent.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap(),
        child.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.unwrap(),
    ];
    let mut named = Vec::new();
    for events in &histories {
        let activity_tasks = events.iter().filter(|e| e.event_type() == EventType::ActivityTaskScheduled).count();
        assert_eq!(activity_tasks, 0, "no step is an activity task of its own: {events:#?}");
        // Delegated dispatch: nothing changed the order while it shipped, so parent and child said nothing to
        // each other (no handshake: the child dispatched on its own authority).
        let signals = [EventType::SignalExternalWorkflowExecutionInitiated, EventType::WorkflowExecutionSignaled];
        let said = events.iter().filter(|e| signals.contains(&e.event_type())).count();
        assert_eq!(said, 0, "no signal between parent and child: {events:#?}");
        for e in events {
            let Some(Attributes::MarkerRecordedEventAttributes(marker)) = &e.attributes else { continue };
            if marker.marker_name != "core_local_activity" {
                continue;
            }
            let data = marker.details.get("data").and_then(|p| p.payloads.first()).expect("marker data");
            let data: serde_json::Value = serde_json::from_slice(&data.data).expect("marker data is JSON");
            let name = data.get("activity_type").or_else(|| data.get("activityType")).and_then(|n| n.as_str());
            named.push(name.unwrap_or_default().to_owned());
        }
    }
    for step in
        ["receive_order", "validate_order", "charge_payment", "prepare_package", "dispatch_carrier", "ship_order"]
    {
        assert!(named.iter().any(|n| n == step), "{step} has no local-activity marker: {named:?}");
    }
    for workflow_id in [id.to_owned(), format!("{id}-shipping-1")] {
        let marks = order_host_tests::orders::patch_marks(&host.client, &workflow_id).await;
        assert_eq!(marks, (0, 0), "{workflow_id} was asked for this revision: no patch marker, no upsert of it");
    }
}

fn attempts_of<'e>(events: &'e [EventRow], activity: &str) -> Vec<&'e EventRow> {
    events.iter().filter(|e| e.activity.as_deref() == Some(activity)).collect()
}

both_backends!(happy_path_ships_and_records_everything, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("happy");
    let handle = orders::start(&host, sample_input(&id)).await;
    let waiting = orders::wait_for(&handle, OrderState::AwaitingApproval, SHIPPED_WITHIN).await;
    assert_eq!(waiting.step, "manual_review");
    assert!(waiting.approval.deadline.is_some());
    wait_listed_as(&host, &id, "awaiting_approval").await;
    let approved = orders::approve(&handle).await.expect("approval accepted");
    assert_eq!((approved.command.as_str(), approved.state), ("approve_order", OrderState::AwaitingApproval));

    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    wait_listed_as(&host, &id, "shipped").await;
    assert_eq!(doc.total_cents, Some(4200));
    assert_eq!(doc.payment.status, PaymentState::Charged);
    assert_eq!(doc.shipping.attempt, 1);
    assert_eq!(doc.shipping.carrier.as_deref(), Some("UPS"));
    assert!(doc.shipping.tracking.as_deref().is_some_and(|t| t.starts_with("1Z")), "{doc:?}");
    for (slot, component) in [("validation", "validation"), ("payment", "payment"), ("shipping", "shipping")] {
        assert_eq!(doc.plugins[slot].digest, paths::digest_of(component), "{slot}");
    }
    let result = handle.get_result(WorkflowGetResultOptions::default()).await.expect("completed");
    assert_eq!(result.state, OrderState::Shipped);
    orders::record_history(&host, &handle, "shipped").await;
    steps_ran_inside_workflow_tasks(&host, &id).await;

    let row = host.store.get_order(&id).await.unwrap().expect("order row");
    assert_eq!((row.state, row.total_cents), (OrderState::Shipped, Some(4200)));
    assert_eq!(row.tracking, doc.shipping.tracking);
    assert_eq!(row.address.state, "IL");
    let payments = host.store.payments_for_order(&id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentState::Charged);
    assert_eq!(payments[0].amount_cents, 4200);
    assert_eq!(payments[0].transaction_id, doc.payment.transaction_id);

    let events = events(&host, &id).await;
    for activity in
        ["receive_order", "validate_order", "charge_payment", "prepare_package", "dispatch_carrier", "ship_order"]
    {
        let attempts = attempts_of(&events, activity);
        assert_eq!(attempts.len(), 1, "{activity}: {events:#?}");
        assert_eq!(attempts[0].outcome.as_deref(), Some("completed"));
    }
    assert_eq!(
        attempts_of(&events, "charge_payment")[0].plugin_digest.as_deref(),
        Some(paths::digest_of("payment").as_str())
    );
    let states: Vec<_> = events.iter().filter_map(|e| e.state).collect();
    assert_eq!(states, [OrderState::AwaitingApproval, OrderState::Approved, OrderState::Shipping]);
});

both_backends!(local_steps_ship_under_the_trellis_simulation, |db: TestDb| async move {
    // A third of attempts fail, a third hang past their 300 ms start-to-close timeout: as local activities, a hang
    // must be cut off in the worker and retried, a failure retried, and every order still ship with one charge.
    // (How fast is the bench's business: `scripts/bench.sh --chaos trellis` reports the share shipped within 15 s.)
    let spec = HostSpec::default().with_flags(&["--failure-simulation", "trellis", "--failure-seed", "11"]);
    let host = TestHost::start(&db, spec).await;
    let ids: Vec<String> = (0..6).map(|i| order_id(&format!("trellis-{i}"))).collect();
    let runs = ids.iter().map(|id| {
        let host = &host;
        async move {
            let handle = orders::start(host, sample_input(id)).await;
            orders::wait_for(&handle, OrderState::AwaitingApproval, SHIPPED_WITHIN).await;
            orders::approve(&handle).await.expect("approval accepted");
            orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
        }
    });
    futures::future::join_all(runs).await;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for id in &ids {
        let events = events(&host, id).await;
        for e in events.iter().filter(|e| e.kind == "activity") {
            *outcomes.entry(e.outcome.clone().unwrap_or_default()).or_default() += 1;
        }
        for activity in ["validate_order", "charge_payment", "prepare_package", "dispatch_carrier", "ship_order"] {
            let attempts = attempts_of(&events, activity);
            let last = attempts.last().unwrap_or_else(|| panic!("{id}: no {activity} attempt"));
            assert_eq!(last.outcome.as_deref(), Some("completed"), "{id}: {activity} ends completed: {attempts:#?}");
            let numbers: Vec<_> = attempts.iter().map(|e| e.attempt.unwrap()).collect();
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{id}: {activity} attempts in order: {numbers:?}");
        }
        let charged =
            attempts_of(&events, "charge_payment").iter().filter(|e| e.outcome.as_deref() == Some("completed")).count();
        assert_eq!(charged, 1, "{id}: one charge");
    }
    for outcome in ["simulated_hang", "simulated_failure", "completed"] {
        assert!(outcomes.get(outcome).is_some_and(|n| *n > 0), "no {outcome} attempt in {outcomes:?}");
    }
});

both_backends!(cancel_before_approval_charges_nothing, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("cancel-early");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::wait_for(&handle, OrderState::AwaitingApproval, SHIPPED_WITHIN).await;
    let outcome = orders::cancel(&handle, "customer changed their mind").await.expect("cancel accepted");
    assert!(outcome.message.contains("cancellation accepted"), "{outcome:?}");

    let doc = orders::wait_for(&handle, OrderState::Cancelled, SHIPPED_WITHIN).await;
    assert_eq!(doc.payment.status, PaymentState::Pending);
    assert!(host.store.payments_for_order(&id).await.unwrap().is_empty(), "nothing was charged");
    row_reading(&host, &id, OrderState::Cancelled).await;
    let last = events(&host, &id).await.into_iter().last().unwrap();
    assert_eq!(last.message.as_deref(), Some("customer changed their mind"));
    // Once the run has closed (a moment after its last state: the end's steps are committed first), Temporal itself
    // refuses commands to it.
    let _ = handle.get_result(WorkflowGetResultOptions::default()).await;
    let late = orders::approve(&handle).await.unwrap_err();
    assert!(late.contains("not found"), "{late}");
});

both_backends!(cancel_after_charge_refunds_and_cancels_the_child, |db: TestDb| async move {
    // The shipping child cannot pack (every prepare attempt fails), so the order sits in `shipping`, charged.
    let spec = HostSpec::default().with_flags(&["--failure-inject", "prepare_package:before:100000"]);
    let host = TestHost::start(&db, spec).await;
    let id = order_id("cancel-charged");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    orders::wait_for(&handle, OrderState::Shipping, SHIPPED_WITHIN).await;
    let late = orders::approve(&handle).await.unwrap_err();
    assert!(late.contains("not awaiting approval: the order is already approved"), "{late}");

    orders::cancel(&handle, "too slow").await.expect("cancel before dispatch is accepted");
    let doc = orders::wait_for(&handle, OrderState::Cancelled, SHIPPED_WITHIN).await;
    assert_eq!(doc.payment.status, PaymentState::Refunded);

    let payment = host.store.payments_for_order(&id).await.unwrap().remove(0);
    assert_eq!(payment.status, PaymentState::Refunded);
    assert!(payment.refund_id.as_deref().is_some_and(|r| r.starts_with("rfd-")));
    let child = host.client.get_workflow_handle::<order_host_tests::orders::ShippingRun>(format!("{id}-shipping-1"));
    let description = child.describe(WorkflowDescribeOptions::default()).await.unwrap();
    assert_eq!(format!("{:?}", description.status()), "Canceled");
    let refunds = attempts_of(&events(&host, &id).await, "refund_payment").len();
    assert_eq!(refunds, 1);
    orders::record_history(&host, &handle, "cancelled-after-charge").await;
});

both_backends!(cancel_after_dispatch_is_rejected, |db: TestDb| async move {
    // The parcel is dispatched, but recording it keeps failing: the order stays between dispatch and shipped.
    let spec = HostSpec::default().with_flags(&["--failure-inject", "ship_order:before:100000"]);
    let host = TestHost::start(&db, spec).await;
    let id = order_id("cancel-late");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    // Only the shipping child knows it has dispatched (delegated dispatch): the events table shows it.
    wait::until(SHIPPED_WITHIN, "dispatch completed", || async {
        let e = events(&host, &id).await;
        attempts_of(&e, "dispatch_carrier").iter().any(|a| a.outcome.as_deref() == Some("completed")).then_some(())
    })
    .await;

    let refused = orders::cancel(&handle, "too late").await.unwrap_err();
    assert!(refused.contains("already been dispatched"), "{refused}");
    assert_eq!(orders::status(&handle).await.step, "dispatch_carrier", "the child's answer is the parent's news");
    let refused = orders::update_address(&handle, &orders::home()).await.unwrap_err();
    assert!(refused.contains("already been dispatched"), "{refused}");
    orders::cancel_signal(&handle, "too late, as a signal").await;
    let doc = wait::until(SHIPPED_WITHIN, "the ignored signal noted", || async {
        let doc = orders::status(&handle).await;
        (!doc.notes.is_empty()).then_some(doc)
    })
    .await;
    assert!(doc.notes[0].starts_with("cancel_order ignored"), "{:?}", doc.notes);
    assert_eq!(doc.payment.status, PaymentState::Charged, "no refund for a dispatched parcel");
    let _ = handle.terminate(temporalio_client::WorkflowTerminateOptions::default()).await;
});

both_backends!(approval_timeout_cancels_by_default, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let mut input = sample_input(&order_id("timeout-cancel"));
    input.options = OrderOptions { approval_timeout_ms: Some(1_000), ..OrderOptions::default() };
    let handle = orders::start(&host, input).await;
    let doc = orders::wait_for(&handle, OrderState::Cancelled, SHIPPED_WITHIN).await;
    assert!(doc.approval.deadline.is_some());
    assert!(!doc.approval.approved);
    row_reading(&host, &doc.order_id, OrderState::Cancelled).await;
    let _ = handle.get_result(WorkflowGetResultOptions::default()).await;
    let late = orders::approve(&handle).await.unwrap_err();
    assert!(late.contains("not found"), "a closed order takes no approval: {late}");
});

both_backends!(approval_timeout_can_approve, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let mut input = sample_input(&order_id("timeout-approve"));
    input.options = OrderOptions {
        approval_timeout_ms: Some(1_000),
        approval_timeout_action: Some(TimeoutAction::Approve),
        ..OrderOptions::default()
    };
    let handle = orders::start(&host, input).await;
    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert!(doc.approval.approved);
    assert!(doc.notes.iter().any(|n| n.contains("approved automatically")), "{:?}", doc.notes);
});

both_backends!(address_update_reaches_dispatch_while_the_child_runs, |db: TestDb| async move {
    // Packing fails a few times, so the update arrives while the shipping child is running.
    let spec = HostSpec::default().with_flags(&["--failure-inject", "prepare_package:before:8"]);
    let host = TestHost::start(&db, spec).await;
    let id = order_id("readdress");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    orders::wait_for(&handle, OrderState::Shipping, SHIPPED_WITHIN).await;
    let new_address = Address {
        street: "9 Ocean Ave".into(),
        city: "San Francisco".into(),
        state: "ca".into(),
        zip_code: "94105".into(),
    };
    let outcome = orders::update_address(&handle, &new_address).await.expect("update accepted before dispatch");
    assert_eq!(outcome.state, OrderState::Shipping);

    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert_eq!(doc.address.zip_code, "94105");
    assert_eq!(doc.address.state, "CA", "the host normalises the state code");
    assert_eq!(doc.shipping.carrier.as_deref(), Some("FedEx"), "carrier chosen for the new (west coast) ZIP");
    let events = events(&host, &id).await;
    let dispatch = (*attempts_of(&events, "dispatch_carrier").last().unwrap()).clone();
    assert_eq!(dispatch.details.unwrap()["zip_code"], "94105");
    assert_eq!(host.store.get_order(&id).await.unwrap().unwrap().address.zip_code, "94105");
});

both_backends!(invalid_address_updates_are_rejected, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let handle = orders::start(&host, sample_input(&order_id("bad-address"))).await;
    orders::wait_for(&handle, OrderState::AwaitingApproval, SHIPPED_WITHIN).await;
    let bad = Address { street: String::new(), city: "X".into(), state: "Texas".into(), zip_code: "1".into() };
    let err = orders::update_address(&handle, &bad).await.unwrap_err();
    assert!(err.contains("invalid address") && err.contains("street is missing"), "{err}");
    assert_eq!(orders::status(&handle).await.address, orders::home(), "the address is unchanged");
    orders::cancel(&handle, "done").await.unwrap();
});

both_backends!(validation_rejection_is_final, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("invalid");
    let mut input = sample_input(&id);
    input.items[0].sku = "bad sku".into();
    input.items[1].quantity = 0;
    let handle = orders::start(&host, input).await;
    let doc = orders::wait_for(&handle, OrderState::Rejected, SHIPPED_WITHIN).await;
    let error = &doc.recent_errors.last().expect("the rejection is reported").message;
    assert!(error.contains("items[0].sku") && error.contains("items[1].quantity"), "{error}");
    let validations = attempts_of(&events(&host, &id).await, "validate_order").len();
    assert_eq!(validations, 1, "a permanent plugin error is not retried");
    row_reading(&host, &id, OrderState::Rejected).await;
});

both_backends!(declined_payment_rejects_the_order, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("declined");
    let mut input = sample_input(&id);
    input.items[0].unit_price_cents = 600_000; // 2 × $6,000 exceeds the $10,000 limit
    let handle = orders::start(&host, input).await;
    orders::approve(&handle).await.unwrap();
    let doc = orders::wait_for(&handle, OrderState::Rejected, SHIPPED_WITHIN).await;
    assert_eq!(doc.payment.status, PaymentState::Declined);
    assert!(doc.recent_errors.last().unwrap().message.contains("exceeds the limit"), "{:?}", doc.recent_errors);
    let payment = host.store.payments_for_order(&id).await.unwrap().remove(0);
    assert_eq!(payment.status, PaymentState::Declined);
});

both_backends!(transient_plugin_failures_are_retried, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec { validation: Some("fixtures/flaky"), ..HostSpec::default() }).await;
    let id = order_id("flaky");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert_eq!(doc.retries.get("validate_order"), Some(&2));
    let outcomes: Vec<_> =
        attempts_of(&events(&host, &id).await, "validate_order").iter().map(|e| e.outcome.clone().unwrap()).collect();
    assert_eq!(outcomes, ["retryable_error", "retryable_error", "completed"]);
});

both_backends!(failed_dispatch_is_retried_with_a_new_shipment, |db: TestDb| async move {
    let host =
        TestHost::start(&db, HostSpec { shipping: Some("fixtures/dispatch-fails-once"), ..HostSpec::default() }).await;
    let id = order_id("redispatch");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert_eq!(doc.shipping.attempt, 2);
    assert_eq!(doc.shipping.tracking.as_deref(), Some(format!("TC-{id}-2").as_str()));
    assert!(doc.recent_errors.iter().any(|e| e.message.contains("carrier refused")), "{:?}", doc.recent_errors);
    assert_eq!(doc.payment.status, PaymentState::Charged, "charged once, kept");
    let dispatches: Vec<_> =
        attempts_of(&events(&host, &id).await, "dispatch_carrier").iter().map(|e| e.outcome.clone().unwrap()).collect();
    assert_eq!(dispatches, ["permanent_error", "completed"]);
    orders::record_history(&host, &handle, "redispatched").await;
});

both_backends!(exhausted_shipping_fails_and_refunds, |db: TestDb| async move {
    let spec = HostSpec { shipping: Some("fixtures/dispatch-fails"), ..HostSpec::default() }
        .with_flags(&["--max-shipping-attempts", "2"]);
    let host = TestHost::start(&db, spec).await;
    let id = order_id("undeliverable");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    let err = handle.get_result(WorkflowGetResultOptions::default()).await.expect_err("the order fails");
    assert!(
        err.to_string().contains("shipping failed 2 time(s)") || format!("{err:?}").contains("shipping failed"),
        "{err:?}"
    );
    let doc = orders::status(&handle).await;
    assert_eq!(doc.state, OrderState::Failed);
    assert_eq!(doc.payment.status, PaymentState::Refunded);
    assert_eq!(host.store.get_order(&id).await.unwrap().unwrap().state, OrderState::Failed);
    assert_eq!(host.store.payments_for_order(&id).await.unwrap()[0].status, PaymentState::Refunded);
    assert_eq!(attempts_of(&events(&host, &id).await, "dispatch_carrier").len(), 2, "one per shipment");
});

both_backends!(duplicate_start_is_refused, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let input = sample_input(&order_id("dup"));
    let handle = orders::start(&host, input.clone()).await;
    let second = host
        .client
        .start_workflow(
            order_host::workflows::OrderWorkflow::run,
            order_host::workflows::messages::to_raw(Some(&input)),
            temporalio_client::WorkflowStartOptions::new(host.orders_queue(), handle.info().workflow_id.clone())
                .build(),
        )
        .await;
    let err = second.err().expect("a running order cannot be started twice");
    assert!(format!("{err:?}").contains("AlreadyStarted"), "{err:?}");
    orders::cancel(&handle, "cleanup").await.unwrap();
});

both_backends!(retried_charges_charge_once, |db: TestDb| async move {
    // The first two charge attempts charge and record, then die before reporting success.
    let spec = HostSpec::default().with_flags(&["--failure-inject", "charge_payment:after:2"]);
    let host = TestHost::start(&db, spec).await;
    let id = order_id("charge-once");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert_eq!(doc.retries.get("charge_payment"), Some(&2));

    let payments = host.store.payments_for_order(&id).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentState::Charged);
    assert_eq!(payments[0].transaction_id, doc.payment.transaction_id);
    let charges = events(&host, &id).await;
    let charges = attempts_of(&charges, "charge_payment");
    assert_eq!(charges.len(), 3);
    assert!(charges[0].plugin_digest.is_some(), "the first attempt called the plugin");
    assert!(charges[1..].iter().all(|c| c.plugin_digest.is_none()), "later attempts reused the stored receipt");
});

both_backends!(a_step_retried_after_its_state_was_written_still_records_its_completion, |db: TestDb| async move {
    // The first validation and the first shipment step write their state, then die before reporting success: the
    // next attempts find the state written and must still record that they completed.
    let spec = HostSpec::default().with_flags(&["--failure-inject", "validate_order:after:1,ship_order:after:1"]);
    let host = TestHost::start(&db, spec).await;
    let id = order_id("moved-then-died");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;

    let events = events(&host, &id).await;
    for activity in ["validate_order", "ship_order"] {
        let outcomes: Vec<_> =
            attempts_of(&events, activity).iter().map(|e| e.outcome.as_deref().unwrap_or("-")).collect();
        assert_eq!(outcomes.first(), Some(&"simulated_failure"), "{activity}: {outcomes:?}");
        assert_eq!(outcomes.last(), Some(&"completed"), "{activity}: {outcomes:?}");
    }
});

both_backends!(swapping_the_payment_plugin_changes_the_next_order, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));

    let first = orders::start(&host, sample_input(&order_id("before-swap"))).await;
    orders::approve(&first).await.unwrap();
    let doc1 = orders::wait_for(&first, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert!(doc1.payment.transaction_id.as_deref().unwrap().starts_with("txn-"));

    host.publish(Slot::Payment, "fixtures/payment-v2");
    wait::until(SHIPPED_WITHIN, "v2 recorded as loaded", || async {
        let versions = host.store.plugin_versions(Some("payment"), 10).await.unwrap();
        (versions.first().map(|v| v.digest.as_str()) == Some(v2.as_str())).then_some(())
    })
    .await;

    let second = orders::start(&host, sample_input(&order_id("after-swap"))).await;
    orders::approve(&second).await.unwrap();
    let doc2 = orders::wait_for(&second, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert!(doc2.payment.transaction_id.as_deref().unwrap().starts_with("v2-"), "{:?}", doc2.payment);
    assert_eq!(doc2.plugins["payment"].version, "0.2.0");

    let charged_by = |events: Vec<EventRow>| {
        attempts_of(&events, "charge_payment").last().and_then(|e| e.plugin_digest.clone()).unwrap()
    };
    assert_eq!(charged_by(events(&host, &doc1.order_id).await), v1);
    assert_eq!(charged_by(events(&host, &doc2.order_id).await), v2);

    // v2 declines above $50: a bigger order is now rejected.
    let mut big = sample_input(&order_id("big-after-swap"));
    big.items[0].quantity = 10;
    let third = orders::start(&host, big).await;
    orders::approve(&third).await.unwrap();
    let doc3 = orders::wait_for(&third, OrderState::Rejected, SHIPPED_WITHIN).await;
    assert_eq!(doc3.payment.status, PaymentState::Declined);
});

both_backends!(malformed_child_signals_are_noted_and_the_order_still_ships, |db: TestDb| async move {
    // The child's signals can be sent by anyone. A payload that does not decode used to fail every workflow task
    // of the order (stuck for good); a dispatch_failed for a shipment that is not running used to reopen cancels.
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("garbage");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::wait_for(&handle, OrderState::AwaitingApproval, SHIPPED_WITHIN).await;
    orders::raw_signal(&handle, "dispatch_failed", &serde_json::json!("garbage")).await;
    orders::raw_signal(&handle, "package_ready", &serde_json::json!([1, 2, 3])).await;
    orders::raw_signal(&handle, "dispatch_failed", &serde_json::json!({"shipment": 7, "reason": "forged"})).await;
    orders::approve(&handle).await.expect("the order still takes commands");
    let doc = orders::wait_for(&handle, OrderState::Shipped, SHIPPED_WITHIN).await;
    assert_eq!(doc.notes.len(), 3, "{:?}", doc.notes);
    assert!(doc.notes[0].starts_with("dispatch_failed ignored: payload is not valid JSON"), "{:?}", doc.notes);
    assert!(doc.notes[1].starts_with("package_ready ignored"), "{:?}", doc.notes);
    assert!(doc.notes[2].contains("shipment 7 is not the current shipment"), "{:?}", doc.notes);
});

both_backends!(a_payment_id_from_outside_the_api_is_checked_too, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("badpay");
    let mut input = sample_input(&id);
    input.payment_id = "pay ment; DROP".into();
    input.options.approval_timeout_action = Some(TimeoutAction::Approve);
    input.options.approval_timeout_ms = Some(1);
    let handle = orders::start(&host, input).await;
    let err = handle.get_result(WorkflowGetResultOptions::default()).await.expect_err("the order fails");
    assert!(format!("{err:?}").contains("payment_id must be"), "{err:?}");
    assert!(host.store.payments_for_order(&id).await.unwrap().is_empty(), "nothing was charged");
});
