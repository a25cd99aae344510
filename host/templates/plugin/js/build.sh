#!/usr/bin/env bash
# Runs the unit tests, then builds dist/{{slot}}.wasm, a component for order-host's {{slot}} slot, with jco componentize's default flags
# (the toolchain pinned by package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm test --silent
npm run build --silent
echo "built dist/{{slot}}.wasm; try it: order-host plugins check --slot {{slot}} dist/{{slot}}.wasm"
