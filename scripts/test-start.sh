#!/usr/bin/env bash
# Proves the README's run command: runs scripts/start.sh on free ports with a throw-away data directory, waits for
# /readyz, drives one order to `shipped` with the seed's curls, sends Ctrl-C (SIGINT to its process group, as a
# terminal does) and checks that everything it started has stopped and its ports are free again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port) temporal_port=$(free_port) ui_port=$(free_port)
data=$(mktemp -d)
log=$data/start.log
trap 'rm -rf "$data"' EXIT

say() { printf '[test-start] %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; tail -n 60 "$log" >&2 || true; [ -n "${pgid:-}" ] && kill -KILL -- "-$pgid" 2>/dev/null; exit 1; }

# Its own process group (so Ctrl-C can be sent to the group) with SIGINT at its default disposition (a shell's
# background jobs start with SIGINT ignored).
HTTP_ADDR=127.0.0.1:$http_port TEMPORAL_PORT=$temporal_port TEMPORAL_UI_PORT=$ui_port DATA_DIR=$data \
  DATABASE_URL=sqlite://$data/orders.db setsid env --default-signal=INT scripts/start.sh >"$log" 2>&1 &
pgid=$!
say "scripts/start.sh running as process group $pgid (HTTP $http_port, Temporal $temporal_port, UI $ui_port)"

base=http://127.0.0.1:$http_port
deadline=$((SECONDS + ${START_TIMEOUT_S:-2400}))  # a cold release build on 2 cores takes a while
until curl -fsS "$base/readyz" >/dev/null 2>&1; do
  kill -0 "$pgid" 2>/dev/null || fail "start.sh exited before it was ready"
  [ $SECONDS -lt $deadline ] || fail "not ready in time"
  sleep 1
done
for _ in $(seq 1 40); do grep -q "order-host is ready" "$log" && break; sleep 0.25; done
grep -q "order-host is ready" "$log" || fail "start.sh did not print its URLs"
say "ready; driving order-123 with the seed's curls"

curl -fsS -X POST "$base/orders/order-123/start" -H "Content-Type: application/json" -d '{"payment_id": "payment-456"}' >/dev/null \
  || fail "start"
curl -fsS -X POST "$base/orders/order-123/signals/approve" >/dev/null || fail "approve"
state=""
for _ in $(seq 1 240); do
  state=$(curl -fsS "$base/orders/order-123/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" = shipped ] && break
  sleep 0.25
done
[ "$state" = shipped ] || fail "order-123 ended in state '$state', not shipped"
say "order-123 shipped"

say "sending Ctrl-C"
kill -INT -- "-$pgid"
for _ in $(seq 1 120); do
  pgrep -g "$pgid" >/dev/null || break
  sleep 0.25
done
if pgrep -g "$pgid" >/dev/null; then
  pgrep -a -g "$pgid" >&2
  fail "processes still running 30 s after Ctrl-C"
fi
for port in "$http_port" "$temporal_port" "$ui_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port still open after Ctrl-C"; fi
done
grep -q "\[start\].* stopped" "$log" || fail "start.sh did not report stopping"
say "everything stopped; the run command works"
