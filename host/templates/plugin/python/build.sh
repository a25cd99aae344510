#!/usr/bin/env bash
# Runs the unit tests, then builds dist/{{slot}}.wasm, a component for order-host's {{slot}} slot, with componentize-py's default flags.
set -euo pipefail
cd "$(dirname "$0")"
wanted=$(sed -n 's/^componentize-py==//p' requirements.txt)
if [ "$(componentize-py --version 2>/dev/null | awk '{print $2}')" != "$wanted" ]; then
  echo "componentize-py $wanted is needed (requirements.txt): python3 -m pip install -r requirements.txt" >&2
  exit 1
fi
python3 -m unittest --quiet
mkdir -p dist
componentize-py -d wit -w {{world}} componentize app -o dist/{{slot}}.wasm
echo "built dist/{{slot}}.wasm; try it: order-host plugins check --slot {{slot}} dist/{{slot}}.wasm"
