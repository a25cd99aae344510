//! Hot swap through the registry and the directory watcher: calls in flight keep their version, new calls get the
//! new one, a bad file leaves the active version alone, rollback returns to the previous version.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{component, runtime, sample_order, wait_until};
use order_host::plugins::{Digest, LoadError, Registry, RegistryEvent, Slot, watch};

/// Publishes `bytes` as `<dir>/<slot>.wasm` the way operators should: write a temporary file, rename it into place.
fn publish(dir: &Path, slot: Slot, bytes: &[u8]) {
    let tmp = dir.join(format!(".{}.tmp", slot.file_name()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(slot.file_name())).unwrap();
}

fn active_digest(registry: &Registry, slot: Slot) -> Option<Digest> {
    registry.active(slot).map(|p| p.meta().digest.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_in_flight_keeps_its_version_while_new_calls_get_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new(runtime_with_long_deadline());
    let _watch = watch(Arc::clone(&registry), dir.path(), Duration::from_millis(50)).unwrap();

    let v1 = component("fixtures/slow");
    let v2 = component("validation");
    let (d1, d2) = (Digest::of(&v1), Digest::of(&v2));

    publish(dir.path(), Slot::Validation, &v1);
    let (r, d1c) = (Arc::clone(&registry), d1.clone());
    tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(10), "v1 active", || active_digest(&r, Slot::Validation).as_ref() == Some(&d1c));
    })
    .await
    .unwrap();

    // A call of ~3 s starts on v1 …
    let mut slow_order = sample_order("slow");
    slow_order.items[0].quantity = 3000;
    let in_flight = tokio::spawn(registry.call(Slot::Validation, move |p| p.validate(&slow_order)));

    // … v2 is published while it runs …
    publish(dir.path(), Slot::Validation, &v2);
    let r = Arc::clone(&registry);
    let d2c = d2.clone();
    tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(10), "v2 active", || active_digest(&r, Slot::Validation).as_ref() == Some(&d2c));
    })
    .await
    .unwrap();

    // … new calls run v2 (the real validator computes 4200 and upper-cases the state) …
    let order = sample_order("new");
    let fresh = registry.call(Slot::Validation, move |p| p.validate(&order)).await;
    assert_eq!(fresh.plugin.unwrap().digest, d2);
    assert_eq!(fresh.outcome.unwrap().order.address.state, "IL");
    assert!(!in_flight.is_finished(), "the slow call should still be running on v1");

    // … and the call begun on v1 finishes on v1.
    let slow = in_flight.await.unwrap();
    assert_eq!(slow.plugin.unwrap().digest, d1);
    let validated = slow.outcome.expect("v1 finished its call");
    assert_eq!(validated.order.address.state, "il", "the slow fixture does not normalise: v1 answered");

    // A broken file dropped in leaves v2 active and is reported.
    let mut events = registry.subscribe();
    let garbage = b"\0asm\x0d\0\x01\0garbage".to_vec();
    publish(dir.path(), Slot::Validation, &garbage);
    let refusal = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(RegistryEvent::Refused(refusal)) = events.recv().await {
                break refusal;
            }
        }
    })
    .await
    .expect("a refusal event");
    assert_eq!(refusal.digest, Some(Digest::of(&garbage)));
    assert!(matches!(refusal.error, LoadError::Invalid(_)), "{:?}", refusal.error);
    assert_eq!(active_digest(&registry, Slot::Validation), Some(d2.clone()));
    let status = registry.status(Slot::Validation);
    assert_eq!(status.history.iter().map(|r| r.meta.digest.clone()).collect::<Vec<_>>(), vec![d1, d2]);
    assert!(status.last_refusal.is_some());
}

#[test]
fn rollback_returns_to_the_previous_version() {
    let registry = Registry::new(runtime());
    let v1 = registry.install(Slot::Payment, &component("payment"), "v1").unwrap();
    let v2 = registry.install(Slot::Payment, &component("fixtures/payment-v2"), "v2").unwrap();
    assert_eq!((v1.version.as_str(), v2.version.as_str()), ("0.1.0", "0.2.0"));

    let request = order_host::plugins::wit::ChargeRequest {
        payment_id: "payment-1".into(),
        order_id: "order-1".into(),
        amount_cents: 4200,
        attempt: 1,
    };
    let charge = |r: &Registry| r.active(Slot::Payment).unwrap().charge(&request).unwrap().transaction_id;
    assert!(charge(&registry).starts_with("v2-"));

    let back = registry.rollback(Slot::Payment).unwrap();
    assert_eq!(back.digest, v1.digest);
    assert!(charge(&registry).starts_with("txn-"));

    // Installing what is already active changes nothing.
    registry.install(Slot::Payment, &component("payment"), "again").unwrap();
    assert_eq!(registry.status(Slot::Payment).history.len(), 3);

    // A slot with one version has nothing to roll back to.
    registry.install(Slot::Shipping, &component("shipping"), "s").unwrap();
    assert!(registry.rollback(Slot::Shipping).is_err());
    assert!(registry.rollback(Slot::Validation).is_err(), "empty slot");
}

#[test]
fn refused_install_keeps_the_active_version() {
    let registry = Registry::new(runtime());
    let good = registry.install(Slot::Payment, &component("payment"), "good").unwrap();
    for bad in ["fixtures/wrong-world", "validation", "fixtures/unknown-import"] {
        assert!(registry.install(Slot::Payment, &component(bad), bad).is_err(), "{bad} must be refused");
        assert_eq!(active_digest(&registry, Slot::Payment), Some(good.digest.clone()));
    }
    let good = registry.install(Slot::Validation, &component("validation"), "good").unwrap();
    for hostile in ["fixtures/infinite-loop", "fixtures/memory-bomb", "fixtures/panic", "fixtures/aliased-strings"] {
        let err = registry.install(Slot::Validation, &component(hostile), hostile).unwrap_err();
        assert!(matches!(err, LoadError::Trial(_) | LoadError::Imports(_)), "{hostile}: {err:?}");
        assert_eq!(active_digest(&registry, Slot::Validation), Some(good.digest.clone()));
    }
}

#[tokio::test]
async fn calling_an_empty_slot_says_so() {
    let registry = Registry::new(runtime());
    let order = sample_order("o");
    let call = registry.call(Slot::Validation, move |p| p.validate(&order)).await;
    assert!(call.plugin.is_none());
    let err = call.outcome.unwrap_err();
    assert_eq!(err.to_string(), "no validation plugin is loaded");
    assert!(err.is_retryable(), "an operator can still drop the file in");
}

fn runtime_with_long_deadline() -> Arc<order_host::plugins::PluginRuntime> {
    common::runtime_with(order_host::plugins::Limits { deadline: Duration::from_secs(5), ..common::test_limits() })
}
