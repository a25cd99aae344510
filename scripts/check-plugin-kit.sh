#!/usr/bin/env bash
# The plugin authoring kit as an author outside this repository uses it (run by test.sh after the release build):
#   1. `plugins check` of the Python and JavaScript examples as scripts/build-examples.sh built them;
#   2. `plugins new` for every slot in every language into a temporary directory outside the clone, each built with
#      its own build.sh (unit tests first) and checked; the Rust ones also with `cargo component build` (cargo-component
#      is installed from crates.io when missing).
# Usage: scripts/check-plugin-kit.sh [path/to/order-host]   (default: the release binary in $CARGO_TARGET_DIR)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
host=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/order-host-target}/release/order-host}
component_version=0.21.1
work=$(mktemp -d /tmp/plugin-kit.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The scaffolds share one target directory of their own (kept between runs), not the host's.
export CARGO_TARGET_DIR=$HOME/.cache/plugin-kit-target

say() { printf '[plugin-kit] %s\n' "$*" >&2; }
check() { # <slot> <file>
  local out
  if ! out=$("$host" plugins check --slot "$1" "$2" 2>&1); then
    printf '%s\n' "$out" >&2
    say "FAILED: $2 for the $1 slot"
    exit 1
  fi
  say "$(printf '%s\n' "$out" | grep -m1 '^ok:')"
}

check payment "$root/plugins/dist/examples/payment-python.wasm"
check payment "$root/plugins/dist/examples/payment-js.wasm"

if [ "$(cargo component --version 2>/dev/null | awk '{print $2}')" != "$component_version" ]; then
  say "installing cargo-component $component_version (crates.io; the first time takes a while)"
  CARGO_TARGET_DIR=$HOME/.cache/cargo-install-target cargo install --quiet --locked cargo-component --version "$component_version"
fi
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1

for lang in rust python js; do
  for slot in validation payment shipping; do
    dir="$work/$lang-$slot"
    started=$SECONDS
    "$host" plugins new --slot "$slot" --lang "$lang" "$dir" >&2
    (cd "$dir" && ./build.sh >"$dir.log" 2>&1) || { cat "$dir.log" >&2; say "FAILED: building $dir"; exit 1; }
    check "$slot" "$dir/dist/$slot.wasm"
    if [ "$lang" = rust ]; then
      (cd "$dir" && cargo fmt --check) || { say "FAILED: the $slot scaffold is not rustfmt-clean"; exit 1; }
      crate=${lang}_$slot
      # The target directory is shared and kept: a component left by an earlier run must not pass for this one.
      rm -f "$CARGO_TARGET_DIR/wasm32-wasip1/release/$crate.wasm"
      (cd "$dir" && cargo component build --release --quiet) >"$dir.log" 2>&1 || { cat "$dir.log" >&2; say "FAILED: cargo component build in $dir"; exit 1; }
      check "$slot" "$CARGO_TARGET_DIR/wasm32-wasip1/release/$crate.wasm"
    fi
    say "$lang $slot: scaffolded, built and checked in $((SECONDS - started)) s"
  done
done
say "all scaffolds build outside the repository and pass plugins check"
