//! Locations of build outputs the tests use.

use std::path::PathBuf;

/// `plugins/dist` (or `PLUGINS_DIST`), filled by `scripts/build-plugins.sh`.
pub fn dist_dir() -> PathBuf {
    std::env::var_os("PLUGINS_DIST")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist"), PathBuf::from)
}

/// A built component: `"payment"` or `"fixtures/payment-v2"`.
pub fn component(name: &str) -> PathBuf {
    let path = dist_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/build-plugins.sh first", path.display());
    path
}

/// The `sha256:…` digest of a built component, as the host reports it.
pub fn digest_of(name: &str) -> String {
    order_host::plugins::Digest::of(&std::fs::read(component(name)).expect("reading component")).to_string()
}

/// The `order-host` binary cargo built next to this test binary (`cargo test --workspace` builds it).
pub fn order_host_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(std::path::Path::parent).expect("target directory");
    let binary = dir.join("order-host");
    assert!(binary.exists(), "{} is missing: run `cargo build -p order-host` first", binary.display());
    binary
}
