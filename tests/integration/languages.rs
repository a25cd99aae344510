//! Payment plugins written in Python (componentize-py) and JavaScript (jco), built with their toolchains' default
//! flags by `scripts/build-examples.sh`, hot-swapped in on the real dev server: they charge, decline and refund
//! orders exactly as the Rust default does.

use std::time::Duration;

use order_host::domain::{OrderInput, OrderOptions, OrderState, PaymentState};
use order_host::plugins::Slot;
use order_host_tests::api::Api;
use order_host_tests::db::{Backend, TestDb};
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::{self, order_id, sample_input};
use order_host_tests::paths;

/// Loading an 18 MB interpreter compiles ~40 s in a debug build.
const LOADING: Duration = Duration::from_mins(4);
const WITHIN: Duration = Duration::from_mins(1);

/// FNV-1a 64 of the payment id: the id every implementation of the example gateway derives.
fn gateway_id(prefix: &str, payment_id: &str) -> String {
    let hash =
        payment_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{prefix}{hash:016x}")
}

async fn publish(host: &TestHost, api: &Api, slot: Slot, component: &str) {
    host.publish(slot, component);
    api.wait_for_plugin(slot.as_str(), component, LOADING).await;
}

async fn run(host: &TestHost, input: OrderInput, state: OrderState) -> orders::OrderHandle {
    let handle = orders::start(host, input).await;
    orders::approve(&handle).await.expect("approved");
    orders::wait_for(&handle, state, WITHIN).await;
    handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_plugins_in_python_and_javascript_charge_decline_and_refund() {
    let db = TestDb::new(Backend::Sqlite).await;
    let host = TestHost::start(&db, HostSpec { http: true, ..HostSpec::default() }).await;
    let api = Api::new(&host);
    for example in ["examples/payment-python", "examples/payment-js"] {
        publish(&host, &api, Slot::Payment, example).await;
        publish(&host, &api, Slot::Shipping, "shipping").await;
        let digest = paths::digest_of(example);

        // Charged and shipped: the charge names the example's digest and carries its transaction id.
        let id = order_id("lang");
        run(&host, sample_input(&id), OrderState::Shipped).await;
        let payment = &host.store.payments_for_order(&id).await.unwrap()[0];
        assert_eq!(payment.status, PaymentState::Charged, "{example}");
        assert_eq!(payment.transaction_id.as_deref(), Some(gateway_id("txn-", &payment.payment_id).as_str()));
        let events = host.store.events(&id, 100).await.unwrap();
        let charge = events
            .iter()
            .find(|e| e.activity.as_deref() == Some("charge_payment") && e.outcome.as_deref() == Some("completed"))
            .expect("a completed charge");
        assert_eq!(charge.plugin_digest.as_deref(), Some(digest.as_str()), "{example}");

        // Declined above $10,000: a permanent error, the order rejected at once.
        let id = order_id("lang-big");
        let mut big = sample_input(&id);
        big.items[0].unit_price_cents = 2_000_000;
        run(&host, big, OrderState::Rejected).await;
        let events = host.store.events(&id, 100).await.unwrap();
        assert!(
            events.iter().any(|e| e.outcome.as_deref() == Some("permanent_error")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("amount_over_limit") && m.contains("exceeds the limit of $10000.00"))),
            "{example}: {events:?}"
        );

        // Refunded when shipping fails for good.
        publish(&host, &api, Slot::Shipping, "fixtures/dispatch-fails").await;
        let id = order_id("lang-refund");
        let input = OrderInput {
            options: OrderOptions { max_shipping_attempts: Some(1), ..OrderOptions::default() },
            ..sample_input(&id)
        };
        run(&host, input, OrderState::Failed).await;
        let payment = &host.store.payments_for_order(&id).await.unwrap()[0];
        assert_eq!(payment.status, PaymentState::Refunded, "{example}");
        assert_eq!(payment.refund_id.as_deref(), Some(gateway_id("rfd-", &payment.payment_id).as_str()));
    }
}
