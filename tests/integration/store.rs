//! The store contract, on SQLite and PostgreSQL alike.

use order_host::domain::{Address, Item, OrderState, PaymentState};
use order_host::store::{NewEvent, NewOrder, OrderFilter, PluginVersionRow, ShipmentClaim, Transition};
use order_host_tests::db::TestDb;

use crate::both_backends;

fn new_order(id: &str) -> NewOrder {
    NewOrder {
        order_id: id.to_owned(),
        payment_id: format!("pay-{id}"),
        run_id: "run-1".into(),
        items: vec![Item { sku: "SKU-001".into(), quantity: 2, unit_price_cents: 1500 }],
        address: Address {
            street: "1 Main St".into(),
            city: "Springfield".into(),
            state: "IL".into(),
            zip_code: "62701".into(),
        },
    }
}

both_backends!(orders_are_keyed_by_id, |db: TestDb| async move {
    let store = &db.store;
    assert!(store.insert_order(&new_order("o-1")).await.unwrap());
    assert!(!store.insert_order(&new_order("o-1")).await.unwrap(), "the same run receiving again is a no-op");
    let row = store.get_order("o-1").await.unwrap().unwrap();
    assert_eq!(row.payment_id, "pay-o-1");
    assert_eq!(row.run_id.as_deref(), Some("run-1"));
    assert_eq!(row.state, OrderState::Received);
    assert_eq!(row.items[0].quantity, 2);
    assert!(store.get_order("nope").await.unwrap().is_none());
    store.migrate().await.expect("migrating twice is a no-op");
});

both_backends!(an_order_belongs_to_the_run_that_received_it, |db: TestDb| async move {
    let store = &db.store;
    store.insert_order(&new_order("o-1")).await.unwrap();
    store
        .transition("o-1", &Transition { seq: 5, state: Some(OrderState::Shipped), ..Transition::default() })
        .await
        .unwrap();

    // Another run under the same id (the `temporal` CLI reuses finished ids) is refused and changes nothing.
    let mut reused = new_order("o-1");
    reused.run_id = "run-2".into();
    let err = store.insert_order(&reused).await.expect_err("another run's order");
    assert!(!err.is_transient(), "a conflict is final: {err}");
    assert!(err.to_string().contains("belongs to workflow run run-1"), "{err}");
    reused.payment_id = "pay-other".into();
    assert!(store.insert_order(&reused).await.is_err(), "with another payment id too");
    let row = store.get_order("o-1").await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.payment_id.as_str(), row.run_id.as_deref()),
        (OrderState::Shipped, "pay-o-1", Some("run-1"))
    );

    // One order per payment id.
    let mut second = new_order("o-2");
    second.payment_id = "pay-o-1".into();
    second.run_id = "run-3".into();
    let err = store.insert_order(&second).await.expect_err("a payment id serves one order");
    assert!(err.to_string().contains("payment id pay-o-1 is already used by order o-1"), "{err}");
    assert!(store.get_order("o-2").await.unwrap().is_none(), "nothing was written");

    // Rows from before owners existed hold their payment ids too.
    db.query("UPDATE orders SET run_id = NULL WHERE id = 'o-1'").await.unwrap();
    let err = store.insert_order(&second).await.expect_err("a legacy order's payment id");
    assert!(err.to_string().contains("already used by order o-1"), "{err}");
});

both_backends!(the_seeds_queries_run_unchanged, |db: TestDb| async move {
    let store = &db.store;
    store.insert_order(&new_order("o-1")).await.unwrap();
    store.begin_payment("pay-o-1", "o-1", 4200, None).await.unwrap();
    store
        .append_event(&NewEvent { details: Some(serde_json::json!({"k": 1})), ..NewEvent::new("o-1", "state") })
        .await
        .unwrap();
    let seed_queries = [
        ("SELECT id, state, address_json, items_json, created_at, updated_at FROM orders", 6),
        ("SELECT payment_id, order_id, status, amount, created_at, updated_at FROM payments", 6),
        ("SELECT id, order_id, event_type, payload_json, timestamp FROM events ORDER BY timestamp", 5),
        ("SELECT o.id, p.amount FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.state = 'received'", 2),
    ];
    for (sql, columns) in seed_queries {
        let rows = db.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!((rows.count, rows.columns.len()), (1, columns), "{sql}: {rows:?}");
    }
    let dollars = db.text("SELECT CAST(amount AS TEXT) FROM payments WHERE payment_id = 'pay-o-1'").await.unwrap();
    assert!(matches!(dollars.as_deref(), Some("42.00" | "42.0")), "amount is in dollars: {dollars:?}");
    let payload = db.text("SELECT CAST(payload_json AS TEXT) FROM events").await.unwrap().unwrap();
    assert!(payload.contains("\"k\""), "{payload}");
});

both_backends!(a_shipment_is_dispatched_or_stopped_never_both, |db: TestDb| async move {
    let store = &db.store;
    let address = new_order("o-1").address;
    let elsewhere = Address { street: "9 Elm St".into(), ..address.clone() };
    let dispatch = ShipmentClaim {
        order_id: "o-1".into(),
        shipment: 1,
        stop: false,
        address: address.clone(),
        package: Some(serde_json::json!({"package_id": "pkg-1"})),
    };
    assert_eq!(store.claim_shipment(&dispatch).await.unwrap(), dispatch, "the first claim holds");
    // A stop (or a dispatch elsewhere) asked later gets the dispatch that holds, parcel and address included.
    let stop = ShipmentClaim { stop: true, package: None, address: elsewhere.clone(), ..dispatch.clone() };
    assert_eq!(store.claim_shipment(&stop).await.unwrap(), dispatch);
    let moved = ShipmentClaim { address: elsewhere.clone(), ..dispatch.clone() };
    assert_eq!(store.claim_shipment(&moved).await.unwrap(), dispatch);

    // The next shipment, and another order's, are claimed on their own; a stop that came first holds too.
    let next = ShipmentClaim { shipment: 2, ..stop.clone() };
    assert_eq!(store.claim_shipment(&next).await.unwrap(), next);
    assert_eq!(store.claim_shipment(&ShipmentClaim { shipment: 2, ..dispatch.clone() }).await.unwrap(), next);
    let other = ShipmentClaim { order_id: "o-2".into(), ..moved.clone() };
    assert_eq!(store.claim_shipment(&other).await.unwrap(), other);

    // A dispatch and a stop asked at the same moment agree on the one that holds.
    for shipment in 10..20 {
        let (dispatch, stop) =
            (ShipmentClaim { shipment, ..dispatch.clone() }, ShipmentClaim { shipment, ..stop.clone() });
        let (a, b) = tokio::join!(store.claim_shipment(&dispatch), store.claim_shipment(&stop));
        assert_eq!(a.unwrap(), b.unwrap(), "shipment {shipment}");
    }
});

both_backends!(transitions_never_go_backwards, |db: TestDb| async move {
    let store = &db.store;
    store.insert_order(&new_order("o-1")).await.unwrap();
    let validated = Transition {
        seq: 2,
        state: Some(OrderState::Validated),
        step: Some("validate_order".into()),
        total_cents: Some(3000),
        ..Transition::default()
    };
    assert!(store.transition("o-1", &validated).await.unwrap());
    let stale = Transition { seq: 2, state: Some(OrderState::Received), ..Transition::default() };
    assert!(!store.transition("o-1", &stale).await.unwrap(), "same seq is stale");
    let older = Transition { seq: 1, state: Some(OrderState::Cancelled), ..Transition::default() };
    assert!(!store.transition("o-1", &older).await.unwrap());
    let row = store.get_order("o-1").await.unwrap().unwrap();
    assert_eq!((row.state, row.total_cents), (OrderState::Validated, Some(3000)));

    let shipped = Transition {
        seq: 9,
        state: Some(OrderState::Shipped),
        carrier: Some("UPS".into()),
        tracking: Some("1Z1".into()),
        ..Transition::default()
    };
    assert!(store.transition("o-1", &shipped).await.unwrap());
    let row = store.get_order("o-1").await.unwrap().unwrap();
    assert_eq!(row.state, OrderState::Shipped);
    assert_eq!(row.total_cents, Some(3000), "fields not in a transition are kept");
    assert_eq!(row.tracking.as_deref(), Some("1Z1"));
    assert!(!store.transition("missing", &shipped).await.unwrap());
});

both_backends!(a_state_and_its_event_are_written_together, |db: TestDb| async move {
    let store = &db.store;
    store.insert_order(&new_order("o-1")).await.unwrap();
    let event = |state: OrderState, message: &str| NewEvent {
        state: Some(state),
        message: Some(message.into()),
        details: Some(serde_json::json!({ "step": "record_state" })),
        ..NewEvent::new("o-1", "state")
    };
    let approved = Transition { seq: 4, state: Some(OrderState::Approved), ..Transition::default() };
    let noted = event(OrderState::Approved, "approved");
    assert!(store.transition_with_event("o-1", &approved, &noted).await.unwrap());
    // Written again (a retried attempt) and older states arriving late: neither the row nor the events change.
    assert!(!store.transition_with_event("o-1", &approved, &noted).await.unwrap(), "same seq is stale");
    let late = Transition { seq: 3, state: Some(OrderState::AwaitingApproval), ..Transition::default() };
    let late_event = event(OrderState::AwaitingApproval, "late");
    assert!(!store.transition_with_event("o-1", &late, &late_event).await.unwrap());
    let missing = NewEvent { order_id: "missing".into(), ..noted.clone() };
    assert!(!store.transition_with_event("missing", &approved, &missing).await.unwrap(), "no such order");

    assert_eq!(store.get_order("o-1").await.unwrap().unwrap().state, OrderState::Approved);
    let events = store.events("o-1", 100).await.unwrap();
    assert_eq!(events.len(), 1, "one event, for the state applied: {events:?}");
    assert_eq!(
        (events[0].kind.as_str(), events[0].state, events[0].message.as_deref()),
        ("state", Some(OrderState::Approved), Some("approved"))
    );
    assert_eq!(events[0].details, Some(serde_json::json!({ "step": "record_state" })));
    assert!(store.events("missing", 100).await.unwrap().is_empty());
});

both_backends!(payments_are_charged_once, |db: TestDb| async move {
    let store = &db.store;
    store.insert_order(&new_order("o-1")).await.unwrap();
    store.insert_order(&new_order("o-2")).await.unwrap();

    let pending = store.begin_payment("pay-1", "o-1", 3000, Some("sha256:v1")).await.unwrap();
    assert_eq!((pending.status, pending.amount_cents), (PaymentState::Pending, 3000));
    let again = store.begin_payment("pay-1", "o-1", 9999, Some("sha256:v2")).await.unwrap();
    assert_eq!(again.amount_cents, 3000, "ON CONFLICT DO NOTHING keeps the first row");
    assert_eq!(again.plugin_digest.as_deref(), Some("sha256:v1"), "and the version its first attempt was bound to");
    let conflict = store.begin_payment("pay-1", "o-2", 3000, None).await.unwrap_err();
    assert!(conflict.to_string().contains("already belongs to order o-1"), "{conflict}");
    assert!(!conflict.is_transient());

    let charged_state = Transition { seq: 5, state: Some(OrderState::Charged), ..Transition::default() };
    let charged = store.complete_charge("pay-1", "txn-1", Some(("o-1", &charged_state))).await.unwrap();
    assert_eq!((charged.status, charged.transaction_id.as_deref()), (PaymentState::Charged, Some("txn-1")));
    assert_eq!(store.get_order("o-1").await.unwrap().unwrap().state, OrderState::Charged);
    let twice = store.complete_charge("pay-1", "txn-2", None).await.unwrap();
    assert_eq!(twice.transaction_id.as_deref(), Some("txn-1"), "a charged payment keeps its transaction");
    assert_eq!(twice.plugin_digest.as_deref(), Some("sha256:v1"), "and the version it is bound to");

    let refunded = store.refund_payment("pay-1", "rfd-1").await.unwrap();
    assert_eq!((refunded.status, refunded.refund_id.as_deref()), (PaymentState::Refunded, Some("rfd-1")));
    let refunded_again = store.refund_payment("pay-1", "rfd-2").await.unwrap();
    assert_eq!(refunded_again.refund_id.as_deref(), Some("rfd-1"));

    store.begin_payment("pay-2", "o-2", 10, None).await.unwrap();
    assert_eq!(store.decline_payment("pay-2").await.unwrap().status, PaymentState::Declined);
    let o2_charged = Transition { seq: 5, state: Some(OrderState::Charged), ..Transition::default() };
    let late_charge = store.complete_charge("pay-2", "txn-x", Some(("o-2", &o2_charged))).await.unwrap();
    assert_eq!(late_charge.status, PaymentState::Declined, "a declined payment is never charged");
    assert_eq!(
        store.get_order("o-2").await.unwrap().unwrap().state,
        OrderState::Received,
        "nor is its order moved to charged"
    );
    let nothing = store.complete_charge("pay-none", "txn-y", Some(("o-2", &o2_charged))).await.unwrap_err();
    assert!(!nothing.is_transient(), "{nothing}");
    assert_eq!(
        store.get_order("o-2").await.unwrap().unwrap().state,
        OrderState::Received,
        "a missing payment moves nothing"
    );
    assert_eq!(store.payments_for_order("o-1").await.unwrap().len(), 1);
});

both_backends!(events_are_appended_in_order, |db: TestDb| async move {
    let store = &db.store;
    let first = store
        .append_event(&NewEvent {
            activity: Some("validate_order".into()),
            attempt: Some(1),
            outcome: Some("retryable_error".into()),
            message: Some("boom".into()),
            plugin_digest: Some("sha256:abc".into()),
            ..NewEvent::new("o-1", "activity")
        })
        .await
        .unwrap();
    let second = store
        .append_event(&NewEvent {
            state: Some(OrderState::Validated),
            details: Some(serde_json::json!({"total_cents": 3000})),
            ..NewEvent::new("o-1", "state")
        })
        .await
        .unwrap();
    store.append_event(&NewEvent::new("o-2", "state")).await.unwrap();
    assert!(second > first);
    let events = store.events("o-1", 100).await.unwrap();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), vec![first, second]);
    assert_eq!(events[0].attempt, Some(1));
    assert_eq!(events[0].plugin_digest.as_deref(), Some("sha256:abc"));
    assert_eq!(events[1].state, Some(OrderState::Validated));
    assert_eq!(events[1].details, Some(serde_json::json!({"total_cents": 3000})));
    assert_eq!(store.events("o-1", 1).await.unwrap().len(), 1);

    // An activity's completed attempts, newest first: not its failures, not another activity's or order's.
    let dispatch = |order: &str, outcome: &str, n: u32| NewEvent {
        activity: Some("dispatch_carrier".into()),
        attempt: Some(n),
        outcome: Some(outcome.into()),
        details: Some(serde_json::json!({ "n": n })),
        ..NewEvent::new(order, "activity")
    };
    for event in
        [dispatch("o-1", "completed", 1), dispatch("o-1", "retryable_error", 2), dispatch("o-2", "completed", 3)]
    {
        store.append_event(&event).await.unwrap();
    }
    store.append_event(&dispatch("o-1", "completed", 4)).await.unwrap();
    let done = store.completed_details("o-1", "dispatch_carrier", 10).await.unwrap();
    assert_eq!(done, vec![serde_json::json!({ "n": 4 }), serde_json::json!({ "n": 1 })]);
    assert_eq!(store.completed_details("o-1", "dispatch_carrier", 1).await.unwrap().len(), 1);
    assert!(store.completed_details("o-1", "validate_order", 10).await.unwrap().is_empty());
});

both_backends!(status_reads_sum_events_up_without_reading_them_all, |db: TestDb| async move {
    let store = &db.store;
    let attempt = |activity: &str, attempt: u32, outcome: &str, digest: Option<&str>| NewEvent {
        activity: Some(activity.into()),
        attempt: Some(attempt),
        outcome: Some(outcome.into()),
        message: Some(format!("{activity} attempt {attempt}: {outcome}")),
        plugin_digest: digest.map(Into::into),
        ..NewEvent::new("o-1", "activity")
    };
    for n in 1..=30 {
        store.append_event(&attempt("validate_order", n, "retryable_error", Some("sha256:v1"))).await.unwrap();
    }
    store.append_event(&attempt("validate_order", 31, "completed", Some("sha256:v2"))).await.unwrap();
    store.append_event(&attempt("charge_payment", 1, "simulated_hang", None)).await.unwrap();
    store.append_event(&attempt("charge_payment", 1, "refused", Some("sha256:p"))).await.unwrap();
    store.append_event(&attempt("charge_payment", 2, "completed", Some("sha256:p"))).await.unwrap();
    for message in ["first look", "second look"] {
        store
            .append_event(&NewEvent { message: Some(message.into()), ..NewEvent::new("o-1", "attention") })
            .await
            .unwrap();
    }
    store.append_event(&attempt("validate_order", 1, "retryable_error", None)).await.unwrap();
    store
        .append_event(&NewEvent { order_id: "o-2".into(), ..attempt("ship_order", 1, "permanent_error", None) })
        .await
        .unwrap();

    let summary = store.event_summary("o-1", 10).await.unwrap();
    assert_eq!(
        summary.failures.into_iter().collect::<Vec<_>>(),
        [("charge_payment".to_owned(), 1), ("validate_order".to_owned(), 31)],
        "failed attempts per activity; a refused attempt is another run's, a completed one no failure"
    );
    assert_eq!(summary.recent_failures.len(), 10, "only the newest failures are read");
    let attempts: Vec<_> =
        summary.recent_failures.iter().map(|e| (e.activity.clone().unwrap(), e.attempt.unwrap())).collect();
    assert_eq!(attempts.last().unwrap(), &("validate_order".to_owned(), 1), "oldest first, newest last");
    assert_eq!(attempts[attempts.len() - 2], ("charge_payment".to_owned(), 1));
    assert_eq!(attempts[0], ("validate_order".to_owned(), 23));
    assert_eq!(summary.attention.as_deref(), Some("second look"));
    let runs = store.plugin_runs("o-1").await.unwrap();
    let digests: Vec<_> = runs.iter().map(|d| (d.activity.as_str(), d.digest.as_str())).collect();
    assert_eq!(digests, [("validate_order", "sha256:v2"), ("charge_payment", "sha256:p")], "the newest per activity");
    assert_eq!(store.event_summary("nobody", 10).await.unwrap(), order_host::store::EventSummary::default());
    assert!(store.plugin_runs("nobody").await.unwrap().is_empty());

    // The counts are kept as the events are written, not counted at each read: a tally the database keeps (one row
    // per order and activity), which a row written behind the store's back does not change.
    db.query("UPDATE failure_tallies SET failures = 1000 WHERE order_id = 'o-1' AND activity = 'validate_order'")
        .await
        .unwrap();
    let kept = store.event_summary("o-1", 10).await.unwrap();
    assert_eq!(kept.failures["validate_order"], 1000, "read from the tally, not from the events");
    store.append_event(&attempt("validate_order", 32, "retryable_error", None)).await.unwrap();
    assert_eq!(store.event_summary("o-1", 10).await.unwrap().failures["validate_order"], 1001);
});

both_backends!(orders_list_by_state_and_page, |db: TestDb| async move {
    let store = &db.store;
    for i in 0..5 {
        store.insert_order(&new_order(&format!("o-{i}"))).await.unwrap();
    }
    let shipped = Transition { seq: 2, state: Some(OrderState::Shipped), ..Transition::default() };
    store.transition("o-1", &shipped).await.unwrap();
    store.transition("o-3", &shipped).await.unwrap();

    let all = store.list_orders(&OrderFilter { state: None, limit: 10, offset: 0 }).await.unwrap();
    assert_eq!(all.len(), 5);
    let page = store.list_orders(&OrderFilter { state: None, limit: 2, offset: 4 }).await.unwrap();
    assert_eq!(page.len(), 1);
    let only_shipped =
        store.list_orders(&OrderFilter { state: Some(OrderState::Shipped), limit: 10, offset: 0 }).await.unwrap();
    let mut ids: Vec<_> = only_shipped.iter().map(|o| o.order_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["o-1", "o-3"]);
    let counts = store.count_by_state().await.unwrap();
    assert!(counts.contains(&(OrderState::Shipped, 2)) && counts.contains(&(OrderState::Received, 3)), "{counts:?}");
});

both_backends!(plugin_versions_are_recorded, |db: TestDb| async move {
    let store = &db.store;
    for (slot, digest) in [("payment", "sha256:1"), ("payment", "sha256:2"), ("shipping", "sha256:3")] {
        store
            .record_plugin_version(&PluginVersionRow {
                slot: slot.into(),
                digest: digest.into(),
                name: slot.into(),
                version: "0.1.0".into(),
                source: "test".into(),
                size_bytes: 1234,
                activation: "loaded".into(),
                host: "h:1".into(),
                loaded_at: chrono_now(),
            })
            .await
            .unwrap();
    }
    let payment = store.plugin_versions(Some("payment"), 10).await.unwrap();
    assert_eq!(payment.iter().map(|v| v.digest.as_str()).collect::<Vec<_>>(), ["sha256:2", "sha256:1"]);
    assert_eq!(store.plugin_versions(None, 10).await.unwrap().len(), 3);
});

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
