#!/usr/bin/env bash
# backfill-index-keys.sh: gives connection items written before the account and tenant indexes
# existed the keys of those indexes, once, after upgrading a stack:
#
#     account_pk = "{provider}#{account_id}"     (account-index: which connections share a grant)
#     tenant_pk  = "T#{tenant_id}"               (tenant-index: GET /connections)
#     user_sk    = "{user_id}#{provider}"
#
# Usage:
#     infra/scripts/backfill-index-keys.sh [--stack NAME] [--table NAME] [--region REGION] [--dry-run]
#
# The table is found from the stack's TableName output (--stack, default "calbridge"), or given
# with --table. Only connection items (sk beginning with CONN#) missing one of the keys are
# touched, and only those keys are set: each update is conditional on the item still existing
# with the same tenant, user, provider and account (a connection deleted or reconnected
# meanwhile is skipped; its new write carries the keys already). Safe to run again: a second
# run finds nothing to do. Reads only key and identity attributes, never tokens.
# Prints one line: how many items were found, updated and skipped. Needs the AWS CLI and python3.
set -euo pipefail

stack="calbridge"
table=""
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --stack) stack="$2"; shift 2 ;;
        --table) table="$2"; shift 2 ;;
        --region) export AWS_DEFAULT_REGION="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0 ;;
        *) echo "backfill-index-keys.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "backfill-index-keys.sh: $*" >&2; exit 1; }
# The AWS CLI reads AWS_DEFAULT_REGION (and the profile), not AWS_REGION.
if [ -n "${AWS_REGION:-}" ] && [ -z "${AWS_DEFAULT_REGION:-}" ]; then
    export AWS_DEFAULT_REGION="$AWS_REGION"
fi
command -v aws >/dev/null 2>&1 || die "the AWS CLI is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

if [ -z "$table" ]; then
    table="$(aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='TableName'].OutputValue" --output text)" \
        || die "cannot read the outputs of stack $stack (deploy it first, or pass --table)"
    [ -n "$table" ] && [ "$table" != "None" ] || die "stack $stack has no TableName output"
fi

TABLE="$table" DRY_RUN="$dry_run" python3 - <<'PY'
import json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

table, dry_run = os.environ["TABLE"], os.environ["DRY_RUN"] == "1"

def aws(*args):
    run = subprocess.run(["aws", "dynamodb", *args, "--output", "json"], capture_output=True, text=True)
    return run.returncode, run.stdout, run.stderr

# The AWS CLI follows LastEvaluatedKey itself: this is every matching item of the table.
code, out, err = aws(
    "scan", "--table-name", table,
    "--filter-expression",
    "begins_with(sk, :conn) AND (attribute_not_exists(account_pk) OR attribute_not_exists(tenant_pk)"
    " OR attribute_not_exists(user_sk))",
    "--projection-expression", "pk, sk, tenant_id, user_id, provider, account_id",
    "--expression-attribute-values", json.dumps({":conn": {"S": "CONN#"}}),
)
if code != 0:
    sys.exit(f"backfill-index-keys.sh: cannot scan {table}: {err.strip()}")
items = json.loads(out).get("Items", [])

def text(item, name):
    value = item.get(name, {}).get("S")
    if not value:
        raise ValueError(f"{item['pk']['S']} {item['sk']['S']} has no {name}")
    return value

def backfill(item):
    tenant, user = text(item, "tenant_id"), text(item, "user_id")
    provider, account = text(item, "provider"), text(item, "account_id")
    if dry_run:
        return "would update"
    values = {
        ":account_pk": {"S": f"{provider}#{account}"},
        ":tenant_pk": {"S": f"T#{tenant}"},
        ":user_sk": {"S": f"{user}#{provider}"},
        ":tenant": {"S": tenant}, ":user": {"S": user}, ":provider": {"S": provider}, ":account": {"S": account},
    }
    code, _, err = aws(
        "update-item", "--table-name", table,
        "--key", json.dumps({"pk": item["pk"], "sk": item["sk"]}),
        "--update-expression", "SET account_pk = :account_pk, tenant_pk = :tenant_pk, user_sk = :user_sk",
        "--condition-expression",
        "attribute_exists(pk) AND tenant_id = :tenant AND user_id = :user AND provider = :provider"
        " AND account_id = :account",
        "--expression-attribute-values", json.dumps(values),
    )
    if code == 0:
        return "updated"
    if "ConditionalCheckFailedException" in err:
        return "skipped"
    raise RuntimeError(f"{item['pk']['S']} {item['sk']['S']}: {err.strip()}")

with ThreadPoolExecutor(max_workers=8) as pool:
    outcomes = list(pool.map(backfill, items))
counts = {outcome: outcomes.count(outcome) for outcome in ("would update", "updated", "skipped")}
print(f"{table}: {len(items)} connection items without index keys; "
      + ", ".join(f"{n} {what}" for what, n in counts.items() if n or what != "would update"))
PY
