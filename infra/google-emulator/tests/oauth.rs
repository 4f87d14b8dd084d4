//! The OAuth / OpenID Connect endpoints over real HTTP: each test shows the
//! emulator refusing what Google refuses, or issuing what Google issues.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use google_emulator::EmulatorConfig;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

const SIGN_IN: &str = "openid email profile";

fn scope_with_calendar() -> String {
    format!("openid email {CALENDAR}")
}

#[tokio::test]
async fn pkce_code_flow_issues_tokens_and_an_id_token_that_verifies_against_the_jwks() {
    let harness = start().await;
    let request = AuthRequest::new(&scope_with_calendar());

    // Given the consent page for a valid request
    let page = harness.authorize(&request.params()).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("action=\"/o/oauth2/v2/auth/decision\""));
    assert!(html.contains(DEMO) && html.contains(ALEX));
    assert!(html.contains(&format!("name=\"scope_granted\" value=\"{CALENDAR}\" checked")));

    // When the user approves and the client exchanges the code with its verifier
    let response = harness.decide(&request, &[("account", DEMO), ("decision", "approve")]).await;
    assert_eq!(response.status(), 302);
    let params = location_params(&response);
    assert!(response.headers()["location"].to_str().unwrap().starts_with(REDIRECT_URI));
    assert_eq!(param(&params, "state"), Some("state-123"));
    assert_eq!(param(&params, "iss"), Some("https://accounts.google.com"));
    assert_eq!(param(&params, "authuser"), Some("0"));
    assert_eq!(
        param(&params, "scope"),
        Some("https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/userinfo.email openid")
    );
    let code = param(&params, "code").unwrap();
    let response = harness.exchange(code, Some(&request.pkce.as_ref().unwrap().verifier)).await;

    // Then tokens in Google's shape come back, not cacheable
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("1//"));
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["scope"].as_str().unwrap().contains(CALENDAR));

    // And the id_token verifies with the served JWKS alone
    let jwks: Value = harness.http.get(harness.url("/oauth2/v3/certs")).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    let id_token = tokens["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding_key =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&["https://accounts.google.com"]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &decoding_key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "100000000000000000001");
    assert_eq!(claims["email"], DEMO);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);

    // And a key other than the served one does not verify it
    let mut tampered = id_token.to_owned();
    tampered.pop();
    tampered.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    assert!(jsonwebtoken::decode::<Value>(&tampered, &decoding_key, &validation).is_err());
}

#[tokio::test]
async fn code_exchange_refuses_wrong_or_missing_verifier_and_wrong_redirect_uri() {
    let harness = start().await;
    let request = AuthRequest::new(SIGN_IN);
    let code = harness.approve(&request, DEMO).await;

    let wrong = harness.exchange(&code, Some(&Pkce::new("other").verifier)).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let missing = harness.exchange(&code, None).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let malformed = harness.exchange(&code, Some("short")).await;
    assert_eq!(malformed.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let other_redirect = harness
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8787/other"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code_verifier", &request.pkce.as_ref().unwrap().verifier),
        ])
        .await;
    assert_eq!(other_redirect.status(), 400);
    assert_eq!(other_redirect.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let no_redirect = harness
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(no_redirect.json::<Value>().await.unwrap()["error"], "invalid_request");

    // The failed attempts did not burn the code.
    let right = harness.exchange(&code, Some(&request.pkce.as_ref().unwrap().verifier)).await;
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn a_verifier_for_a_request_without_a_challenge_is_refused() {
    let harness = start().await;
    let mut request = AuthRequest::new(SIGN_IN);
    request.pkce = None;
    let code = harness.approve(&request, DEMO).await;
    let response = harness.exchange(&code, Some(&Pkce::new("x").verifier)).await;
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
    assert_eq!(harness.exchange(&code, None).await.status(), 200);
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_minted() {
    let harness = start().await;
    let request = AuthRequest::new(&scope_with_calendar());
    let code = harness.approve(&request, DEMO).await;
    let verifier = request.pkce.as_ref().unwrap().verifier.clone();
    let first: Value = harness.exchange(&code, Some(&verifier)).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(harness.api_get(access, "/calendar/v3/users/me/calendarList").await.status(), 200);

    let replay = harness.exchange(&code, Some(&verifier)).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(replay.json::<Value>().await.unwrap()["error"], "invalid_grant");

    assert_eq!(harness.api_get(access, "/calendar/v3/users/me/calendarList").await.status(), 401);
    let refreshed = harness
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(refreshed.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let issued = harness.control_get("/_emulator/tokens").await;
    assert_eq!(issued["codes"][0]["used"], true);
    assert_eq!(issued["access_tokens"][0]["revoked"], true);
    assert_eq!(issued["refresh_tokens"][0]["revoked"], true);
}

#[tokio::test]
async fn client_authentication_accepts_basic_or_body_and_refuses_a_wrong_secret() {
    let harness = start().await;

    // Wrong secret in the body
    let request = AuthRequest::new(SIGN_IN);
    let code = harness.approve(&request, DEMO).await;
    let verifier = request.pkce.as_ref().unwrap().verifier.clone();
    let wrong = harness
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", "not-the-secret"),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_client");

    // No secret at all
    let missing = harness
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!(missing.status(), 401);

    // Wrong secret over Basic
    let wrong_basic = harness
        .http
        .post(harness.url("/token"))
        .basic_auth(CLIENT_ID, Some("nope"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_basic.status(), 401);
    assert!(wrong_basic.headers().contains_key("www-authenticate"));

    // Right secret over Basic works
    let basic = harness
        .http
        .post(harness.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);

    // And in the body, for a fresh code
    let request = AuthRequest::new(SIGN_IN);
    let code = harness.approve(&request, DEMO).await;
    let body = harness.exchange(&code, Some(&request.pkce.as_ref().unwrap().verifier)).await;
    assert_eq!(body.status(), 200);
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_inside_base64() {
    let harness = start().await;
    let client_id = "odd client:id";
    let secret = "s3cret+/=:";
    harness
        .control(
            "/_emulator/clients",
            json!({"client_id": client_id, "client_secret": secret, "redirect_uris": [REDIRECT_URI]}),
        )
        .await;
    let mut request = AuthRequest::new(SIGN_IN);
    request.client_id = client_id.to_owned();
    let code = harness.approve(&request, DEMO).await;
    let encode = |raw: &str| url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
    let credentials = STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)));
    let response = harness
        .http
        .post(harness.url("/token"))
        .header("authorization", format!("Basic {credentials}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", request.pkce.as_ref().unwrap().verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refresh_works_until_the_grant_is_revoked() {
    let harness = start().await;
    let tokens = harness.tokens_for(DEMO, &scope_with_calendar()).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refreshed = harness.refresh(refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    assert!(refreshed.get("refresh_token").is_none());
    assert_eq!(refreshed["scope"], tokens["scope"]);
    assert!(refreshed["id_token"].is_string());
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(harness.api_get(new_access, "/calendar/v3/users/me/calendarList").await.status(), 200);

    // Revoking the refresh token kills the grant: every token of it.
    let revoked = harness.http.post(harness.url("/revoke")).form(&[("token", refresh_token)]).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(revoked.json::<Value>().await.unwrap(), json!({}));

    let after = harness.refresh(refresh_token).await;
    assert_eq!(after.status(), 400);
    assert_eq!(
        after.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    assert_eq!(harness.api_get(new_access, "/calendar/v3/users/me/calendarList").await.status(), 401);
    let again = harness.http.post(harness.url("/revoke")).form(&[("token", refresh_token)]).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(again.json::<Value>().await.unwrap()["error"], "invalid_token");

    let issued = harness.control_get("/_emulator/tokens").await;
    assert_eq!(issued["revocations"][0]["token_kind"], "refresh_token");
    assert_eq!(issued["revocations"][0]["account"], DEMO);
}

#[tokio::test]
async fn revoking_an_access_token_revokes_its_grant_too() {
    let harness = start().await;
    let tokens = harness.tokens_for(DEMO, &scope_with_calendar()).await;
    let response = harness
        .http
        .post(harness.url("/revoke"))
        .query(&[("token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let refresh = harness
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(refresh.status(), 400);
}

#[tokio::test]
async fn refresh_tokens_come_only_with_first_consent_or_prompt_consent() {
    let harness = start().await;
    let scope = scope_with_calendar();

    let mut first = AuthRequest::new(&scope);
    first.prompt = None;
    let code = harness.approve(&first, DEMO).await;
    let tokens: Value =
        harness.exchange(&code, Some(&first.pkce.as_ref().unwrap().verifier)).await.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string(), "first consent: {tokens}");

    let mut again = AuthRequest::new(&scope);
    again.prompt = None;
    let code = harness.approve(&again, DEMO).await;
    let tokens: Value =
        harness.exchange(&code, Some(&again.pkce.as_ref().unwrap().verifier)).await.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none(), "repeat consent: {tokens}");

    let forced = AuthRequest::new(&scope);
    let code = harness.approve(&forced, DEMO).await;
    let tokens: Value =
        harness.exchange(&code, Some(&forced.pkce.as_ref().unwrap().verifier)).await.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string(), "prompt=consent: {tokens}");

    let mut online = AuthRequest::new(&scope);
    online.access_type = "online";
    let code = harness.approve(&online, ALEX).await;
    let tokens: Value =
        harness.exchange(&code, Some(&online.pkce.as_ref().unwrap().verifier)).await.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none(), "online access: {tokens}");
}

#[tokio::test]
async fn an_unticked_scope_is_not_granted_and_the_calendar_then_answers_403() {
    let harness = start().await;
    let request = AuthRequest::new(&format!("openid email {CALENDAR_READONLY} {CALENDAR_EVENTS}"));
    // The consent page's form: only the read-only calendar scope stays ticked.
    let response = harness
        .decide(
            &request,
            &[
                ("account", DEMO),
                ("decision", "approve"),
                ("granular_consent", "1"),
                ("scope_granted", "openid"),
                ("scope_granted", "email"),
                ("scope_granted", CALENDAR_READONLY),
            ],
        )
        .await;
    let params = location_params(&response);
    let granted = param(&params, "scope").unwrap().to_owned();
    assert!(granted.contains(CALENDAR_READONLY));
    assert!(!granted.contains(CALENDAR_EVENTS));
    let tokens: Value = harness
        .exchange(param(&params, "code").unwrap(), Some(&request.pkce.as_ref().unwrap().verifier))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], granted.as_str());
    let access = tokens["access_token"].as_str().unwrap();

    let insert = harness
        .api_send(
            reqwest::Method::POST,
            access,
            "/calendar/v3/calendars/primary/events",
            json!({"summary": "x", "start": {"dateTime": "2030-01-01T10:00:00Z"}, "end": {"dateTime": "2030-01-01T11:00:00Z"}}),
        )
        .await;
    assert_eq!(insert.status(), 403);
    let body: Value = insert.json().await.unwrap();
    assert_eq!(reason(&body), "insufficientPermissions");
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(body["error"]["message"], "Request had insufficient authentication scopes.");
    assert_eq!(harness.api_get(access, "/calendar/v3/users/me/calendarList").await.status(), 200);
}

#[tokio::test]
async fn unticking_every_optional_scope_grants_only_sign_in() {
    let harness = start().await;
    let request = AuthRequest::new(&scope_with_calendar());
    let response =
        harness.decide(&request, &[("account", DEMO), ("decision", "approve"), ("granular_consent", "1")]).await;
    let params = location_params(&response);
    assert_eq!(param(&params, "scope"), Some("https://www.googleapis.com/auth/userinfo.email openid"));
}

#[tokio::test]
async fn include_granted_scopes_unions_with_earlier_grants() {
    let harness = start().await;
    harness.tokens_for(DEMO, &format!("openid {FREEBUSY}")).await;
    let mut request = AuthRequest::new(&format!("openid {CALENDAR_EVENTS}"));
    request.include_granted_scopes = true;
    let response = harness.decide(&request, &[("account", DEMO), ("decision", "approve")]).await;
    let params = location_params(&response);
    let scope = param(&params, "scope").unwrap();
    assert!(scope.contains(FREEBUSY) && scope.contains(CALENDAR_EVENTS), "{scope}");

    let mut without = AuthRequest::new(&format!("openid {CALENDAR_EVENTS}"));
    without.include_granted_scopes = false;
    let response = harness.decide(&without, &[("account", DEMO), ("decision", "approve")]).await;
    let params = location_params(&response);
    assert!(!param(&params, "scope").unwrap().contains(FREEBUSY));
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let harness = start().await;
    let request = AuthRequest::new(SIGN_IN);
    let response = harness.decide(&request, &[("decision", "deny")]).await;
    assert_eq!(response.status(), 302);
    let params = location_params(&response);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("state-123"));
    assert_eq!(param(&params, "iss"), Some("https://accounts.google.com"));
    assert_eq!(param(&params, "code"), None);
}

#[tokio::test]
async fn untrusted_client_or_redirect_uri_gets_an_error_page_and_never_a_redirect() {
    let harness = start().await;

    let mut unknown_client = AuthRequest::new(SIGN_IN);
    unknown_client.client_id = "someone-else".to_owned();
    let response = harness.authorize(&unknown_client.params()).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("invalid_client"));

    let mut wrong_redirect = AuthRequest::new(SIGN_IN);
    wrong_redirect.redirect_uri = format!("{REDIRECT_URI}/"); // one byte off
    let response = harness.authorize(&wrong_redirect.params()).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("redirect_uri_mismatch"));

    // The decision endpoint re-checks, so the form cannot be replayed elsewhere.
    let response = harness.decide(&wrong_redirect, &[("account", DEMO), ("decision", "approve")]).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn other_request_errors_redirect_back_with_invalid_request() {
    let harness = start().await;
    type Mutation = Box<dyn Fn(&mut Vec<(String, String)>)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "response_type=token",
            Box::new(|p| p.iter_mut().find(|(k, _)| k == "response_type").unwrap().1 = "token".into()),
        ),
        ("missing scope", Box::new(|p| p.retain(|(k, _)| k != "scope"))),
        (
            "plain PKCE",
            Box::new(|p| p.iter_mut().find(|(k, _)| k == "code_challenge_method").unwrap().1 = "plain".into()),
        ),
        ("challenge without method", Box::new(|p| p.retain(|(k, _)| k != "code_challenge_method"))),
        ("bad access_type", Box::new(|p| p.iter_mut().find(|(k, _)| k == "access_type").unwrap().1 = "forever".into())),
    ];
    for (case, mutate) in cases {
        let mut params = AuthRequest::new(SIGN_IN).params();
        mutate(&mut params);
        let response = harness.authorize(&params).await;
        assert_eq!(response.status(), 302, "{case}");
        let location = location_params(&response);
        assert_eq!(param(&location, "error"), Some("invalid_request"), "{case}");
        assert_eq!(param(&location, "state"), Some("state-123"), "{case}");
        assert!(param(&location, "error_description").is_some(), "{case}");
    }

    // A missing state is allowed.
    let mut params = AuthRequest::new(SIGN_IN).params();
    params.retain(|(k, _)| k != "state");
    assert_eq!(harness.authorize(&params).await.status(), 200);
}

#[tokio::test]
async fn login_hint_preselects_the_account() {
    let harness = start().await;
    let mut params = AuthRequest::new(SIGN_IN).params();
    params.push(("login_hint".into(), ALEX.into()));
    let html = harness.authorize(&params).await.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{ALEX}\" checked")));
    assert!(!html.contains(&format!("value=\"{DEMO}\" checked")));
}

#[tokio::test]
async fn codes_are_bound_to_their_client() {
    let harness = start().await;
    harness
        .control(
            "/_emulator/clients",
            json!({"client_id": "other", "client_secret": "other-secret", "redirect_uris": [REDIRECT_URI]}),
        )
        .await;
    let request = AuthRequest::new(SIGN_IN);
    let code = harness.approve(&request, DEMO).await;
    let response = harness
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", "other"),
            ("client_secret", "other-secret"),
            ("code_verifier", &request.pkce.as_ref().unwrap().verifier),
        ])
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn unknown_grant_types_and_repeated_parameters_are_refused() {
    let harness = start().await;
    let response =
        harness.token(&[("grant_type", "password"), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)]).await;
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
    let response = harness
        .token(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn expired_access_tokens_get_googles_401() {
    let harness =
        start_with(EmulatorConfig { access_token_ttl: std::time::Duration::from_secs(1), ..EmulatorConfig::default() })
            .await;
    let tokens = harness.tokens_for(DEMO, &scope_with_calendar()).await;
    assert_eq!(tokens["expires_in"], 1);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(harness.api_get(access, "/calendar/v3/users/me/calendarList").await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = harness.api_get(access, "/calendar/v3/users/me/calendarList").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(reason(&body), "authError");
    assert_eq!(body["error"]["errors"][0]["message"], "Invalid Credentials");
    assert_eq!(body["error"]["errors"][0]["location"], "Authorization");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Request had invalid authentication credentials."));
}

#[tokio::test]
async fn the_expire_control_endpoint_expires_one_accounts_tokens() {
    let harness = start().await;
    let demo = harness.access_token(DEMO, &scope_with_calendar()).await;
    let alex = harness.access_token(ALEX, &scope_with_calendar()).await;
    harness.control("/_emulator/tokens/expire", json!({"account": DEMO})).await;
    let list = "/calendar/v3/users/me/calendarList";
    assert_eq!(harness.api_get(&demo, list).await.status(), 401);
    assert_eq!(harness.api_get(&alex, list).await.status(), 200);
    assert_eq!(harness.api_get("ya29.made-up", list).await.status(), 401);
}

#[tokio::test]
async fn userinfo_reports_the_claims_the_scopes_cover() {
    let harness = start().await;
    let access = harness.access_token(DEMO, SIGN_IN).await;
    let response = harness.api_get(&access, "/v1/userinfo").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"sub": "100000000000000000001", "email": DEMO, "email_verified": true, "name": "Demo User"})
    );

    let openid_only = harness.access_token(ALEX, "openid").await;
    let claims: Value = harness.api_get(&openid_only, "/v1/userinfo").await.json().await.unwrap();
    assert_eq!(claims, json!({"sub": "100000000000000000002"}));

    let calendar_only = harness.access_token(ALEX, CALENDAR).await;
    assert_eq!(harness.api_get(&calendar_only, "/v1/userinfo").await.status(), 403);

    let bad = harness.api_get("ya29.nope", "/v1/userinfo").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(bad.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
}

#[tokio::test]
async fn discovery_points_every_endpoint_at_this_host() {
    let harness = start().await;
    let document: Value =
        harness.http.get(harness.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["issuer"], "https://accounts.google.com");
    for (field, path) in [
        ("authorization_endpoint", "/o/oauth2/v2/auth"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/v1/userinfo"),
        ("revocation_endpoint", "/revoke"),
        ("jwks_uri", "/oauth2/v3/certs"),
    ] {
        assert_eq!(document[field], harness.url(path), "{field}");
    }
}

#[tokio::test]
async fn prompt_none_needs_an_existing_sufficient_grant() {
    let harness = start().await;
    let mut request = AuthRequest::new(SIGN_IN);
    request.prompt = Some("none");
    let mut params = request.params();
    params.push(("login_hint".into(), DEMO.into()));
    let response = harness.authorize(&params).await;
    assert_eq!(param(&location_params(&response), "error"), Some("consent_required"));

    harness.tokens_for(DEMO, SIGN_IN).await;
    let response = harness.authorize(&params).await;
    assert!(param(&location_params(&response), "code").is_some());
}
