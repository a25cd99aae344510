//! The `order-host plugins` commands as an operator runs them.

mod common;

use std::process::Command;

use common::{component_path, dist_dir};

fn order_host(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_order-host")).args(args).output().expect("running order-host");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn check(slot: &str, name: &str) -> (bool, String) {
    order_host(&["plugins", "check", "--slot", slot, component_path(name).to_str().unwrap()])
}

#[test]
fn check_accepts_the_default_plugins() {
    for (slot, name) in [("validation", "validation"), ("payment", "payment"), ("shipping", "shipping")] {
        let (ok, out) = check(slot, name);
        assert!(ok, "{name}: {out}");
        assert!(out.contains(&format!("name:    {name}")), "{out}");
        assert!(out.contains("version: 0.1.0"), "{out}");
        let digest = order_host::plugins::Digest::of(&common::component(name));
        assert!(out.contains(digest.as_str()), "{out}");
    }
}

#[test]
fn check_refuses_broken_and_foreign_components_with_a_reason() {
    for (slot, name, reason) in [
        ("payment", "fixtures/wrong-world", "does not implement the `payment-processor` world"),
        ("validation", "fixtures/unknown-import", "the host does not offer fixture:evil/secrets"),
        ("payment", "validation", "no export `charge`"),
        ("shipping", "payment", "does not implement the `shipper` world"),
        ("validation", "fixtures/aliased-strings", "output_too_large"),
        ("validation", "fixtures/infinite-loop", "failed its trial call"),
        ("validation", "fixtures/memory-bomb", "memory limit"),
        ("validation", "fixtures/panic", "trapped"),
    ] {
        let (ok, out) = check(slot, name);
        assert!(!ok, "{name} must be refused for {slot}: {out}");
        assert!(out.contains("refused:") && out.contains(reason), "{name}: {out}");
    }

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"hello").unwrap();
    let (ok, out) = order_host(&["plugins", "check", "--slot", "validation", garbage.to_str().unwrap()]);
    assert!(!ok && out.contains("not a WebAssembly file"), "{out}");

    let (ok, out) = order_host(&["plugins", "check", "--slot", "validation", "/nonexistent.wasm"]);
    assert!(!ok && out.contains("cannot read"), "{out}");

    let (ok, out) = order_host(&["plugins", "check", "--slot", "billing", garbage.to_str().unwrap()]);
    assert!(!ok && out.contains("unknown plugin slot"), "{out}");
}

#[test]
fn list_shows_what_the_directory_holds() {
    let (ok, out) = order_host(&["--plugins-dir", dist_dir().to_str().unwrap(), "plugins", "list"]);
    assert!(ok, "{out}");
    for slot in ["validation", "payment", "shipping"] {
        assert!(out.lines().any(|l| l.starts_with(slot) && l.contains("active") && l.contains("sha256:")), "{out}");
    }

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("payment.wasm"), b"junk").unwrap();
    let (ok, out) = order_host(&["--plugins-dir", empty.path().to_str().unwrap(), "plugins", "list"]);
    assert!(!ok, "{out}");
    assert!(out.contains("payment    refused") && out.contains("validation missing"), "{out}");
}

#[test]
fn wit_hands_out_the_package_the_host_was_built_with() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("wit");
    let (ok, out) = order_host(&["plugins", "wit", "--out", out_dir.to_str().unwrap()]);
    assert!(ok, "{out}");
    let repo_wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for name in ["types.wit", "worlds.wit"] {
        assert_eq!(std::fs::read(out_dir.join(name)).unwrap(), std::fs::read(repo_wit.join(name)).unwrap(), "{name}");
    }
    let (ok, out) = order_host(&["plugins", "wit"]);
    assert!(ok && out.contains("// ---- worlds.wit ----") && out.contains("world payment-processor"), "{out}");
}
