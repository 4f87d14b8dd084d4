//! `POST /webhooks/zoom` on the disconnect function, driven by `events/disconnect/zoom-webhook.json`
//! with fresh signatures: what verifies erases the deauthorized user's Zoom connections (in every
//! tenant, without revoking), and everything that does not verify, or was already received,
//! is 401 with nothing changed.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use calbridge::adapters::inline_secrets::InlineSecrets;
use calbridge::app::OAuthProvider;
use calbridge::crypto::webhook_signature;
use calbridge::domain::{ConnectionKey, Provider, ScopeSet, TenantId, UserId};
use calbridge::fakes::FakeGoogle;
use calbridge::handlers::disconnect;
use calbridge::ports::{ConnectionRecord, ConnectionStatus, SealedSecret, Secrets, WriteCondition};
use jiff::{SignedDuration, Timestamp};
use lambda_http::{Body, Response};
use secrecy::{SecretBox, SecretString};
use serde_json::{Value, json};
use support::*;
use url::Url;

const SECRET: &str = "zoom-webhook-secret-for-tests";
const CLIENT_ID: &str = "zoom-client-1";
const ZOOM_USER: &str = "EmuUserDemo0000000001a";
const ZOOM_ORG: &str = "EmuAccount00000000001a";

/// The harness with Zoom offered: its client id, the webhook secret token, a fake OAuth server
/// (whose revocations must stay at zero: the grant is gone at Zoom already).
fn zoom_harness() -> (Harness, Arc<FakeGoogle>) {
    let mut h = harness();
    let zoom = Arc::new(FakeGoogle::with_clock(h.clock.clone()));
    h.app.providers.insert(
        Provider::Zoom,
        OAuthProvider {
            client: zoom.clone(),
            launch_url: Url::parse("https://api.calbridge.example/connections/zoom/launch").unwrap(),
            required_scopes: ScopeSet::parse("meeting:write:meeting"),
            issuer: None,
            display_name: "Zoom",
            consent_origin: "https://zoom.us".to_owned(),
            grant_shared_with: vec![Provider::Zoom],
        },
    );
    h.app.settings.zoom_client_id = Some(CLIENT_ID.to_owned());
    let secrets = InlineSecrets::new(
        BTreeMap::from([(Provider::Zoom, SecretString::from("zoom-client-secret"))]),
        BTreeMap::from([(Provider::Zoom, SecretString::from(SECRET))]),
        SecretBox::new(Box::new(vec![7u8; 32])),
        None,
    );
    h.app.secrets = Arc::new(Secrets::new(Arc::new(secrets)));
    (h, zoom)
}

fn key(tenant: &str, user: &str, provider: Provider) -> ConnectionKey {
    ConnectionKey::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap(), provider)
}

/// Stores a connection of `key` to the Zoom user `account_id`, connected and last written at `at`.
async fn connected(h: &Harness, key: &ConnectionKey, account_id: &str, org: Option<&str>, at: Timestamp) {
    let record = ConnectionRecord {
        key: key.clone(),
        version: 1,
        status: ConnectionStatus::Connected,
        account_id: account_id.to_owned(),
        organisation_id: org.map(str::to_owned),
        email: Some("demo@example.com".to_owned()),
        scopes: vec!["meeting:write:meeting".to_owned()],
        connected_at: at,
        updated_at: at,
        last_error: None,
        last_used_at: None,
        access_token_expires_at: None,
        selected_calendar_id: None,
        refresh_lease_until: None,
        sealed_tokens: SealedSecret {
            ciphertext: vec![1, 2, 3],
            nonce: [9; 12],
            encrypted_data_key: vec![4],
            key_id: "local:test".to_owned(),
        },
    };
    h.app.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
}

async fn exists(h: &Harness, key: &ConnectionKey) -> bool {
    h.app.connections.get_connection(key).await.unwrap().is_some()
}

/// The sample event carrying `body`, signed with `secret` at `timestamp`.
fn signed_with(body: &str, timestamp: i64, secret: &str) -> Value {
    let mut e = event("disconnect/zoom-webhook.json");
    let ts = timestamp.to_string();
    e["headers"]["x-zm-request-timestamp"] = ts.clone().into();
    e["headers"]["x-zm-signature"] = webhook_signature::sign(secret.as_bytes(), &ts, body.as_bytes()).into();
    e["body"] = body.into();
    e
}

fn signed(h: &Harness, body: &str) -> Value {
    signed_with(body, h.app.clock.now().as_second(), SECRET)
}

fn deauthorization(h: &Harness, client_id: &str, at: Timestamp) -> String {
    let payload = json!({
        "account_id": ZOOM_ORG,
        "user_id": ZOOM_USER,
        "signature": "0".repeat(64),
        "deauthorization_time": at.to_string(),
        "client_id": client_id,
        "user_data_retention": "false",
    });
    json!({"event": "app_deauthorized", "event_ts": h.app.clock.now().as_millisecond(), "payload": payload}).to_string()
}

async fn deliver(h: &Harness, e: &Value) -> Response<Body> {
    disconnect::handle(&h.app, request(e)).await
}

/// Two tenants' users connected to the deauthorized Zoom user, the same user's Google
/// connection, and another Zoom user: the world every erasure test starts from.
async fn world(h: &Harness, since: Timestamp) -> [ConnectionKey; 4] {
    let (a, b) = (key(TENANT, USER, Provider::Zoom), key("other-clinic", "dr-ng", Provider::Zoom));
    let google = key(TENANT, USER, Provider::Google);
    let other = key(TENANT, "colleague", Provider::Zoom);
    connected(h, &a, ZOOM_USER, Some(ZOOM_ORG), since).await;
    connected(h, &b, ZOOM_USER, None, since).await;
    connected(h, &google, ZOOM_USER, None, since).await;
    connected(h, &other, "EmuUserAlex0000000002a", Some(ZOOM_ORG), since).await;
    [a, b, google, other]
}

#[tokio::test]
async fn a_signed_deauthorization_erases_that_users_zoom_connections_in_every_tenant_without_revoking() {
    // Given the user's Zoom connections in two tenants, connected an hour ago
    let (h, zoom) = zoom_harness();
    let now = h.app.clock.now();
    let [a, b, google, other] = world(&h, now - SignedDuration::from_hours(1)).await;
    // When Zoom reports the deauthorization, signed
    let response = deliver(&h, &signed(&h, &deauthorization(&h, CLIENT_ID, now - SignedDuration::from_secs(5)))).await;
    // Then both are erased, nothing else, and Zoom was not asked to revoke anything
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response), json!({"erased": 2}));
    assert!(!exists(&h, &a).await && !exists(&h, &b).await);
    assert!(exists(&h, &google).await, "the same id at Google is another account");
    assert!(exists(&h, &other).await, "another Zoom user is untouched");
    assert_eq!(zoom.revocations.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn anything_that_does_not_verify_is_401_and_erases_nothing() {
    let (h, _) = zoom_harness();
    let now = h.app.clock.now();
    let [a, b, ..] = world(&h, now - SignedDuration::from_hours(1)).await;
    let body = deauthorization(&h, CLIENT_ID, now - SignedDuration::from_secs(5));
    let ts = now.as_second();
    let mut tampered = signed(&h, &body);
    tampered["body"] = body.replace(ZOOM_ORG, "EmuAccount99999999999z").into();
    let mut no_timestamp = signed(&h, &body);
    no_timestamp["headers"].as_object_mut().unwrap().remove("x-zm-request-timestamp");
    let mut no_signature = signed(&h, &body);
    no_signature["headers"].as_object_mut().unwrap().remove("x-zm-signature");
    // API Gateway joins a repeated header with commas: neither copy is taken.
    let mut repeated = signed(&h, &body);
    let good = repeated["headers"]["x-zm-signature"].as_str().unwrap().to_owned();
    repeated["headers"]["x-zm-signature"] = format!("{good},{good}").into();
    for (name, e) in [
        ("wrong secret", signed_with(&body, ts, "another-secret")),
        ("tampered body", tampered),
        ("six minutes old", signed_with(&body, ts - 360, SECRET)),
        ("six minutes ahead", signed_with(&body, ts + 360, SECRET)),
        ("no timestamp", no_timestamp),
        ("no signature", no_signature),
        ("repeated signature", repeated),
    ] {
        let response = deliver(&h, &e).await;
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(error_code(&response), "invalid_signature", "{name}");
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!text.contains(ZOOM_USER) && !text.contains(SECRET), "{name}: the answer echoes nothing");
    }
    assert!(exists(&h, &a).await && exists(&h, &b).await);
}

#[tokio::test]
async fn a_second_delivery_of_the_same_signed_request_is_401_replayed() {
    // Given a deauthorization that was delivered and erased the connections
    let (h, _) = zoom_harness();
    let now = h.app.clock.now();
    let e = signed(&h, &deauthorization(&h, CLIENT_ID, now - SignedDuration::from_secs(5)));
    let [a, ..] = world(&h, now - SignedDuration::from_hours(1)).await;
    assert_eq!(deliver(&h, &e).await.status(), 200);
    assert!(!exists(&h, &a).await);
    // and the user connected again meanwhile, a minute later
    h.clock.advance(SignedDuration::from_mins(1));
    connected(&h, &a, ZOOM_USER, Some(ZOOM_ORG), h.app.clock.now() - SignedDuration::from_hours(2)).await;
    // When the very same request arrives again (within the 5-minute window)
    let again = deliver(&h, &e).await;
    // Then it is refused as a replay and changes nothing
    assert_eq!(again.status(), 401);
    assert_eq!(error_code(&again), "replayed");
    assert!(exists(&h, &a).await);
}

#[tokio::test]
async fn url_validation_answers_the_hmac_of_the_plain_token_and_must_be_signed_too() {
    let (h, _) = zoom_harness();
    let body =
        json!({"event": "endpoint.url_validation", "event_ts": 1, "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}})
            .to_string();
    let response = deliver(&h, &signed(&h, &body)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        body_json(&response),
        json!({
            "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
            "encryptedToken": webhook_signature::url_validation_token(SECRET.as_bytes(), "qgg8vlvZRS6UYooatFL8Aw"),
        })
    );
    let unsigned = signed_with(&body, h.app.clock.now().as_second(), "not-the-secret");
    assert_eq!(deliver(&h, &unsigned).await.status(), 401);
}

#[tokio::test]
async fn another_apps_deauthorization_and_other_events_are_ignored() {
    let (h, _) = zoom_harness();
    let now = h.app.clock.now();
    let [a, b, ..] = world(&h, now - SignedDuration::from_hours(1)).await;
    let other_app = deliver(&h, &signed(&h, &deauthorization(&h, "someone-elses-app", now))).await;
    assert_eq!(other_app.status(), 200);
    assert_eq!(body_json(&other_app), json!({"ignored": true}));
    let meeting = json!({"event": "meeting.started", "event_ts": 1, "payload": {"object": {"id": "1"}}}).to_string();
    let ignored = deliver(&h, &signed(&h, &meeting)).await;
    assert_eq!(ignored.status(), 200);
    assert_eq!(body_json(&ignored), json!({"ignored": true}));
    assert!(exists(&h, &a).await && exists(&h, &b).await);
}

#[tokio::test]
async fn a_connection_made_again_after_the_deauthorization_or_of_another_organisation_stays() {
    let (h, _) = zoom_harness();
    let now = h.app.clock.now();
    let deauthorized_at = now - SignedDuration::from_mins(3);
    // A new connection after the deauthorization; a reconnect of the same account (which keeps
    // its first connected_at but was written since); a connection stored for another Zoom
    // organisation; and one that is still the ended grant.
    let fresh = key(TENANT, "u-fresh", Provider::Zoom);
    connected(&h, &fresh, ZOOM_USER, Some(ZOOM_ORG), now - SignedDuration::from_mins(1)).await;
    let reconnected = key(TENANT, "u-again", Provider::Zoom);
    let mut record = {
        connected(&h, &reconnected, ZOOM_USER, Some(ZOOM_ORG), now - SignedDuration::from_hours(5)).await;
        h.app.connections.get_connection(&reconnected).await.unwrap().unwrap()
    };
    record.updated_at = now - SignedDuration::from_mins(1);
    record.version += 1;
    h.app.connections.put_connection(&record, WriteCondition::Version(1)).await.unwrap();
    let elsewhere = key(TENANT, "u-org", Provider::Zoom);
    connected(&h, &elsewhere, ZOOM_USER, Some("AnotherOrg000000000000"), now - SignedDuration::from_hours(5)).await;
    let ended = key(TENANT, "u-ended", Provider::Zoom);
    connected(&h, &ended, ZOOM_USER, Some(ZOOM_ORG), now - SignedDuration::from_hours(5)).await;

    let response = deliver(&h, &signed(&h, &deauthorization(&h, CLIENT_ID, deauthorized_at))).await;

    assert_eq!(body_json(&response), json!({"erased": 1}));
    assert!(exists(&h, &fresh).await && exists(&h, &reconnected).await && exists(&h, &elsewhere).await);
    assert!(!exists(&h, &ended).await);
}

#[tokio::test]
async fn an_oversized_or_non_json_body_is_refused_and_zoom_not_offered_is_404() {
    let (h, _) = zoom_harness();
    let huge = format!(r#"{{"event":"x","payload":{{"pad":"{}"}}}}"#, "a".repeat(70 * 1024));
    let response = deliver(&h, &signed(&h, &huge)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(&response), "payload_too_large");
    let not_json = deliver(&h, &signed(&h, "event=app_deauthorized")).await;
    assert_eq!(not_json.status(), 400);
    assert!(!String::from_utf8(not_json.body().to_vec()).unwrap().contains("app_deauthorized"));
    // A deployment without Zoom has no webhook
    let plain = harness();
    let e = signed_with("{}", plain.app.clock.now().as_second(), SECRET);
    let response = disconnect::handle(&plain.app, request(&e)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(&response), "unknown_provider");
}
