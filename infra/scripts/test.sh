#!/usr/bin/env bash
# Runs every calbridge test on a fresh machine: formatting and lint, the deploy checks
# (cfn-lint, sam validate --lint, the transformed template, an arm64 release build: see
# infra/scripts/deploy-checks.sh), unit tests, handler tests driven by events/, adapter tests
# against moto (installed into .venv and started on a free loopback port by
# infra/scripts/moto.sh, stopped on exit), end-to-end tests of the local stack against the
# Google emulator, and the real function binaries behind a Lambda Runtime API stand-in with
# the environment template.yaml gives them (infra/lambda-e2e), and last the OpenAPI contract
# checked by schemathesis against the local stack (infra/scripts/contract-fuzz.sh), and the
# integrations page (web/) in Chromium against the local stack (infra/scripts/browser-tests.sh,
# which installs Debian's chromium with apt-get and its npm packages itself). Needs cargo,
# rustup, python3 and Node.js with npm (apt-get installs them when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/../.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "deploy checks (template lint, SAM translation, arm64 build)"
# Before moto starts: it installs the SAM CLI and cfn-lint into moto's virtualenv.
infra/scripts/deploy-checks.sh

step "moto (AWS wire protocol for DynamoDB, KMS, Secrets Manager)"
# shellcheck source=infra/scripts/moto.sh
source infra/scripts/moto.sh
moto_start
echo "MOTO_ENDPOINT=$MOTO_ENDPOINT"

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (every target, so also the function binaries)"
# `cargo test` alone would not link the function binaries (they have no integration tests).
# Built here with the same features as the tests, they are what the Runtime-API tests run
# (LAMBDA_E2E_BIN_DIR, see infra/lambda-e2e/src/binaries.rs), and `cargo test` below reuses
# every unit compiled here.
cargo build --workspace --all-targets --locked
target_dir="$(cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export LAMBDA_E2E_BIN_DIR="$target_dir/debug"

step "cargo test (unit, handler, adapter-on-moto, emulator, end-to-end, Runtime API)"
log="$(mktemp)"
set +e
cargo test --workspace --all-targets --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

step "contract fuzz (schemathesis against the local stack: infra/scripts/contract-fuzz.sh)"
# The calbridge-dev binary built above; a failure of the contract fails the test command.
set +e
CALBRIDGE_DEV_BIN="$target_dir/debug/calbridge-dev" infra/scripts/contract-fuzz.sh
fuzz_status=$?
set -e
[ "$status" -eq 0 ] && status=$fuzz_status

step "browser tests (the integrations page in Chromium against the local stack: infra/scripts/browser-tests.sh)"
# Installs Chromium (apt-get) and the npm driver itself; a failure fails the test command.
set +e
CALBRIDGE_DEV_BIN="$target_dir/debug/calbridge-dev" infra/scripts/browser-tests.sh 2>&1 | tee -a "$log"
browser_status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] && status=$browser_status

# One closing line for the whole run (cargo prints one per test binary, node's runner its
# "ℹ pass N" / "ℹ fail N" for the browser tests), printed last.
awk '/^test result:/ { passed += $4; failed += $6 } /^ℹ pass [0-9]+$/ { passed += $3 } /^ℹ fail [0-9]+$/ { failed += $3 } END { printf "total: %d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
exit "$status"
