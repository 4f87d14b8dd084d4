"""Benchmark-only peer of calbridge's get-availability, written the way a Python team would:
google-api-python-client for Calendar, boto3 for DynamoDB and KMS, clients built once at init
(the Calendar service is built per request, because its credentials are the user's).

Same work as calbridge for `POST /availability` of the caller: read the connection row
(calbridge's table layout), unwrap the data key with KMS under the same encryption context,
open the AES-256-GCM token envelope, ask FreeBusy for the selected calendar + primary, merge the
busy intervals and answer `{busy, unavailable}`. Not production code: no refresh path (the
benchmark's access token is fresh), no slots.

It carries its own minimal Lambda Runtime API loop (what the AWS Python runtime does before
calling a handler), so it can be started exactly like the Rust binaries.
"""

import http.client
import json
import os
from datetime import datetime

import boto3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

TABLE = os.environ["TABLE_NAME"]
# AWS_ENDPOINT_URL (moto) is honoured by boto3 itself.
ddb = boto3.client("dynamodb")
kms = boto3.client("kms")
# api_endpoint replaces rootUrl + servicePath, so it is the Calendar base itself.
CALENDAR_BASE = os.environ["GOOGLE_CALENDAR_API_URL"].rstrip("/") + "/"


def response(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def parse(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def handler(event, _context=None):
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims", {})
    tenant, user = claims["tenant_id"], claims["sub"]
    body = json.loads(event.get("body") or "{}")
    item = ddb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": f"T#{tenant}#U#{user}"}, "sk": {"S": "CONN#google"}},
        ConsistentRead=True,
    ).get("Item")
    if not item or item["status"]["S"] != "connected":
        return response(200, {"busy": {}, "unavailable": {user: "not_connected"}})
    context = {"provider": "google", "purpose": "oauth_tokens", "tenant_id": tenant, "user_id": user}
    key = kms.decrypt(
        CiphertextBlob=item["tokens_edk"]["B"], KeyId=item["tokens_key_id"]["S"], EncryptionContext=context
    )["Plaintext"]
    aad = json.dumps(context, sort_keys=True, separators=(",", ":")).encode()
    tokens = json.loads(AESGCM(key).decrypt(item["tokens_nonce"]["B"], item["tokens_ct"]["B"], aad))

    service = build(
        "calendar",
        "v3",
        credentials=Credentials(token=tokens["access_token"]),
        client_options={"api_endpoint": CALENDAR_BASE},
        cache_discovery=False,
    )
    ids = list(dict.fromkeys(x for x in [item.get("selected_calendar_id", {}).get("S"), "primary"] if x))
    answer = (
        service.freebusy()
        .query(body={"timeMin": body["time_min"], "timeMax": body["time_max"], "items": [{"id": i} for i in ids]})
        .execute()
    )
    intervals = sorted(
        (parse(b["start"]), parse(b["end"])) for c in answer.get("calendars", {}).values() for b in c.get("busy", [])
    )
    merged = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    busy = [{"start": s.isoformat().replace("+00:00", "Z"), "end": e.isoformat().replace("+00:00", "Z")} for s, e in merged]
    return response(200, {"busy": {user: busy}, "unavailable": {}})


def main():
    runtime = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
    base = "/2018-06-01/runtime"
    while True:
        runtime.request("GET", f"{base}/invocation/next")
        answer = runtime.getresponse()
        event = json.loads(answer.read())
        request_id = answer.getheader("lambda-runtime-aws-request-id")
        try:
            result, outcome = handler(event), "response"
        except Exception as error:  # the runtime reports any failure as the invocation's error
            result, outcome = {"errorMessage": str(error), "errorType": type(error).__name__}, "error"
        runtime.request(
            "POST", f"{base}/invocation/{request_id}/{outcome}", json.dumps(result), {"content-type": "application/json"}
        )
        runtime.getresponse().read()


if __name__ == "__main__":
    main()
