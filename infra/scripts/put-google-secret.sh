#!/usr/bin/env bash
# put-google-secret.sh: writes the calbridge stack's Google secret (Secrets Manager):
#
#     {"google_client_secret": "<from Google Cloud console>", "state_signing_key": "<base64, 32 random bytes>"}
#
# Usage:
#     infra/scripts/put-google-secret.sh [--stack NAME] [--secret-id ARN] [--region REGION] [--rotate-signing-key]
#
# The secret is found from the stack's GoogleSecretArn output (--stack, default "calbridge"),
# or given with --secret-id. The region is --region, else AWS_DEFAULT_REGION, else AWS_REGION,
# else your AWS CLI profile's. The client secret
# is read from GOOGLE_CLIENT_SECRET if set, else prompted for without echo; it never appears in
# a command line or a file that outlives this script. An existing state-signing key is kept
# (rotating it only invalidates consents in flight); a new one is generated when there is
# none or with --rotate-signing-key.
#
# Running functions cache the secret per container: after changing an existing value, new
# containers pick it up (update any function's configuration, or wait, to recycle them).
# Needs the AWS CLI and python3.
set -euo pipefail

stack="calbridge"
secret_id=""
rotate=0
while [ $# -gt 0 ]; do
    case "$1" in
        --stack) stack="$2"; shift 2 ;;
        --secret-id) secret_id="$2"; shift 2 ;;
        --region) export AWS_DEFAULT_REGION="$2"; shift 2 ;;
        --rotate-signing-key) rotate=1; shift ;;
        -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
        *) echo "put-google-secret.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "put-google-secret.sh: $*" >&2; exit 1; }
# The AWS CLI reads AWS_DEFAULT_REGION (and the profile), not AWS_REGION, which the SDKs and
# most shells configured for them set.
if [ -n "${AWS_REGION:-}" ] && [ -z "${AWS_DEFAULT_REGION:-}" ]; then
    export AWS_DEFAULT_REGION="$AWS_REGION"
fi
command -v aws >/dev/null 2>&1 || die "the AWS CLI is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

if [ -z "$secret_id" ]; then
    secret_id="$(aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='GoogleSecretArn'].OutputValue" --output text)" \
        || die "cannot read the outputs of stack $stack (deploy it first, or pass --secret-id)"
    [ -n "$secret_id" ] && [ "$secret_id" != "None" ] || die "stack $stack has no GoogleSecretArn output"
fi

client_secret="${GOOGLE_CLIENT_SECRET:-}"
if [ -z "$client_secret" ]; then
    [ -t 0 ] || die "set GOOGLE_CLIENT_SECRET or run interactively"
    read -r -s -p "Google OAuth client secret (Google Cloud console -> Credentials): " client_secret
    echo
fi
[ -n "$client_secret" ] || die "the client secret is empty"

workdir="$(mktemp -d)"
chmod 700 "$workdir"
trap 'rm -rf "$workdir"' EXIT

# The current value, if any (a new secret has none yet).
if ! aws secretsmanager get-secret-value --secret-id "$secret_id" --query SecretString --output text \
    >"$workdir/current" 2>"$workdir/error"; then
    if grep -q "ResourceNotFoundException" "$workdir/error"; then
        : >"$workdir/current"
    else
        cat "$workdir/error" >&2
        die "cannot read $secret_id"
    fi
fi

# Compose the new value from the environment and the current value, never from arguments.
CLIENT_SECRET="$client_secret" ROTATE="$rotate" python3 - "$workdir/current" "$workdir/new" <<'PY'
import base64, json, os, secrets, sys

current = {}
try:
    with open(sys.argv[1]) as f:
        text = f.read().strip()
    if text and text != "None":
        current = json.loads(text)
except (OSError, ValueError):
    current = {}
if not isinstance(current, dict):
    current = {}

def valid_key(value):
    try:
        return isinstance(value, str) and len(base64.b64decode(value, validate=True)) >= 32
    except ValueError:
        return False

key = current.get("state_signing_key")
if os.environ["ROTATE"] == "1" or not valid_key(key):
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    print("put-google-secret.sh: generated a new state_signing_key", file=sys.stderr)
else:
    print("put-google-secret.sh: kept the existing state_signing_key", file=sys.stderr)

current["google_client_secret"] = os.environ["CLIENT_SECRET"]
current["state_signing_key"] = key
with open(sys.argv[2], "w") as f:
    json.dump(current, f)
PY

aws secretsmanager put-secret-value --secret-id "$secret_id" \
    --secret-string "file://$workdir/new" --query VersionId --output text >/dev/null \
    || die "cannot write $secret_id"
echo "put-google-secret.sh: wrote $secret_id"
