#!/usr/bin/env bash
# The load benchmark (see BENCHMARKS.md). Builds release binaries, starts a Temporal dev server (unless
# TEMPORAL_ADDRESS is set) and `order-host serve` on a fresh database, then runs `order-bench load`: at 1, 20 and 50
# orders in flight, N orders through the REST API, approved at once, and the same N through two floors on the same
# server — the same workflows with no-op activities, and the seed's shape written plainly — with each side's worker
# CPU per order and the server's database calls (read from the dev server's metrics port); then status reads at 200/s
# while orders run. The last line reads: orders_per_s=…
# floor_orders_per_s=… ratio=… p50_ms=… p99_ms=… seed_floor_orders_per_s=… seed_ratio=… cpu_ms_per_order=… (at the
# last level) seed_cpu_ms_per_order=… server_cpu_ms_per_order=… seed_server_cpu_ms_per_order=… status_p99_ms=…
#
#   scripts/bench.sh [--orders N] [--concurrency C[,C…]] [--rounds R] [--chaos trellis] [--hostile] [--memory N]
#   --rounds R        rounds per level (default 3); a side's figures are its rounds' together
#   --chaos trellis   run the host under the Trellis failure simulation and report the share shipped within 15 s
#   --hostile         also upload every hostile fixture while orders run, then a valid v2 (report RSS)
#   --memory N        also report the host's RSS idle and with N orders waiting for approval
#   --converge        instead: three worker processes on a fresh PostgreSQL database follow 20 payment publishes while
#                     orders run; prints converge_p99_ms=… (PostgreSQL at $BENCH_POSTGRES, default the local server)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/order-host-target}
work=$(mktemp -d)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

orders=500 concurrency=1,20,50 rounds=3 chaos=off hostile=no memory=0 converge=no
while [ $# -gt 0 ]; do
  case $1 in
    --orders) orders=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --chaos) chaos=$2; shift 2 ;;
    --hostile) hostile=yes; shift ;;
    --memory) memory=$2; shift 2 ;;
    --converge) converge=yes; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

say "building (release)"
scripts/build-plugins.sh
cargo build --release --locked -p order-host -p order-bench
bin=$CARGO_TARGET_DIR/release
start_temporal
if [ "$converge" = yes ]; then
  admin=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
  db=order_bench_$RANDOM$RANDOM
  psql "$admin" -qc "CREATE DATABASE $db"
  trap 'cleanup; psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  say "convergence: 3 workers on PostgreSQL database $db, 20 publishes while orders run"
  "$bin/order-bench" converge --order-host "$bin/order-host" --database-url "${admin%/*}/$db" --dist plugins/dist
  exit 0
fi
token=bench-$RANDOM$RANDOM
# A private plugins directory: uploads publish there, never into plugins/dist.
mkdir -p "$work/plugins"
cp plugins/dist/validation.wasm plugins/dist/payment.wasm plugins/dist/shipping.wasm "$work/plugins/"
start_host "$bin/order-host" DATABASE_URL="${DATABASE_URL:-sqlite://$work/orders.db}" FAILURE_SIMULATION="$chaos" \
  ADMIN_TOKEN="$token" PLUGINS_DIR="$work/plugins"

if [ "$memory" -gt 0 ]; then
  say "memory: $memory orders waiting for approval"
  "$bin/order-bench" memory --api "$API" --orders "$memory" --pid "$HOST_PID"
fi
if [ "$hostile" = yes ]; then
  say "hostile uploads under load"
  ADMIN_TOKEN=$token "$bin/order-bench" hostile --api "$API" --dist plugins/dist --orders 200 --pid "$HOST_PID"
fi

say "load: $orders orders per side and round, $concurrency in flight, $rounds rounds, failure simulation $chaos"
floor=()
[ "$chaos" = off ] || floor=(--no-floor --status-rate 0)
[ -z "${TEMPORAL_PID:-}" ] || floor+=(--server-pid "$TEMPORAL_PID")
[ -z "${TEMPORAL_METRICS:-}" ] || floor+=(--server-metrics "$TEMPORAL_METRICS")
"$bin/order-bench" load --api "$API" --orders "$orders" --concurrency "$concurrency" --rounds "$rounds" \
  --host-pid "$HOST_PID" "${floor[@]}"
