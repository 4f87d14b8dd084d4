//! The OAuth surface over real HTTP: consent, code + PKCE exchange, Basic client
//! authentication, refresh-token rotation, revoke.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn the_full_code_and_pkce_flow_yields_zoom_shaped_tokens() {
    let harness = start().await;
    let pkce = Pkce::new("flow");
    let params = authorize_params(&pkce, "state-123");
    let page = harness.http.get(harness.url("/oauth/authorize")).query(&params).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/oauth/authorize/decision\""));
    assert!(html.contains(DEMO) && html.contains(ALEX));

    let redirect = harness.decide(&params, DEMO, "approve").await;
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let query = location_params(&redirect);
    assert_eq!(param(&query, "state"), Some("state-123"));
    let code = param(&query, "code").unwrap().to_owned();

    let response = harness.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], zoom_emulator::DEFAULT_SCOPES.join(" "));
    assert!(body["access_token"].as_str().unwrap().starts_with("eyJ"));
    assert!(body["refresh_token"].is_string());

    let me = harness.api(Method::GET, body["access_token"].as_str().unwrap(), "/users/me", None).await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn denying_consent_redirects_with_access_denied() {
    let harness = start().await;
    let params = authorize_params(&Pkce::new("deny"), "st");
    let response = harness.decide(&params, DEMO, "deny").await;
    assert_eq!(response.status(), 302);
    let query = location_params(&response);
    assert_eq!(param(&query, "error"), Some("access_denied"));
    assert_eq!(param(&query, "state"), Some("st"));
    assert_eq!(param(&query, "code"), None);
}

#[tokio::test]
async fn untrusted_clients_and_redirect_uris_get_a_page_never_a_redirect() {
    let harness = start().await;
    let pkce = Pkce::new("bad");
    for (name, value) in [("client_id", "nobody"), ("redirect_uri", "http://127.0.0.1:8787/connections/zoom/callback/")]
    {
        let params: Vec<(&str, String)> = authorize_params(&pkce, "s")
            .into_iter()
            .map(|(key, old)| if key == name { (key, value.to_owned()) } else { (key, old) })
            .collect();
        let response = harness.http.get(harness.url("/oauth/authorize")).query(&params).send().await.unwrap();
        assert_eq!(response.status(), 400, "{name}");
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn pkce_is_required_and_must_be_s256() {
    let harness = start().await;
    let pkce = Pkce::new("pkce");
    let without: Vec<(&str, String)> =
        authorize_params(&pkce, "s").into_iter().filter(|(key, _)| !key.starts_with("code_challenge")).collect();
    let plain: Vec<(&str, String)> = authorize_params(&pkce, "s")
        .into_iter()
        .map(|(key, value)| if key == "code_challenge_method" { (key, "plain".to_owned()) } else { (key, value) })
        .collect();
    for params in [without, plain] {
        let response = harness.http.get(harness.url("/oauth/authorize")).query(&params).send().await.unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(param(&location_params(&response), "error"), Some("invalid_request"));
    }
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_is_refused_and_a_code_works_once() {
    let harness = start().await;
    let (code, pkce) = harness.code(DEMO).await;
    let wrong = harness.exchange(&code, &Pkce::new("other").verifier).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9999/elsewhere"),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let mismatch = harness.token_request(Some(&basic(CLIENT_ID, CLIENT_SECRET)), &form).await;
    assert_eq!(mismatch.status(), 400);
    let body: Value = mismatch.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["reason"].is_string());

    let first = harness.exchange(&code, &pkce.verifier).await;
    assert_eq!(first.status(), 200);
    let tokens: Value = first.json().await.unwrap();
    let replay = harness.exchange(&code, &pkce.verifier).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        serde_json::json!({"reason": "Invalid authorization code", "error": "invalid_grant"})
    );
    // The replay revoked what the code had minted.
    let me = harness.api(Method::GET, tokens["access_token"].as_str().unwrap(), "/users/me", None).await;
    assert_eq!(me.status(), 401);
    assert_eq!(harness.refresh(tokens["refresh_token"].as_str().unwrap()).await.status(), 400);
}

#[tokio::test]
async fn basic_client_authentication_is_required_and_checked() {
    let harness = start().await;
    let (code, pkce) = harness.code(DEMO).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    for authorization in
        [None, Some(basic(CLIENT_ID, "wrong")), Some(basic("nobody", CLIENT_SECRET)), Some("Basic !!!".to_owned())]
    {
        let response = harness.token_request(authorization.as_deref(), &form).await;
        assert_eq!(response.status(), 401, "{authorization:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["reason"], "Invalid client_id or client_secret");
    }
    // The code was not used up by the refused attempts.
    assert_eq!(harness.exchange(&code, &pkce.verifier).await.status(), 200);
}

#[tokio::test]
async fn every_refresh_rotates_and_the_old_refresh_token_dies_at_once() {
    let harness = start().await;
    let tokens = harness.tokens(DEMO).await;
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let response = harness.refresh(&first_refresh).await;
    assert_eq!(response.status(), 200);
    let rotated: Value = response.json().await.unwrap();
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_ne!(rotated["access_token"], tokens["access_token"]);
    assert_eq!(rotated["token_type"], "bearer");

    let stale = harness.refresh(&first_refresh).await;
    assert_eq!(stale.status(), 400);
    assert_eq!(stale.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(harness.refresh(&second_refresh).await.status(), 200);

    let report = harness.get_control("/tokens").await;
    let first =
        report["refresh_tokens"].as_array().unwrap().iter().find(|t| t["token"] == first_refresh.as_str()).unwrap();
    assert_eq!(first["revoked"], true);
    assert_eq!(first["rotated_to"], second_refresh.as_str());
}

#[tokio::test]
async fn a_lost_refresh_response_still_rotates() {
    let harness = start().await;
    let tokens = harness.tokens(DEMO).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    harness.fault(serde_json::json!({"endpoint": "token_refresh", "kind": "apply_then_drop"})).await;

    let lost = harness
        .http
        .post(harness.url("/oauth/token"))
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await;
    assert!(lost.is_err(), "the client must see no response");
    // The emulator rotated anyway: the token the client still holds is dead.
    assert_eq!(harness.refresh(refresh_token).await.status(), 400);
    let counts = &harness.get_control("/calls").await["counts"];
    assert_eq!(counts["token_refresh"], 2);
}

#[tokio::test]
async fn revoke_kills_the_whole_grant() {
    let harness = start().await;
    let tokens = harness.tokens(DEMO).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let unauthenticated =
        harness.http.post(harness.url("/oauth/revoke")).form(&[("token", refresh)]).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let response = harness
        .http
        .post(harness.url("/oauth/revoke"))
        .query(&[("token", refresh)])
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), serde_json::json!({"status": "success"}));

    let me = harness.api(Method::GET, access, "/users/me", None).await;
    assert_eq!(me.status(), 401);
    assert_eq!(me.json::<Value>().await.unwrap(), serde_json::json!({"code": 124, "message": "Invalid access token."}));
    assert_eq!(harness.refresh(refresh).await.status(), 400);
    let again = harness
        .http
        .post(harness.url("/oauth/revoke"))
        .form(&[("token", refresh)])
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn unsupported_and_missing_grant_types_are_refused() {
    let harness = start().await;
    let auth = basic(CLIENT_ID, CLIENT_SECRET);
    let missing = harness.token_request(Some(&auth), &[("code", "x")]).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"], "invalid_request");
    let other = harness.token_request(Some(&auth), &[("grant_type", "password")]).await;
    assert_eq!(other.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
}
