//! Hot swap through the registry and the rollout following a plugins directory: calls in flight keep their version,
//! new calls get the new one, a bad file leaves the active version alone.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{component, runtime, sample_order, wait_until};
use order_host::plugins::{Digest, LoadError, Registry, RegistryEvent, Slot};
use order_host::rollout::{Rollout, Timing};

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
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = order_host::store::open(&url).await.unwrap();
    let rollout = Rollout::new(store, Arc::clone(&registry), "test", Timing::default());
    let _following = rollout.spawn(Some(&dir.path().join("plugins"))).unwrap();
    let dir = dir.path().join("plugins");
    let dir = &dir;

    let v1 = component("fixtures/slow");
    let v2 = component("validation");
    let (d1, d2) = (Digest::of(&v1), Digest::of(&v2));

    publish(dir, Slot::Validation, &v1);
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
    publish(dir, Slot::Validation, &v2);
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
    publish(dir, Slot::Validation, &garbage);
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
