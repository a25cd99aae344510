#!/usr/bin/env bash
# Runs the unit tests, then builds dist/{{slot}}.wasm, a component for order-host's {{slot}} slot, with plain cargo
# (wasm32-wasip2 output is a component already). `cargo component build --release` works too; its output is
# target/wasm32-wasip1/release/{{crate}}.wasm.
set -euo pipefail
cd "$(dirname "$0")"
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
fi
cargo test --quiet
cargo build --release --target wasm32-wasip2
# Wherever cargo is configured to put its output (CARGO_TARGET_DIR, build.target-dir, or ./target).
target_dir=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
mkdir -p dist
cp "$target_dir/wasm32-wasip2/release/{{crate}}.wasm" dist/{{slot}}.wasm
echo "built dist/{{slot}}.wasm; try it: order-host plugins check --slot {{slot}} dist/{{slot}}.wasm"
