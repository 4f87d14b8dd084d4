// Benchmark-only peer of calbridge's get-availability, written the way a Node.js team would:
// googleapis for Calendar, AWS SDK v3 for DynamoDB and KMS, clients built once at init.
// It does the same work as calbridge for `POST /availability` of the caller: read the
// connection row (calbridge's table layout), unwrap the data key with KMS under the same
// encryption context, open the AES-256-GCM token envelope, ask FreeBusy for the selected
// calendar + primary, merge the busy intervals and answer `{busy, unavailable}`.
// Not production code: no refresh path (the benchmark's access token is fresh), no slots.
//
// It also carries its own minimal Lambda Runtime API loop (what the AWS Node.js runtime does
// before calling a handler), so it can be started exactly like the Rust binaries.
import http from "node:http";
import crypto from "node:crypto";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { KMSClient, DecryptCommand } from "@aws-sdk/client-kms";
import { google } from "googleapis";

const TABLE = process.env.TABLE_NAME;
// AWS_ENDPOINT_URL (moto) is honoured by the SDK itself.
const ddb = new DynamoDBClient({});
const kms = new KMSClient({});
const calendarRoot = process.env.GOOGLE_CALENDAR_API_URL.replace(/calendar\/v3\/?$/, "");

function response(statusCode, body) {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export async function handler(event) {
  const claims = event.requestContext?.authorizer?.jwt?.claims ?? {};
  const tenant = claims.tenant_id;
  const user = claims.sub;
  const body = JSON.parse(event.body ?? "{}");
  const item = (
    await ddb.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `T#${tenant}#U#${user}` }, sk: { S: "CONN#google" } },
        ConsistentRead: true,
      }),
    )
  ).Item;
  if (!item || item.status.S !== "connected") {
    return response(200, { busy: {}, unavailable: { [user]: "not_connected" } });
  }
  const context = { provider: "google", purpose: "oauth_tokens", tenant_id: tenant, user_id: user };
  const { Plaintext } = await kms.send(
    new DecryptCommand({ CiphertextBlob: item.tokens_edk.B, KeyId: item.tokens_key_id.S, EncryptionContext: context }),
  );
  const sealed = Buffer.from(item.tokens_ct.B);
  const decipher = crypto.createDecipheriv("aes-256-gcm", Buffer.from(Plaintext), Buffer.from(item.tokens_nonce.B));
  decipher.setAAD(Buffer.from(JSON.stringify(context)));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const tokens = JSON.parse(Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]));

  const auth = new google.auth.OAuth2();
  auth.setCredentials({ access_token: tokens.access_token });
  const calendar = google.calendar({ version: "v3", auth, rootUrl: calendarRoot });
  const ids = [...new Set([item.selected_calendar_id?.S, "primary"].filter(Boolean))];
  const { data } = await calendar.freebusy.query({
    requestBody: { timeMin: body.time_min, timeMax: body.time_max, items: ids.map((id) => ({ id })) },
  });
  const intervals = Object.values(data.calendars ?? {})
    .flatMap((c) => c.busy ?? [])
    .map((b) => [Date.parse(b.start), Date.parse(b.end)])
    .sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const [s, e] of intervals) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const busy = merged.map(([s, e]) => ({ start: new Date(s).toISOString(), end: new Date(e).toISOString() }));
  return response(200, { busy: { [user]: busy }, unavailable: {} });
}

// ---- minimal Lambda Runtime API client ----
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true });

function call(method, path, payload) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: `/2018-06-01/runtime${path}`, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    if (payload !== undefined) req.setHeader("content-type", "application/json");
    req.end(payload);
  });
}

for (;;) {
  const next = await call("GET", "/invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  try {
    const result = await handler(JSON.parse(next.body));
    await call("POST", `/invocation/${id}/response`, JSON.stringify(result));
  } catch (error) {
    await call("POST", `/invocation/${id}/error`, JSON.stringify({ errorMessage: String(error), errorType: error.name }));
  }
}
