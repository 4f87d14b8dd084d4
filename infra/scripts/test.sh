#!/usr/bin/env bash
# Runs every calbridge test on a fresh machine: formatting and lint, unit tests, handler tests
# driven by events/, adapter tests against moto (installed into .venv and started on a free
# loopback port by infra/scripts/moto.sh, stopped on exit), and end-to-end tests of the local
# stack against the Google emulator. Needs only cargo and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "moto (AWS wire protocol for DynamoDB, KMS, Secrets Manager)"
# shellcheck source=infra/scripts/moto.sh
source infra/scripts/moto.sh
moto_start
echo "MOTO_ENDPOINT=$MOTO_ENDPOINT"

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, handler, adapter-on-moto, emulator, end-to-end)"
log="$(mktemp)"
set +e
cargo test --workspace --all-targets --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "total: %d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
exit "$status"
