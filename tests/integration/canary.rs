//! A canary on the real dev server: a payment version published for half of the new orders charges exactly the
//! orders whose id falls in that half, in a running host that hears of it from the shared store; promoted, it
//! charges every new order; a canary rolled back ends.

use std::sync::Arc;
use std::time::Duration;

use order_host::cli::Cli;
use order_host::domain::OrderState;
use order_host::plugins::{PluginRuntime, Registry, Slot};
use order_host::rollout::{Rollout, canary_bucket};
use order_host_tests::db::TestDb;
use order_host_tests::host::{HostSpec, TestHost};
use order_host_tests::orders::{self, order_id, sample_input};
use order_host_tests::{paths, wait};

use crate::both_backends;

const WITHIN: Duration = Duration::from_secs(30);

/// Waits until the host reports running `digest` under `key` (`payment`, or `payment.canary` for its canary).
async fn host_runs(db: &TestDb, key: &str, digest: &str) {
    wait::until(WITHIN, &format!("the host to run {digest} as {key}"), || async {
        let fleet = db.store.processes(chrono::Utc::now() - chrono::Duration::minutes(1)).await.unwrap();
        fleet.iter().any(|p| p.digests.get(key).is_some_and(|d| d == digest)).then_some(())
    })
    .await;
}

/// Ships an order and returns the digest of the payment version that charged it.
async fn charged_with(host: &TestHost, id: &str) -> String {
    let handle = orders::start(host, sample_input(id)).await;
    orders::approve(&handle).await.unwrap();
    orders::wait_for(&handle, OrderState::Shipped, WITHIN).await;
    host.store.payments_for_order(id).await.unwrap().remove(0).plugin_digest.unwrap()
}

both_backends!(a_canary_charges_its_share_of_new_orders, |db: TestDb| async move {
    let host = TestHost::start(&db, HostSpec::default()).await;
    let (v1, v2) = (paths::digest_of("payment"), paths::digest_of("fixtures/payment-v2"));
    // The operator's side, as `order-host plugins publish --canary 50` does it.
    let config = <Cli as clap::Parser>::try_parse_from(["order-host", "worker"]).unwrap().config;
    let runtime = PluginRuntime::new(config.runtime(false)).unwrap();
    let operator = Rollout::publisher(Arc::clone(&db.store), Registry::new(runtime));
    let v2_bytes = std::fs::read(paths::component("fixtures/payment-v2")).unwrap();
    operator.publish(Slot::Payment, v2_bytes, "canary", Some(50)).await.unwrap();
    host_runs(&db, "payment.canary", &v2).await;

    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    while inside.len() < 2 || outside.len() < 2 {
        let id = order_id("canary");
        let side = if canary_bucket(&id) < 50 { &mut inside } else { &mut outside };
        if side.len() < 2 {
            side.push(id);
        }
    }
    for id in &inside {
        assert_eq!(charged_with(&host, id).await, v2, "{id} (bucket {}) is in the canary's half", canary_bucket(id));
    }
    for id in &outside {
        assert_eq!(charged_with(&host, id).await, v1, "{id} (bucket {}) is not", canary_bucket(id));
    }

    operator.promote(Slot::Payment).await.unwrap();
    host_runs(&db, "payment", &v2).await;
    let late = loop {
        let id = order_id("promoted");
        if canary_bucket(&id) >= 50 {
            break id;
        }
    };
    assert_eq!(charged_with(&host, &late).await, v2, "promoted: every new order");

    // A new canary (v1 for half), rolled back: it ends, and an order in its half charges on the stable v2.
    operator
        .publish(Slot::Payment, std::fs::read(paths::component("payment")).unwrap(), "canary", Some(50))
        .await
        .unwrap();
    host_runs(&db, "payment.canary", &v1).await;
    operator.rollback(Slot::Payment, None).await.unwrap();
    wait::until(WITHIN, "the host to drop the canary", || async {
        let fleet = db.store.processes(chrono::Utc::now() - chrono::Duration::minutes(1)).await.unwrap();
        fleet.iter().all(|p| !p.digests.contains_key("payment.canary")).then_some(())
    })
    .await;
    let inside = loop {
        let id = order_id("ended");
        if canary_bucket(&id) < 50 {
            break id;
        }
    };
    assert_eq!(charged_with(&host, &inside).await, v2, "the canary ended: the stable version");
});
