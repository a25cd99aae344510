//! The lifecycle tried as an adversarial client or a careless operator would, on the real dev server and both
//! databases: each test sends the worst input and asserts the safe outcome — no shipped order refunded, no order
//! approved by its own client, no order stuck, no money left behind without a person told.

use std::time::Duration;

use order_host::audit::{self, RunOutcome};
use order_host::domain::{OrderOptions, OrderState, PaymentState, TimeoutAction};
use order_host_tests::api::{Answer, Api};
use order_host_tests::db::TestDb;
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::{self, order_id, sample_input};
use order_host_tests::wait;
use temporalio_client::WorkflowGetResultOptions;

use crate::both_backends;

const WITHIN: Duration = Duration::from_secs(30);
const CLIENT: &str = "Bearer client-token";
const OPERATOR: &str = "Bearer operator-token";

async fn api_host(db: &TestDb, spec: HostSpec) -> (TestHost, Api) {
    let host = TestHost::start(db, HostSpec { http: true, ..spec }).await;
    let api = Api::new(&host);
    (host, api)
}

fn assert_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!((answer.status, answer.error()), (status, code), "{answer:?}");
    assert!(!answer.message().is_empty(), "{answer:?}");
}

async fn shipped_order(host: &TestHost, id: &str) -> orders::OrderHandle {
    let handle = orders::start(host, sample_input(id)).await;
    orders::approve(&handle).await.expect("approved");
    orders::wait_for(&handle, OrderState::Shipped, WITHIN).await;
    handle
}

async fn audit(host: &TestHost) -> audit::Report {
    audit::run(host.store.as_ref(), &host.client, "default").await.expect("audit")
}

both_backends!(a_reused_order_id_never_touches_the_shipped_order, |db: TestDb| async move {
    // Before: the second run accepted the existing row, reused its receipt, could not start `<id>-shipping-1`,
    // failed and refunded — the shipped order ended `failed` with its payment `refunded`.
    let (host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("reused");
    shipped_order(&host, &id).await;
    let before = host.store.get_order(&id).await.unwrap().unwrap();

    for payment_id in [format!("pay-{id}"), "another-payment".to_owned()] {
        // As `temporal workflow start --workflow-id <id>` does: its default policy reuses a finished id.
        let mut input = sample_input(&id);
        input.payment_id = payment_id;
        input.options = OrderOptions {
            approval_timeout_ms: Some(1_000),
            approval_timeout_action: Some(TimeoutAction::Approve),
            ..OrderOptions::default()
        };
        let second = orders::start(&host, input).await;
        let _ = orders::approve(&second).await;
        let err = second.get_result(WorkflowGetResultOptions::default()).await.expect_err("the second run is refused");
        assert!(format!("{err:?}").contains("an order id is used once"), "{err:?}");
    }

    let after = host.store.get_order(&id).await.unwrap().unwrap();
    assert_eq!(after, before, "the shipped order's row is untouched");
    let payments = host.store.payments_for_order(&id).await.unwrap();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].status, PaymentState::Charged, "never refunded");
    assert!(host.store.get_payment("another-payment").await.unwrap().is_none(), "nothing charged for the reuse");

    // The REST API refuses the id whether or not Temporal still remembers a run.
    let again = api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id": "p-3"}"#).await;
    assert_error(&again, 409, "conflict");
    assert!(again.message().contains("used once"), "{again:?}");
    let report = audit(&host).await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
});

both_backends!(a_payment_id_serves_one_order, |db: TestDb| async move {
    // Before: a second order with the first's payment id was received and waited for approval; approving it
    // returned the first order's receipt.
    let host = TestHost::start(&db, HostSpec::default()).await;
    let first = orders::start(&host, sample_input(&order_id("pay-owner"))).await;
    orders::wait_for(&first, OrderState::AwaitingApproval, WITHIN).await;
    let mut thief = sample_input(&order_id("pay-thief"));
    thief.payment_id = orders::status(&first).await.payment.payment_id;
    let second = orders::start(&host, thief.clone()).await;
    let err = second.get_result(WorkflowGetResultOptions::default()).await.expect_err("refused before approval");
    assert!(format!("{err:?}").contains("is already used by order"), "{err:?}");
    assert!(host.store.get_order(&thief.order_id).await.unwrap().is_none(), "nothing recorded for the second order");
    orders::approve(&first).await.expect("the first order is unaffected");
    orders::wait_for(&first, OrderState::Shipped, WITHIN).await;
});

both_backends!(options_are_bounded_at_the_edge_and_in_the_workflow, |db: TestDb| async move {
    // Before: a 300000000000000 ms approval timeout answered 202 and the order sat in `validated` forever (a
    // workflow-task panic retried without end); 4294967295 shipping attempts ran until the history limit.
    let (host, api) = api_host(&db, HostSpec::default()).await;
    for (options, needle) in [
        (r#"{"approval_timeout_ms": 300000000000000}"#, "approval_timeout_ms 300000000000000 must be between 1000"),
        (r#"{"approval_timeout_ms": 1, "approval_timeout_action": "approve"}"#, "must be between 1000 (1 s)"),
        (r#"{"max_shipping_attempts": 4294967295}"#, "max_shipping_attempts 4294967295 must be between 1 and 10"),
        (r#"{"max_shipping_attempts": 0}"#, "must be between 1 and 10"),
    ] {
        let id = order_id("absurd");
        let body = format!(r#"{{"payment_id": "p-{id}", "options": {options}}}"#);
        let answer = api.post_json(&format!("/orders/{id}/start"), &body).await;
        assert_error(&answer, 422, "invalid_body");
        assert!(answer.message().contains(needle), "{answer:?}");
    }
    // A total beyond what the seed's `payments.amount NUMERIC(10,2)` holds is rejected, whatever the validator says
    // (before: a transient insert error on PostgreSQL, retried for five minutes).
    let too_big = order_id("too-big");
    let body = format!(
        r#"{{"payment_id": "p-{too_big}", "items": [{{"sku": "SKU-001", "quantity": 1, "unit_price_cents": 10000000000}}]}}"#
    );
    assert_eq!(api.post_json(&format!("/orders/{too_big}/start"), &body).await.status, 202);
    let rejected = api.wait_for_state(&too_big, "rejected", WITHIN).await;
    assert!(rejected["recent_errors"].to_string().contains("exceeds the largest accepted"), "{rejected}");

    // Started behind the API's back, the workflow refuses them itself, at once, and records nothing.
    let id = order_id("absurd-cli");
    let mut input = sample_input(&id);
    input.options.approval_timeout_ms = Some(300_000_000_000_000);
    let handle = orders::start(&host, input).await;
    let err = handle.get_result(WorkflowGetResultOptions::default()).await.expect_err("refused");
    assert!(format!("{err:?}").contains("must be between"), "{err:?}");
    assert!(host.store.get_order(&id).await.unwrap().is_none());
});

both_backends!(only_operators_approve_or_set_options, |db: TestDb| async move {
    // Before: no route but plugin administration checked anything; a client could start its order with a 1 ms
    // approval timeout that approves, and ship it without anyone approving.
    let spec = HostSpec::default().with_flags(&[
        "--client-tokens",
        "client-token, client-token-2",
        "--operator-tokens",
        "operator-token",
    ]);
    let (_host, api) = api_host(&db, spec).await;
    let id = order_id("roles");
    let start = format!("/orders/{id}/start");
    let auth = |token: &'static str| [("authorization", token), ("content-type", "application/json")];
    let body = || Some(br#"{"payment_id": "p-roles"}"#.to_vec());

    assert_error(&api.post_json(&start, r#"{"payment_id": "p-roles"}"#).await, 401, "unauthorized");
    assert_error(&api.send("POST", &start, body(), &auth("Bearer wrong")).await, 401, "unauthorized");
    let self_approving =
        br#"{"payment_id": "p-roles", "options": {"approval_timeout_ms": 1000, "approval_timeout_action": "approve"}}"#;
    let answer = api.send("POST", &start, Some(self_approving.to_vec()), &auth(CLIENT)).await;
    assert_error(&answer, 403, "forbidden");
    assert!(answer.message().contains("operator"), "{answer:?}");

    let started = api.send("POST", &start, body(), &auth(CLIENT)).await;
    assert_eq!(started.status, 202, "{started:?}");
    let status = format!("/orders/{id}/status");
    let waiting = wait::until(WITHIN, "awaiting approval", || async {
        let a = api.send("GET", &status, None, &auth(CLIENT)).await;
        (a.status == 200 && a.body["state"] == "awaiting_approval").then_some(a)
    })
    .await;
    assert_eq!(waiting.body["order_id"], id.as_str());

    let approve = format!("/orders/{id}/signals/approve");
    assert_error(&api.send("POST", &approve, None, &auth(CLIENT)).await, 403, "forbidden");
    assert_error(&api.send("POST", &approve, None, &[]).await, 401, "unauthorized");
    for path in ["/orders".to_owned(), format!("/orders/{id}/events"), "/plugins".to_owned()] {
        assert_error(&api.send("GET", &path, None, &auth(CLIENT)).await, 403, "forbidden");
        assert_eq!(api.send("GET", &path, None, &auth(OPERATOR)).await.status, 200, "{path}");
    }
    assert_eq!(api.send("POST", &approve, None, &auth(OPERATOR)).await.status, 200);
    let cancel = format!("/orders/{id}/signals/cancel");
    assert_eq!(api.send("POST", &cancel, None, &[]).await.status, 401, "cancel needs a client token");
    for open in ["/healthz", "/metrics", "/openapi.json"] {
        assert_eq!(api.get(open).await.status, 200, "{open} stays open");
    }
    let doc = api.get("/openapi.json").await.body;
    assert_eq!(doc["paths"]["/orders/{id}/signals/approve"]["post"]["security"][0]["operator"], serde_json::json!([]));
    assert!(doc["components"]["securitySchemes"]["client"].is_object(), "{}", doc["components"]);
});

both_backends!(address_changes_are_judged_by_the_validation_plugin, |db: TestDb| async move {
    // Before: after validation, `update-address` with state ZZ and ZIP 00000 answered 200 and the parcel went there.
    let (_host, api) = api_host(&db, HostSpec::default()).await;
    let id = order_id("readdress");
    assert_eq!(api.post_json(&format!("/orders/{id}/start"), r#"{"payment_id": "p-readdress"}"#).await.status, 202);
    api.wait_for_state(&id, "awaiting_approval", WITHIN).await;
    let path = format!("/orders/{id}/signals/update-address");
    let nowhere = r#"{"street": "1 Nowhere", "city": "Nowhere", "state": "ZZ", "zip_code": "00000"}"#;
    let answer = api.post_json(&path, nowhere).await;
    assert_error(&answer, 422, "invalid_body");
    assert!(answer.message().contains("not a two-letter US state code"), "{answer:?}");
    let status = api.get(&format!("/orders/{id}/status")).await.body;
    assert_eq!(status["address"]["state"], "IL", "nothing changed");
    // A valid one is accepted, normalised as the first address was.
    let moved = api
        .post_json(&path, r#"{"street": "456 Oak Ave", "city": "Shelbyville", "state": "il", "zip_code": "62565"}"#)
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(api.get(&format!("/orders/{id}/status")).await.body["address"]["state"], "IL");
});

both_backends!(a_refund_refused_for_good_tells_a_person, |db: TestDb| async move {
    // Before: the order ended `failed` with its payment still `charged`, and nothing said so.
    let spec = HostSpec {
        payment: Some("fixtures/refund-refused"),
        shipping: Some("fixtures/dispatch-fails"),
        ..HostSpec::default()
    }
    .with_flags(&["--max-shipping-attempts", "1"]);
    let (host, api) = api_host(&db, spec).await;
    let id = order_id("no-refund");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    let _ = handle.get_result(WorkflowGetResultOptions::default()).await.expect_err("shipping fails");
    let doc = orders::status(&handle).await;
    assert_eq!((doc.state, doc.payment.status), (OrderState::Failed, PaymentState::Charged));
    let attention = doc.attention.expect("a person is told");
    assert!(attention.starts_with("refund needs attention"), "{attention}");
    let events = host.store.events(&id, 1000).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "attention"), "{events:#?}");
    let metrics = api.get("/metrics").await.body;
    assert!(metrics.as_str().unwrap().contains("order_host_orders_needing_attention 1"), "{metrics}");
    let rest = api.get(&format!("/orders/{id}/status")).await.body;
    assert_eq!(rest["attention"], attention.as_str());
    let report = audit(&host).await;
    assert!(report.violations.is_empty(), "told is not a violation: {:?}", report.violations);
    assert_eq!(report.attention.len(), 1);
});

both_backends!(the_audit_finds_what_breaks_the_invariants, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("audited");
    shipped_order(&host, &id).await;
    let report = audit(&host).await;
    assert_eq!((report.orders, report.violations.len()), (1, 0), "{:?}", report.violations);

    // Tamper behind the host's back: the shipped order's payment refunded, its row set back to failed.
    let payment = host.store.payments_for_order(&id).await.unwrap().remove(0);
    host.store.refund_payment(&payment.payment_id, "forged").await.unwrap();
    let report = audit(&host).await;
    let problems: Vec<_> = report.violations.iter().map(|v| v.problem.as_str()).collect();
    assert_eq!(problems, ["shipped and refunded"], "{:?}", report.violations);
});

#[test]
fn the_audit_rules() {
    use order_host::store::{OrderRow, PaymentRow};
    let now = chrono::Utc::now();
    let order = |state| OrderRow {
        order_id: "o".into(),
        payment_id: "p".into(),
        run_id: Some("r".into()),
        state,
        step: None,
        items: vec![],
        address: orders::home(),
        total_cents: Some(4200),
        package_id: None,
        carrier: None,
        tracking: None,
        created_at: now,
        updated_at: now,
    };
    let payment = |status| PaymentRow {
        payment_id: "p".into(),
        order_id: "o".into(),
        amount_cents: 4200,
        status,
        transaction_id: None,
        refund_id: None,
        plugin_digest: None,
        created_at: now,
        updated_at: now,
    };
    let problems = |state, payments: &[PaymentRow], told, run| {
        audit::check_order(&order(state), payments, told, run).into_iter().map(|v| v.problem).collect::<Vec<_>>()
    };
    let charged = [payment(PaymentState::Charged)];
    assert!(problems(OrderState::Shipped, &charged, false, RunOutcome::Completed).is_empty());
    assert!(problems(OrderState::Charged, &charged, false, RunOutcome::Running).is_empty(), "in flight");
    assert!(problems(OrderState::Failed, &charged, true, RunOutcome::Failed).is_empty(), "a person was told");
    assert_eq!(problems(OrderState::Failed, &charged, false, RunOutcome::Failed).len(), 1, "silently charged");
    assert_eq!(problems(OrderState::Cancelled, &charged, false, RunOutcome::Unknown).len(), 1);
    let two = [payment(PaymentState::Charged), payment(PaymentState::Charged)];
    assert!(problems(OrderState::Shipped, &two, false, RunOutcome::Completed).contains(&"2 charged payments".into()));
    assert_eq!(problems(OrderState::Shipped, &[], false, RunOutcome::Failed).len(), 1, "row and run disagree");
    assert_eq!(problems(OrderState::AwaitingApproval, &[], false, RunOutcome::Completed).len(), 1);
    assert!(problems(OrderState::Cancelled, &[], false, RunOutcome::Cancelled).is_empty());
    let pending = [payment(PaymentState::Pending)];
    assert_eq!(problems(OrderState::Failed, &pending, false, RunOutcome::Failed).len(), 1, "unknown charge, untold");
    assert!(problems(OrderState::Failed, &pending, true, RunOutcome::Failed).is_empty());
    assert_eq!(problems(OrderState::Shipped, &charged, false, RunOutcome::Unreachable).len(), 1, "not checked");
}

both_backends!(a_start_that_is_not_an_order_ends_at_once, |db: TestDb| async move {
    // Before: the SDK decoded the input and failed every workflow task of the run, which stayed Running forever.
    use order_host::workflows::OrderWorkflow;
    use order_host::workflows::messages::to_raw;
    let host = TestHost::start(&db, HostSpec::default()).await;
    for (input, needle) in [
        (to_raw(Some(&serde_json::json!({"order": "yes please"}))), "not an order"),
        (to_raw::<()>(None), "input is missing"),
    ] {
        let id = order_id("garbage-start");
        let options = temporalio_client::WorkflowStartOptions::new(host.orders_queue(), id.clone()).build();
        let handle = host.client.start_workflow(OrderWorkflow::run, input, options).await.expect("started");
        let err = handle.get_result(WorkflowGetResultOptions::default()).await.expect_err("failed");
        assert!(format!("{err:?}").contains(needle), "{err:?}");
        assert!(host.store.get_order(&id).await.unwrap().is_none());
    }
});

both_backends!(commands_racing_each_other_keep_money_and_parcel_consistent, |db: TestDb| async move {
    // Cancel against approve, and approve against a 1 s approval timeout: whatever wins, the answers and the
    // outcome agree, and nothing is both shipped and refunded.
    let host = TestHost::start(&db, HostSpec::default()).await;
    let race = orders::start(&host, sample_input(&order_id("cancel-vs-approve"))).await;
    orders::wait_for(&race, OrderState::AwaitingApproval, WITHIN).await;
    let (approved, cancelled) = tokio::join!(orders::approve(&race), orders::cancel(&race, "race"));
    let end = race.get_result(WorkflowGetResultOptions::default()).await.expect("ends");
    match end.state {
        OrderState::Shipped => assert!(cancelled.is_err(), "a shipped order's cancel was refused"),
        OrderState::Cancelled => assert_ne!(end.payment.status, PaymentState::Charged, "approved: {approved:?}"),
        other => panic!("unexpected end {other}"),
    }

    let mut input = sample_input(&order_id("approve-vs-timeout"));
    input.options.approval_timeout_ms = Some(1_000);
    let timed = orders::start(&host, input).await;
    orders::wait_for(&timed, OrderState::AwaitingApproval, WITHIN).await;
    let approved = orders::approve(&timed).await;
    let end = timed.get_result(WorkflowGetResultOptions::default()).await.expect("ends");
    match (&approved, end.state) {
        (Ok(_), OrderState::Shipped) => {}
        (Err(_), OrderState::Cancelled) => assert_eq!(end.payment.status, PaymentState::Pending, "nothing charged"),
        other => panic!("the answer and the outcome disagree: {other:?}"),
    }
    let report = audit(&host).await;
    assert!(report.violations.is_empty(), "{:?}", report.violations);
});

both_backends!(an_address_change_racing_the_dispatch_is_all_or_nothing, |db: TestDb| async move {
    // Address changes sent as fast as possible while the parcel is packed: every change answered 200 before the
    // dispatch reaches the carrier, none after; the parcel goes to the last accepted one.
    let host = TestHost::start(&db, HostSpec::default()).await;
    let id = order_id("readdress-race");
    let handle = orders::start(&host, sample_input(&id)).await;
    orders::approve(&handle).await.unwrap();
    let addresses = [orders::home(), {
        let mut a = orders::home();
        a.street = "456 Oak Ave".into();
        a
    }];
    let mut last_accepted = orders::home();
    for n in 0.. {
        let address = addresses[n % 2].clone();
        match orders::update_address(&handle, &address).await {
            Ok(_) => last_accepted = address,
            Err(refused) => {
                // Refused by the order (the parcel is on its way), or sent after it ended: the shipment decides and
                // dispatches in one workflow task, and the order ends in its next one.
                let ended = refused.to_lowercase().contains("not found");
                assert!(refused.contains("dispatched") || refused.contains("shipped") || ended, "{refused}");
                break;
            }
        }
        assert!(n < 10_000, "the dispatch never closed address changes");
    }
    let end = handle.get_result(WorkflowGetResultOptions::default()).await.expect("ships");
    assert_eq!(end.state, OrderState::Shipped);
    assert_eq!(end.address, last_accepted, "the parcel went to the last accepted address");
    assert_eq!(host.store.get_order(&id).await.unwrap().unwrap().address, last_accepted);
});
