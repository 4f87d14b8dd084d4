#!/usr/bin/env bash
# setup.sh: installs the two benchmark-only peers of get-availability and prints them as
# calbridge-bench cold-start targets (JSON array on stdout; progress on stderr). A peer whose
# toolchain is missing is left out with a note, never faked.
#   node/    googleapis + @aws-sdk/client-dynamodb + @aws-sdk/client-kms (npm ci from package-lock.json)
#   python/  google-api-python-client + boto3 (+ cryptography for AES-GCM), pinned in requirements.txt
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
targets=()
if command -v node >/dev/null && command -v npm >/dev/null; then
    if (cd "$HERE/node" && npm ci --no-audit --no-fund --silent) >&2; then
        targets+=("{\"name\": \"peer-node\", \"group\": \"peer\", \"command\": [\"$(command -v node)\", \"$HERE/node/handler.mjs\"]}")
    else
        echo "setup.sh: npm ci failed; the Node.js peer is left out" >&2
    fi
else
    echo "setup.sh: node/npm not found; the Node.js peer is left out" >&2
fi
if command -v python3 >/dev/null; then
    venv="$HERE/python/.venv"
    if { [ -x "$venv/bin/python" ] || python3 -m venv "$venv"; } &&
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/python/requirements.txt" >&2; then
        targets+=("{\"name\": \"peer-python\", \"group\": \"peer\", \"command\": [\"$venv/bin/python\", \"$HERE/python/handler.py\"]}")
    else
        echo "setup.sh: the Python peer could not be installed; left out" >&2
    fi
fi
( IFS=,; echo "[${targets[*]}]" )
