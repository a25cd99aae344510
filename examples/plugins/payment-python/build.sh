#!/usr/bin/env bash
# Builds dist/payment.wasm with componentize-py's default flags against the host's WIT (`../../../wit`; outside this
# repository, `order-host plugins wit --out wit` writes a copy).
set -euo pipefail
cd "$(dirname "$0")"
wit=${WIT_DIR:-../../../wit}
mkdir -p dist
componentize-py -d "$wit" -w payment-processor componentize app -o dist/payment.wasm
