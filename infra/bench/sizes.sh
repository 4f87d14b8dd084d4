#!/usr/bin/env bash
# sizes.sh: the "Binary sizes" section of BENCHMARKS.md: each function's release binary for the
# host, stripped (the release profile sets `strip = true`), and the crypto stacks it links.
#
#     infra/bench/sizes.sh                       # build, measure, rewrite the section
#     SIZES_FUNCTIONS="auth-start get-availability" infra/bench/sizes.sh
#     SIZES_BASELINE_DIR=/tmp/before infra/bench/sizes.sh   # add a before/after column
#
# The functions are built together with `cargo build --release -p ...` (as run.sh builds them:
# their features are not unified with the tools'). SIZES_BASELINE_DIR holds binaries of an
# earlier build by the same names, to compare with. BENCH_SKIP_BUILD=1 measures what is built.
# arm64 sizes (what Lambda runs) come from infra/scripts/deploy-checks.sh, which builds with
# cargo lambda when the aarch64 standard library can be installed.
# Writes infra/bench/results/sizes.md, which report.py puts in BENCHMARKS.md, and splices it
# into the BENCHMARKS.md there is now.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
RESULTS="$ROOT/infra/bench/results"
mkdir -p "$RESULTS"
read -r -a FUNCTIONS <<<"${SIZES_FUNCTIONS:-auth-start auth-callback disconnect list-calendars get-availability sync-appointment create-meet send-email}"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    cargo build --release --locked $(printf -- '-p %s ' "${FUNCTIONS[@]}")
fi
target="$(cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

stacks() {
    cargo tree --locked -p "$1" -e normal --prefix none --format '{p}' \
        | awk '{print $1}' | sort -u | grep -xE 'ring|aws-lc-rs|openssl-sys|s2n-tls' | paste -sd, - | sed 's/,/, /g'
}

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }

{
    echo "## Binary sizes"
    echo
    echo "Release binaries for the host ($(uname -m), $(rustc --version | cut -d' ' -f2)), stripped by the release profile"
    echo "(\`strip = true\`, thin LTO, one codegen unit): \`infra/bench/sizes.sh\`. Lambda runs the arm64 builds of the same"
    echo "code; \`infra/scripts/deploy-checks.sh\` prints their sizes where the aarch64 target can be installed."
    echo
    if [ -n "${SIZES_BASELINE_DIR:-}" ]; then
        echo "| Function | bytes | MiB | before, MiB | change | crypto stacks linked |"
        echo "|---|---|---|---|---|---|"
    else
        echo "| Function | bytes | MiB | crypto stacks linked |"
        echo "|---|---|---|---|"
    fi
    for name in "${FUNCTIONS[@]}"; do
        binary="$target/release/$name"
        [ -f "$binary" ] || { echo "sizes.sh: $binary was not built" >&2; exit 1; }
        if readelf -S "$binary" 2>/dev/null | grep -q '\.symtab'; then
            echo "sizes.sh: $binary is not stripped" >&2
            exit 1
        fi
        bytes="$(stat -c %s "$binary")"
        if [ -n "${SIZES_BASELINE_DIR:-}" ] && [ -f "$SIZES_BASELINE_DIR/$name" ]; then
            before="$(stat -c %s "$SIZES_BASELINE_DIR/$name")"
            change="$(awk -v a="$bytes" -v b="$before" 'BEGIN { printf "%+.2f MiB (%+.1f%%)", (a - b) / 1048576, 100 * (a - b) / b }')"
            echo "| $name | $bytes | $(mib "$bytes") | $(mib "$before") | $change | $(stacks "$name") |"
        elif [ -n "${SIZES_BASELINE_DIR:-}" ]; then
            echo "| $name | $bytes | $(mib "$bytes") | - | - | $(stacks "$name") |"
        else
            echo "| $name | $bytes | $(mib "$bytes") | $(stacks "$name") |"
        fi
    done
    echo
} >"$RESULTS/sizes.md"

# The section replaces the one in BENCHMARKS.md (or goes before the micro-benchmarks).
python3 - "$RESULTS/sizes.md" "$ROOT/BENCHMARKS.md" <<'PY'
import re, sys
section = open(sys.argv[1]).read()
path = sys.argv[2]
text = open(path).read()
if "\n## Binary sizes\n" in text:
    text = re.sub(r"\n## Binary sizes\n.*?(?=\n## |\Z)", "\n" + section.rstrip("\n") + "\n", text, flags=re.S)
elif "\n## Micro-benchmarks" in text:
    text = text.replace("\n## Micro-benchmarks", "\n" + section + "## Micro-benchmarks", 1)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
cat "$RESULTS/sizes.md"
