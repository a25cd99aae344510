//! Helpers shared by the host's integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use order_host::plugins::{Limits, PluginRuntime, RuntimeConfig, SlotLimits, wit};

/// The directory `scripts/build-plugins.sh` fills (`PLUGINS_DIST` overrides it).
pub fn dist_dir() -> PathBuf {
    std::env::var_os("PLUGINS_DIST")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"), PathBuf::from)
}

/// Path of a built component: `"validation"` or `"fixtures/panic"`.
pub fn component_path(name: &str) -> PathBuf {
    let path = dist_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/build-plugins.sh first", path.display());
    path
}

/// Bytes of a built component.
pub fn component(name: &str) -> Vec<u8> {
    std::fs::read(component_path(name)).expect("reading component")
}

/// Test limits: a short deadline so hostile fixtures fail fast, a small memory cap.
pub fn test_limits() -> Limits {
    Limits { deadline: Duration::from_millis(200), memory_bytes: 16 << 20, ..Limits::default() }
}

/// A runtime with [`test_limits`] for every slot and no artifact cache.
pub fn runtime() -> Arc<PluginRuntime> {
    runtime_with(test_limits())
}

pub fn runtime_with(limits: Limits) -> Arc<PluginRuntime> {
    PluginRuntime::new(RuntimeConfig {
        limits: SlotLimits::uniform(limits),
        max_instances: 32,
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

/// The seed's sample cart (`domain::sample`) as the plugins see it, with the state in lower case so validators
/// show they normalise it.
pub fn sample_order(order_id: &str) -> wit::Order {
    let input = order_host::domain::OrderInput {
        order_id: order_id.to_owned(),
        payment_id: format!("payment-{order_id}"),
        items: order_host::domain::sample::items(),
        address: order_host::domain::sample::address(),
        options: order_host::domain::OrderOptions::default(),
    };
    let mut order = order_host::plugins::convert::order(&input, 0, 1);
    order.address.state = order.address.state.to_lowercase();
    order
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
