//! A hostile plugin swapped in while orders run, on the real dev server: the host's deadline, instance shares and
//! compensation hold end to end.

use std::time::Duration;

use order_host::domain::{OrderOptions, OrderState, PaymentState};
use order_host::plugins::Slot;
use order_host_tests::api::Api;
use order_host_tests::db::TestDb;
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::{self, order_id, sample_input};
use order_host_tests::paths;

use crate::both_backends;

const WITHIN: Duration = Duration::from_secs(90);

/// The value of the metric line that starts with `prefix` (`name{labels}`); the line must be there.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no metric {prefix} in:\n{text}"))
}

async fn start_approved(host: &TestHost, prefix: &str, options: OrderOptions) -> (String, orders::OrderHandle) {
    let id = order_id(prefix);
    let handle = orders::start(host, order_host::domain::OrderInput { options, ..sample_input(&id) }).await;
    orders::approve(&handle).await.expect("approved");
    (id, handle)
}

both_backends!(a_shipper_that_sleeps_past_its_deadline_costs_its_orders_not_the_host, |db: TestDb| async move {
    // PLUGIN_DEADLINE 200 ms. The picky sleeper passes its trial and then sleeps 5 s in WASI on every dispatch of a
    // `slow-` order. Before, each such attempt held a thread and a pooled instance for 5 s (and until the retry window
    // closed); now each ends at its deadline as a retryable timeout, the order's dispatch gives up after its attempts,
    // and the order fails with its payment refunded — while other orders, and the other slots, go on as usual.
    let host = TestHost::start(&db, HostSpec { http: true, ..HostSpec::default() }).await;
    let api = Api::new(&host);
    let one_shipment = OrderOptions { max_shipping_attempts: Some(1), ..OrderOptions::default() };

    let mut ordinary = Vec::new();
    for _ in 0..2 {
        ordinary.push(start_approved(&host, "live", OrderOptions::default()).await);
    }
    // Swapped in while those run.
    host.publish(Slot::Shipping, "fixtures/picky-sleeper");
    api.wait_for_plugin("shipping", "fixtures/picky-sleeper", WITHIN).await;
    let picky = paths::digest_of("fixtures/picky-sleeper");

    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(start_approved(&host, "slow", one_shipment.clone()).await);
    }
    for _ in 0..2 {
        ordinary.push(start_approved(&host, "live", OrderOptions::default()).await);
    }

    for (_, handle) in &ordinary {
        orders::wait_for(handle, OrderState::Shipped, WITHIN).await;
    }
    for (id, handle) in &slow {
        let doc = orders::wait_for(handle, OrderState::Failed, WITHIN).await;
        assert_eq!(doc.payment.status, PaymentState::Refunded, "{doc:?}");
        let payments = host.store.payments_for_order(id).await.unwrap();
        assert_eq!(payments.iter().map(|p| p.status).collect::<Vec<_>>(), [PaymentState::Refunded]);
    }

    // Not one attempt of any order was turned away for want of an instance.
    for (id, _) in ordinary.iter().chain(&slow) {
        let events = host.store.events(id, 1000).await.unwrap();
        let busy: Vec<_> = events
            .iter()
            .filter_map(|e| e.message.as_deref())
            .filter(|m| m.contains("no free plugin instance"))
            .collect();
        assert!(busy.is_empty(), "{id}: {busy:?}");
    }

    let text = api.get("/metrics").await.body.as_str().unwrap().to_owned();
    let labels = format!("digest=\"{picky}\",slot=\"shipping\"");
    let calls = metric(&text, &format!("order_host_plugin_call_seconds_count{{{labels}}}"));
    let within = metric(&text, &format!("order_host_plugin_call_seconds_bucket{{{labels},le=\"1\"}}"));
    // Three slow orders, each dispatch retried to its attempt limit, plus the ordinary orders' calls.
    assert!(calls >= 3.0 * 10.0, "{calls} calls of the sleeper");
    assert!((within - calls).abs() < f64::EPSILON, "{within} of {calls} calls ended within 1 s (deadline 200 ms)");
    // Every call is over: no instance or thread is still held by the sleeper.
    for slot in Slot::ALL {
        let in_flight = metric(&text, &format!("order_host_plugin_calls_in_flight{{slot=\"{slot}\"}}"));
        assert!(in_flight.abs() < f64::EPSILON, "{slot}: {in_flight} calls still in flight");
    }
});
