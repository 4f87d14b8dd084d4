#!/usr/bin/env bash
# deploy-checks.sh: every part of "sam build && sam deploy" that can be checked without AWS.
#
#   1. cfn-lint template.yaml                       (the template as written, all rules)
#   2. sam validate, sam validate --lint            (SAM's own translation and its lint)
#   3. cfn-lint on the template after the SAM transform. The first two look at the template
#      before SAM expands it, so they miss what only exists afterwards; a circular dependency
#      between a function and the API it is attached to is the classic one.
#   4. The functions built the way `sam build` builds them: `cargo lambda build --release
#      --arm64` (cargo-lambda and zig from PyPI, the arm64 standard library from rustup), with
#      each binary's stripped size. CI builds one function (CALBRIDGE_ARM64_FUNCTIONS, default
#      auth-callback; "all" = every function package; "none" = skip). When the arm64 target
#      cannot be installed this step says "arm64 build skipped: <reason>" and the script goes
#      on; a build that starts and fails is a failure.
#
# Failures of 1-3 always fail the script. The AWS CLI is installed too: the lambda-e2e tests run
# infra/scripts/put-google-secret.sh with it against moto. The tools are pinned and installed into the same
# virtualenv as moto (${CALBRIDGE_VENV:-.venv}, see moto.sh), in one pip resolution with moto's
# pin so neither can break the other. Run it before moto starts: it may change packages in
# that virtualenv. Needs python3 and cargo; no AWS account, no network beyond PyPI and rustup.
#
# `sam build` itself (all seven functions, release, arm64) is the separate command documented
# in infra/DEPLOY.md; CALBRIDGE_SAM_BUILD=1 runs it here as well.
set -euo pipefail
cd "$(dirname "$0")/../.."

SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
CARGO_LAMBDA_VERSION="1.9.2"
ZIGLANG_VERSION="0.17.0"
# The AWS CLI runs infra/scripts/put-google-secret.sh in the lambda-e2e tests (against moto).
AWSCLI_VERSION="1.46.3"
ARM64_TARGET="aarch64-unknown-linux-gnu"
ARM64_FUNCTIONS="${CALBRIDGE_ARM64_FUNCTIONS:-auth-callback}"

# Only functions are defined by sourcing: the venv location and moto's pinned version.
# shellcheck source=infra/scripts/moto.sh
source infra/scripts/moto.sh

step() { printf '\n==> %s\n' "$*"; }
note() { printf 'deploy-checks: %s\n' "$*"; }
started=$SECONDS
timed() {
    local t0=$SECONDS
    "$@"
    note "($(( SECONDS - t0 ))s)"
}

venv="$(_moto_venv)"
export PATH="$venv/bin:$PATH"
# No SAM CLI telemetry or update checks (no network), and a region for SAM's translator.
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

install_tools() {
    moto_install
    local missing
    missing="$("$venv/bin/python" - "$SAM_CLI_VERSION" "$CFN_LINT_VERSION" "$CARGO_LAMBDA_VERSION" "$ZIGLANG_VERSION" "$AWSCLI_VERSION" <<'PY'
import importlib.metadata as m, sys
wanted = dict(zip(["aws-sam-cli", "cfn-lint", "cargo-lambda", "ziglang", "awscli"], sys.argv[1:]))
for name, version in wanted.items():
    try:
        if m.version(name) != version:
            print(name)
    except m.PackageNotFoundError:
        print(name)
PY
)"
    if [ -n "$missing" ]; then
        note "installing into $venv: aws-sam-cli==$SAM_CLI_VERSION cfn-lint==$CFN_LINT_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION ziglang==$ZIGLANG_VERSION awscli==$AWSCLI_VERSION"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "moto[server]==$MOTO_VERSION" \
            "aws-sam-cli==$SAM_CLI_VERSION" \
            "cfn-lint==$CFN_LINT_VERSION" \
            "cargo-lambda==$CARGO_LAMBDA_VERSION" \
            "ziglang==$ZIGLANG_VERSION" \
            "awscli==$AWSCLI_VERSION"
    fi
    note "$(cfn-lint --version); $(sam --version); $(cargo-lambda lambda --version 2>/dev/null || cargo-lambda --version); $(aws --version 2>&1)"
}

lint_transformed() {
    local out
    out="$(mktemp -d "${TMPDIR:-/tmp}/calbridge-sam.XXXXXX")"
    # The SAM transform as CloudFormation runs it. Code locations become placeholder S3 objects
    # (sam package would upload them); there are no SAM policy templates to resolve.
    "$venv/bin/python" - template.yaml "$out/transformed.json" <<'PY'
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

with open(sys.argv[1]) as f:
    template = yaml_parse(f.read())
for resource in template.get("Resources", {}).values():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource.setdefault("Properties", {})["CodeUri"] = "s3://calbridge-artifacts/code.zip"

class NoManagedPolicies:
    def load(self):
        return {}

transformed = transform(template, {}, NoManagedPolicies())
with open(sys.argv[2], "w") as f:
    json.dump(transformed, f, indent=1)
print(f"transformed: {len(transformed['Resources'])} CloudFormation resources")
PY
    cfn-lint "$out/transformed.json"
    rm -rf "$out"
}

# Prints why the arm64 target is unavailable, or nothing when it is installed.
arm64_unavailable_reason() {
    if ! command -v rustup >/dev/null 2>&1; then
        echo "rustup is not installed, so the $ARM64_TARGET standard library cannot be added"
        return
    fi
    if rustup target list --installed 2>/dev/null | grep -qx "$ARM64_TARGET"; then
        return
    fi
    local log
    log="$(mktemp)"
    if ! timeout 600 rustup target add "$ARM64_TARGET" >"$log" 2>&1; then
        echo "'rustup target add $ARM64_TARGET' failed: $(tail -n 1 "$log")"
    fi
    rm -f "$log"
}

# Where cargo puts its output (CARGO_TARGET_DIR and .cargo/config.toml respected).
target_directory() {
    cargo metadata --format-version 1 --no-deps --locked \
        | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

report_binary() {
    local name="$1" binary="$2/lambda/$1/bootstrap" size machine symtab
    if [ ! -f "$binary" ]; then
        note "$name: $binary was not produced"
        return 1
    fi
    size="$(stat -c %s "$binary")"
    machine="$(readelf -h "$binary" 2>/dev/null | sed -n 's/^ *Machine: *//p')"
    symtab="stripped"
    if readelf -S "$binary" 2>/dev/null | grep -q '\.symtab'; then symtab="NOT stripped"; fi
    printf '  %-18s %9d bytes (%5.1f MiB)  %s, %s\n' "$name" "$size" "$(echo "$size" | awk '{print $1/1048576}')" "${machine:-?}" "$symtab"
    if [ -n "$machine" ] && [ "$machine" != "AArch64" ]; then
        note "$name is not an arm64 binary"
        return 1
    fi
}

build_arm64() {
    local reason functions=() name
    if [ "$ARM64_FUNCTIONS" = "none" ]; then
        echo "arm64 build skipped: CALBRIDGE_ARM64_FUNCTIONS=none"
        return
    fi
    if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx "$ARM64_TARGET"; then
        note "rustup target add $ARM64_TARGET"
    fi
    reason="$(arm64_unavailable_reason)"
    if [ -n "$reason" ]; then
        echo "arm64 build skipped: $reason"
        return
    fi
    if [ "$ARM64_FUNCTIONS" = "all" ]; then
        for dir in functions/*/; do functions+=("$(basename "$dir")"); done
    else
        read -r -a functions <<<"${ARM64_FUNCTIONS//,/ }"
    fi
    local packages=()
    for name in "${functions[@]}"; do packages+=(--package "$name"); done
    note "cargo lambda build --release --arm64 ${packages[*]}"
    cargo lambda build --release --arm64 --locked "${packages[@]}"
    local target
    target="$(target_directory)"
    echo "arm64 release binaries (what sam build zips as bootstrap), in $target/lambda:"
    for name in "${functions[@]}"; do report_binary "$name" "$target"; done
}

step "deploy tools (pinned, in $venv)"
timed install_tools

step "cfn-lint template.yaml"
timed cfn-lint template.yaml

step "sam validate (SAM translator) and sam validate --lint"
timed sam validate --template template.yaml
timed sam validate --lint --template template.yaml

step "cfn-lint on the template after the SAM transform (cycles, generated resources)"
timed lint_transformed

if [ "${CALBRIDGE_SAM_BUILD:-0}" = "1" ]; then
    step "sam build (every function, release, arm64)"
    timed sam build --beta-features
fi

step "arm64 build (cargo lambda, as sam build runs it)"
timed build_arm64

step "deploy checks passed in $(( SECONDS - started ))s"
