#!/usr/bin/env bash
# Runs the unit tests, then builds dist/{{slot}}.wasm, a component for order-host's {{slot}} slot, with componentize-py's default flags.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v componentize-py >/dev/null 2>&1; then
  echo "componentize-py is missing: python3 -m pip install -r requirements.txt" >&2
  exit 1
fi
python3 -m unittest --quiet
mkdir -p dist
componentize-py -d wit -w {{world}} componentize app -o dist/{{slot}}.wasm
echo "built dist/{{slot}}.wasm; try it: order-host plugins check --slot {{slot}} dist/{{slot}}.wasm"
