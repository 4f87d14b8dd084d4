"""Prints the calbridge-bench cold-start spec: the eight release binaries, each with a sample
event from events/ (read-only ones, so every start does the same work), plus the peers from
peers/setup.sh on get-availability's event. Environment: BIN_DIR, BENCH_FUNCTIONS, PEERS_JSON,
BENCH_RUNS, BENCH_EMULATOR_URL, BENCH_STACK_PORT, TABLE_NAME, KMS_KEY_ID, GOOGLE_SECRET_ARN."""

import json
import os

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
events = {
    "auth-start": "auth-start/authorize.json",
    "auth-callback": "auth-callback/callback.json",
    "disconnect": "disconnect/status.json",
    "list-calendars": "list-calendars/list.json",
    "get-availability": "get-availability/busy.json",
    "sync-appointment": "sync-appointment/http-status.json",
    "create-meet": "create-meet/get.json",
    "send-email": "send-email/send.json",
}
e = os.environ["BENCH_EMULATOR_URL"]
env = {
    "GOOGLE_CLIENT_ID": "calbridge-local",
    "GOOGLE_SECRET_ARN": os.environ["GOOGLE_SECRET_ARN"],
    "GOOGLE_REDIRECT_URI": f"http://127.0.0.1:{os.environ['BENCH_STACK_PORT']}/connections/google/callback",
    "GOOGLE_AUTH_URL": f"{e}/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": f"{e}/token",
    "GOOGLE_REVOKE_URL": f"{e}/revoke",
    "GOOGLE_USERINFO_URL": f"{e}/v1/userinfo",
    "GOOGLE_CALENDAR_API_URL": f"{e}/calendar/v3",
    "GOOGLE_JWKS_URL": f"{e}/oauth2/v3/certs",
    "TABLE_NAME": os.environ["TABLE_NAME"],
    "KMS_KEY_ID": os.environ["KMS_KEY_ID"],
    "ALLOWED_RETURN_TO": "https://app.example.com/integrations/google",
    "RUST_LOG": "info",
}
bin_dir = os.environ.get("BIN_DIR", f"{root}/target/release")
targets = [
    {
        "name": f,
        "group": "calbridge",
        "event": f"{root}/events/{events[f]}",
        "command": [f"{bin_dir}/{f}"],
        "env": env,
    }
    for f in os.environ["BENCH_FUNCTIONS"].split()
]
for peer in json.loads(os.environ.get("PEERS_JSON") or "[]"):
    peer["env"] = env
    peer["event"] = f"{root}/events/get-availability/busy.json"
    targets.append(peer)
print(json.dumps({"runs": int(os.environ["BENCH_RUNS"]), "targets": targets}, indent=2))
