#!/usr/bin/env bash
# Builds the example plugins written in other languages, with each language's own component toolchain and default
# flags, into plugins/dist/examples/:
#   payment-python.wasm   examples/plugins/payment-python (componentize-py, pinned in requirements.txt)
#   payment-js.wasm       examples/plugins/payment-js (jco componentize, pinned in package-lock.json)
# Installs the toolchains when missing (PyPI and npm only). Their unit tests run first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dist="$root/plugins/dist/examples"
mkdir -p "$dist"

publish() { # <built file> <destination>
  cp "$1" "$2.tmp.$$"
  mv -f "$2.tmp.$$" "$2"
}

python_dir="$root/examples/plugins/payment-python"
wanted=$(sed -n 's/^componentize-py==//p' "$python_dir/requirements.txt")
if [ "$(componentize-py --version 2>/dev/null | awk '{print $2}')" != "$wanted" ]; then
  echo "build-examples: installing componentize-py $wanted (PyPI)" >&2
  python3 -m pip install --quiet --requirement "$python_dir/requirements.txt"
  hash -r
fi
(cd "$python_dir" && python3 -m unittest --quiet 2>&1 | tail -1 >&2 && ./build.sh)
publish "$python_dir/dist/payment.wasm" "$dist/payment-python.wasm"

js_dir="$root/examples/plugins/payment-js"
(cd "$js_dir" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm test --silent >&2 && npm run build --silent >&2)
publish "$js_dir/dist/payment.wasm" "$dist/payment-js.wasm"
echo "build-examples: $(ls "$dist"/*.wasm | wc -l) components in $dist" >&2
