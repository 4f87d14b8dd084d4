#!/usr/bin/env bash
# browser-tests.sh: the integrations page (web/) in a real Chromium against the local stack.
#
#   1. Debian's Chromium at ${CHROMIUM:-/usr/bin/chromium}: installed with
#      `apt-get update && apt-get install -y chromium` when missing (needs root, as CI is).
#      Still missing after that, the script fails: it never skips.
#   2. The driver and checkers, pinned in infra/browser-tests/package-lock.json
#      (playwright-core driving that Chromium, axe-core, jsqr): `npm ci` with the machine's
#      Node.js (apt-get install nodejs npm when node is missing).
#   3. The local stack (the workspace's `calbridge-dev` binary, Google and Zoom emulators
#      alongside) starts on free loopback ports with a fresh data directory, and stops on exit.
#   4. The scenarios of infra/browser-tests/tests/ run with node's test runner, one at a time
#      in one headless Chromium per file: connect / calendar / disconnect, consent denied, no
#      request waterfall, the QR code (decoded, used from a phone, single use, expiry), Zoom,
#      needs-reconnect, embedding with init(), a refused token, keyboard, axe-core, phone
#      widths, load figures.
#   5. Screenshots and load.json go to ${BROWSER_ARTIFACTS_DIR:-a fresh scratch dir}, kept and
#      printed; the run time and the page's load figures are printed last.
#
# Knobs: CALBRIDGE_DEV_BIN (default <target dir>/debug/calbridge-dev, built with
# `cargo build -p calbridge-dev --locked` if missing), CHROMIUM, BROWSER_ARTIFACTS_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
started=$SECONDS
note() { printf 'browser-tests: %s\n' "$*" >&2; }
fail() { note "FAILED: $*"; exit 1; }

chromium="${CHROMIUM:-/usr/bin/chromium}"
apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        fail "$* missing and not root: install it (apt-get install -y $*) and run again"
    fi
    note "installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || fail "apt-get update failed"
    apt-get install -y -qq "$@" >/dev/null || fail "apt-get install $* failed"
}
if [ ! -x "$chromium" ]; then
    apt_install chromium
fi
[ -x "$chromium" ] || fail "no Chromium at $chromium after installing it"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
fi
note "$("$chromium" --version 2>/dev/null || echo "chromium (version unknown)"), node $(node --version)"

tests="$repo/infra/browser-tests"
# npm ci wipes node_modules each time; skip it while the installed tree matches the lock.
if ! cmp -s "$tests/package-lock.json" "$tests/node_modules/.calbridge-lock" 2>/dev/null; then
    (cd "$tests" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed"
    cp "$tests/package-lock.json" "$tests/node_modules/.calbridge-lock"
fi
note "npm packages ready ($((SECONDS - started))s since start)"

free_port() {
    node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

stack_pid=""
work=""
stop_stack() {
    if [ -n "$stack_pid" ]; then
        kill "$stack_pid" 2>/dev/null || true
        wait "$stack_pid" 2>/dev/null || true
        stack_pid=""
    fi
    [ -n "$work" ] && rm -rf "$work"
    return 0
}
trap stop_stack EXIT

bin="${CALBRIDGE_DEV_BIN:-}"
if [ -z "$bin" ]; then
    target="$(cargo metadata --format-version 1 --no-deps --locked \
        | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).target_directory))')"
    bin="$target/debug/calbridge-dev"
    if [ ! -x "$bin" ]; then
        note "building $bin"
        cargo build -p calbridge-dev --locked >&2
    fi
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/calbridge-browser.XXXXXX")"
artifacts="${BROWSER_ARTIFACTS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/calbridge-browser-artifacts.XXXXXX")}"
mkdir -p "$artifacts"
api_port="$(free_port)"
google_port="$(free_port)"
zoom_port="$(free_port)"
export CALBRIDGE_API="http://127.0.0.1:$api_port"
export GOOGLE_EMULATOR="http://127.0.0.1:$google_port"
export ZOOM_EMULATOR="http://127.0.0.1:$zoom_port"
LISTEN_ADDR="127.0.0.1:$api_port" \
    EMULATOR_LISTEN_ADDR="127.0.0.1:$google_port" \
    ZOOM_EMULATOR_LISTEN_ADDR="127.0.0.1:$zoom_port" \
    LOCAL_DATA_DIR="$work/data" \
    RUST_LOG="${RUST_LOG:-warn}" \
    "$bin" >"$work/stack.log" 2>&1 &
stack_pid=$!
deadline=$((SECONDS + 60))
# The binary seeds the demo calendars before it prints that it is up.
until grep -q "local stack is up" "$work/stack.log" 2>/dev/null && curl -s -o /dev/null "$CALBRIDGE_API/integrations"; do
    if ! kill -0 "$stack_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        note "the local stack did not come up; last lines of its log:"
        tail -n 30 "$work/stack.log" >&2
        exit 1
    fi
    sleep 0.2
done
note "local stack at $CALBRIDGE_API (log $work/stack.log)"

export CHROMIUM="$chromium" BROWSER_ARTIFACTS_DIR="$artifacts"
set +e
(cd "$tests" && node --test --test-concurrency=1 --test-reporter=spec tests/)
status=$?
set -e
if [ "$status" -ne 0 ]; then
    note "the local stack's last log lines:"
    tail -n 30 "$work/stack.log" >&2
fi

if [ -f "$artifacts/load.json" ]; then
    node -e '
const f = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const ms = (v) => `${Math.round(v)} ms`;
const parallel = f.apiStartSpread < f.firstApiAnswer ? "before the first answered" : `the first answered after ${ms(f.firstApiAnswer)}`;
console.log(`browser-tests: page load (${f.viewport}, cold, local stack): first byte ${ms(f.responseStart)}, DOMContentLoaded ${ms(f.domContentLoaded)}, load ${ms(f.load)}, statuses shown ${ms(f.ready)}; ${f.requests} requests, ${(f.bytes / 1024).toFixed(1)} KiB; API calls ${f.api.join(", ")} started within ${ms(f.apiStartSpread)}, ${parallel}`);
' "$artifacts/load.json"
fi
note "screenshots and load.json in $artifacts: $(cd "$artifacts" && ls | tr '\n' ' ')"
note "run time $((SECONDS - started))s (status $status)"
exit "$status"
