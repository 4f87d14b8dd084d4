#!/usr/bin/env bash
# moto.sh: an AWS emulator (moto server: DynamoDB, KMS, Secrets Manager on the real AWS wire
# protocol) for the adapter tests and the local stack.
#
# Sourced, it defines functions and changes nothing else in the caller's shell (no `set -e`):
#
#     source infra/scripts/moto.sh
#     moto_start            # installs moto if needed, starts it, exports MOTO_ENDPOINT
#     cargo test ...
#     moto_stop             # also runs on EXIT, so a failing test command still stops it
#
# Executed, it runs one command with moto up, or serves until interrupted:
#
#     infra/scripts/moto.sh cargo test -p calbridge --test store_dynamodb_moto
#     infra/scripts/moto.sh            # prints MOTO_ENDPOINT, Ctrl-C stops it
#
# moto is pinned to one exact version so that every machine and CI emulate the same AWS. It is
# installed into a virtualenv at ${CALBRIDGE_VENV:-.venv} (a relative path is taken from the
# repository root), created on first use, so a fresh machine needs only python3.

MOTO_VERSION="5.2.5"
MOTO_START_TIMEOUT_SECONDS="${MOTO_START_TIMEOUT_SECONDS:-60}"

_moto_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_moto_venv() {
    local venv="${CALBRIDGE_VENV:-.venv}"
    case "$venv" in
        /*) printf '%s\n' "$venv" ;;
        *) printf '%s\n' "$_moto_repo_root/$venv" ;;
    esac
}

_moto_log() {
    printf 'moto.sh: %s\n' "$*" >&2
}

# Creates the virtualenv and installs the pinned moto unless it is already there.
moto_install() {
    local venv python installed
    venv="$(_moto_venv)"
    python="$venv/bin/python"
    if [ ! -x "$python" ]; then
        _moto_log "creating virtualenv at $venv"
        if ! python3 -m venv "$venv" 2>/dev/null; then
            # Debian's own python3 ships venv/ensurepip separately; we run as root there.
            rm -rf "$venv"
            if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
                _moto_log "python3 -m venv failed; installing python3-venv with apt-get"
                apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2 || {
                    _moto_log "could not install python3-venv"
                    return 1
                }
            fi
            python3 -m venv "$venv" || {
                _moto_log "cannot create a virtualenv: python3 -m venv failed (install python3-venv)"
                return 1
            }
        fi
    fi
    installed="$("$python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
    if [ "$installed" != "$MOTO_VERSION" ] || [ ! -x "$venv/bin/moto_server" ]; then
        _moto_log "installing moto[server]==$MOTO_VERSION into $venv"
        "$python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 || {
            _moto_log "pip install moto[server]==$MOTO_VERSION failed"
            return 1
        }
    fi
}

# Starts moto on a free loopback port, waits until it answers and exports MOTO_ENDPOINT.
moto_start() {
    if [ -n "${_MOTO_PID:-}" ] && kill -0 "$_MOTO_PID" 2>/dev/null; then
        return 0
    fi
    moto_install || return 1
    local venv port deadline
    venv="$(_moto_venv)"
    port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')" || {
        _moto_log "could not find a free port"
        return 1
    }
    _MOTO_LOG_FILE="$(mktemp "${TMPDIR:-/tmp}/moto.XXXXXX.log")"
    # moto_server through a launcher that gives DynamoDB writes their atomicity (see the file).
    "$venv/bin/python" "$_moto_repo_root/infra/scripts/moto_atomic.py" -H 127.0.0.1 -p "$port" >"$_MOTO_LOG_FILE" 2>&1 &
    _MOTO_PID=$!
    _moto_register_exit_trap

    # Bounded wait: moto answers its own API once the server loop runs.
    deadline=$((SECONDS + MOTO_START_TIMEOUT_SECONDS))
    until "$venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2).read()
PY
    do
        if ! kill -0 "$_MOTO_PID" 2>/dev/null; then
            _moto_log "moto_server exited during startup; last lines of $_MOTO_LOG_FILE:"
            tail -n 30 "$_MOTO_LOG_FILE" >&2
            _MOTO_PID=""
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            _moto_log "moto_server did not answer on port $port within ${MOTO_START_TIMEOUT_SECONDS}s; last lines of $_MOTO_LOG_FILE:"
            tail -n 30 "$_MOTO_LOG_FILE" >&2
            moto_stop
            return 1
        fi
        sleep 0.2
    done
    export MOTO_ENDPOINT="http://127.0.0.1:$port"
    _moto_log "moto $MOTO_VERSION listening at $MOTO_ENDPOINT (pid $_MOTO_PID, log $_MOTO_LOG_FILE)"
}

# Stops the moto this shell started. Safe to call twice, and under the caller's `set -e`
# (a moto that already died, or `wait` reporting SIGTERM, is not a failure of the caller).
moto_stop() {
    if [ -n "${_MOTO_PID:-}" ]; then
        kill "$_MOTO_PID" 2>/dev/null || true
        wait "$_MOTO_PID" 2>/dev/null || true
        _MOTO_PID=""
    fi
    unset MOTO_ENDPOINT
    return 0
}

# Chains moto_stop onto the caller's EXIT trap instead of replacing it.
_moto_register_exit_trap() {
    [ -n "${_MOTO_TRAP_SET:-}" ] && return 0
    local existing=""
    eval "set -- $(trap -p EXIT)"
    [ $# -ge 3 ] && existing="$3"
    if [ -n "$existing" ]; then
        trap "moto_stop; $existing" EXIT
    else
        trap moto_stop EXIT
    fi
    _MOTO_TRAP_SET=1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    moto_start
    if [ $# -gt 0 ]; then
        "$@"
    else
        trap 'exit 0' INT TERM
        echo "MOTO_ENDPOINT=$MOTO_ENDPOINT (Ctrl-C stops it)"
        wait "$_MOTO_PID"
    fi
fi
