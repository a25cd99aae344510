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
