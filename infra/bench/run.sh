#!/usr/bin/env bash
# run.sh: every calbridge benchmark, then BENCHMARKS.md regenerated from the results.
#
#     infra/bench/run.sh
#
# Needs cargo and python3 (moto is installed into .venv by infra/scripts/moto.sh; node + npm
# only for the Node.js peer, which is skipped with a note when they are missing).
# Knobs (environment): BENCH_RUNS (cold starts per target, default 30), BENCH_REQUESTS (warm
# requests per operation, 2000), BENCH_CONCURRENCY (requests in flight, 16), BENCH_SKIP_BUILD=1
# (measure the release binaries already in target/release instead of building first).
#
# Steps: release builds (the eight functions alone, so their features are not unified with the
# tools'), criterion benches (slots, vault), moto + google-emulator up, warm load through the
# local stack (it also connects the benchmark user), cold starts of every binary behind a
# Runtime API stub (using that connection), then infra/bench/report.py writes BENCHMARKS.md.
# Raw results stay in infra/bench/results/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RESULTS="$ROOT/infra/bench/results"
mkdir -p "$RESULTS"
export BENCH_RUNS="${BENCH_RUNS:-30}" BENCH_REQUESTS="${BENCH_REQUESTS:-2000}" BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-16}"
FUNCTIONS=(auth-start auth-callback disconnect list-calendars get-availability sync-appointment create-meet send-email)
log() { printf 'run.sh: %s\n' "$*" >&2; }
started=$SECONDS
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    log "release build of the eight functions"
    cargo build --release $(printf -- '-p %s ' "${FUNCTIONS[@]}")
    log "release build of the tools (local stack, emulator, bench harness)"
    cargo build --release -p calbridge-dev -p google-emulator -p calbridge-bench
fi

log "binary sizes (infra/bench/sizes.sh)"
BENCH_SKIP_BUILD=1 "$ROOT/infra/bench/sizes.sh" >/dev/null

log "criterion: slot computation and token sealing"
cargo bench -p calbridge --bench slots --bench vault 2>&1 | tee "$RESULTS/criterion.txt"

# shellcheck source=../scripts/moto.sh
source "$ROOT/infra/scripts/moto.sh"
moto_start
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_SESSION_TOKEN=bench
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 TABLE_NAME=calbridge-bench
VENV_PY="${CALBRIDGE_VENV:-$ROOT/.venv}/bin/python"
free_port() { "$VENV_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log "creating the KMS key, the Secrets Manager secret and the table on moto"
eval "$("$VENV_PY" "$ROOT/infra/bench/provision.py")"

STACK_PORT="$(free_port)"
EMULATOR_PORT="$(free_port)"
export BENCH_STACK_PORT="$STACK_PORT" BENCH_EMULATOR_URL="http://127.0.0.1:$EMULATOR_PORT"
export BENCH_STACK_BIN="$ROOT/target/release/calbridge-dev" BENCH_EMULATOR_BIN="$ROOT/target/release/google-emulator"
EMULATOR_LISTEN_ADDR="127.0.0.1:$EMULATOR_PORT" RUST_LOG=warn \
    EMULATOR_REDIRECT_URIS="http://127.0.0.1:$STACK_PORT/connections/google/callback" \
    "$BENCH_EMULATOR_BIN" >/dev/null &
EMULATOR_PID=$!
trap 'kill $EMULATOR_PID 2>/dev/null || true; moto_stop' EXIT
until curl -sf "$BENCH_EMULATOR_URL/_emulator/calls" >/dev/null 2>&1; do sleep 0.1; done

log "warm load through the local stack ($BENCH_REQUESTS requests per operation, $BENCH_CONCURRENCY in flight)"
"$ROOT/target/release/calbridge-bench" warm "$RESULTS/warm.json"

log "peers of get-availability"
PEERS_JSON="$("$ROOT/infra/bench/peers/setup.sh" 2>"$RESULTS/peers-setup.log" || echo '[]')"

log "cold starts ($BENCH_RUNS per target)"
SPEC="$RESULTS/coldstart-spec.json"
BENCH_FUNCTIONS="${FUNCTIONS[*]}" PEERS_JSON="$PEERS_JSON" python3 "$ROOT/infra/bench/coldstart_spec.py" >"$SPEC"
"$ROOT/target/release/calbridge-bench" coldstart "$SPEC" "$RESULTS/coldstart.json"

log "writing BENCHMARKS.md"
printf '{"seconds": %d, "runs": %d, "requests": %d, "concurrency": %d, "builds_skipped": %s, "load_average_at_start": "%s"}\n' \
    $((SECONDS - started)) "$BENCH_RUNS" "$BENCH_REQUESTS" "$BENCH_CONCURRENCY" \
    "$([ -n "${BENCH_SKIP_BUILD:-}" ] && echo true || echo false)" "$LOAD_AT_START" >"$RESULTS/run.json"
python3 "$ROOT/infra/bench/report.py" "$RESULTS" "$ROOT/BENCHMARKS.md"
log "done in $((SECONDS - started)) s"
