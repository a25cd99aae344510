#!/usr/bin/env bash
# Builds every plugin crate under plugins/ as a wasm32-wasip2 component (release, 64 KiB guest stack) into
#   plugins/dist/<name>.wasm            the default plugins: validation.wasm, payment.wasm, shipping.wasm
#   plugins/dist/fixtures/<name>.wasm   test-only components (hostile, failing, v2)
# Files are written to a temporary name and renamed into place, so a running host watching plugins/dist never loads a
# half-written component.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/plugins"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "build-plugins: adding the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2
fi

target_dir=${CARGO_TARGET_DIR:-$root/plugins/target}
# The guest stack size comes from plugins/.cargo/config.toml, which cargo finds because we build from plugins/.
cargo build --release --target wasm32-wasip2 --locked --quiet "$@"

dist="$root/plugins/dist"
mkdir -p "$dist/fixtures"
publish() { # <built file> <destination>
  cp "$1" "$2.tmp.$$"
  mv -f "$2.tmp.$$" "$2"
}
for name in validation payment shipping; do
  publish "$target_dir/wasm32-wasip2/release/$name.wasm" "$dist/$name.wasm"
done
for dir in fixtures/*/; do
  name=$(basename "$dir")
  publish "$target_dir/wasm32-wasip2/release/fixture_${name//-/_}.wasm" "$dist/fixtures/$name.wasm"
done
echo "build-plugins: $(ls "$dist"/*.wasm "$dist"/fixtures/*.wasm | wc -l) components in $dist" >&2
