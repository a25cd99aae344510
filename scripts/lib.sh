# Shared by bench.sh and robustness.sh: free ports, a dev server, an order-host process, cleanup.
# Source it; it sets `procs` (pids to stop) and installs an EXIT trap that stops them.

procs=()
cleanup() {
  if [ ${#procs[@]} -gt 0 ]; then
    kill -TERM "${procs[@]}" 2>/dev/null || true
    wait "${procs[@]}" 2>/dev/null || true
  fi
  [ -n "${work:-}" ] && rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_temporal: sets TEMPORAL_ADDRESS to a fresh in-memory dev server unless one is given, and TEMPORAL_METRICS to
# its Prometheus endpoint.
start_temporal() {
  if [ -n "${TEMPORAL_ADDRESS:-}" ]; then return; fi
  # shellcheck source=scripts/dev-profile.sh
  . "$root/scripts/dev-profile.sh"
  local port metrics_port
  port=$(free_port)
  metrics_port=$(free_port)
  "$root/scripts/temporal-dev.sh" --headless --ip 127.0.0.1 --port "$port" --metrics-port "$metrics_port" \
    --log-level warn >"$work/temporal.log" 2>&1 &
  # temporal-dev.sh execs the server: this is its pid (bench.sh reads its CPU time).
  TEMPORAL_PID=$!
  procs+=("$TEMPORAL_PID")
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.2
  done
  # Listening is not serving: the frontend answers "not healthy yet" for a moment after it opens its port.
  for _ in $(seq 1 150); do
    temporal operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1 && break
    sleep 0.2
  done
  export TEMPORAL_ADDRESS=http://127.0.0.1:$port
  TEMPORAL_METRICS=http://127.0.0.1:$metrics_port/metrics
  say "Temporal dev server on $TEMPORAL_ADDRESS"
}

# start_host <binary> [env assignments…]: runs `order-host serve` on a free port; sets API and HOST_PID.
start_host() {
  local bin=$1
  shift
  local port
  port=$(free_port)
  env HTTP_ADDR="127.0.0.1:$port" DATA_DIR="$work/data" RUST_LOG="${RUST_LOG:-warn}" "$@" "$bin" serve >>"$work/host.log" 2>&1 &
  HOST_PID=$!
  procs+=("$HOST_PID")
  API=http://127.0.0.1:$port
  for _ in $(seq 1 600); do
    curl -fsS "$API/readyz" >/dev/null 2>&1 && break
    kill -0 "$HOST_PID" 2>/dev/null || { tail -30 "$work/host.log" >&2; return 1; }
    sleep 0.2
  done
  curl -fsS "$API/readyz" >/dev/null
  say "order-host serve on $API (pid $HOST_PID)"
}

stop_host() {
  kill -TERM "$HOST_PID" 2>/dev/null || true
  wait "$HOST_PID" 2>/dev/null || true
}
