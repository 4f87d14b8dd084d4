//! Handler tests for auth-start, auth-callback and disconnect, driven by the sample events in
//! `events/` with fakes for Google and the clock, and the embedded store + local key.
//! Each test reads as given / when / then.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use calbridge::adapters::local_key::LocalKeyProvider;
use calbridge::crypto::vault::Vault;
use calbridge::handlers::{auth_start, disconnect};
use calbridge::ports::{Clock, ConnectionStore};
use jiff::{SignedDuration, Timestamp};
use support::*;
use url::Url;

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn app_routes_without_jwt_claims_are_401() {
    let h = harness();
    for (name, function) in
        [("auth-start/authorize.json", 0), ("disconnect/status.json", 1), ("disconnect/delete.json", 1)]
    {
        let mut unauthenticated = event(name);
        unauthenticated["requestContext"].as_object_mut().unwrap().remove("authorizer");
        let response = match function {
            0 => auth_start::handle(&h.app, request(&unauthenticated)).await,
            _ => disconnect::handle(&h.app, request(&unauthenticated)).await,
        };
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(error_code(&response), "unauthenticated");
    }
    // A claim set without the tenant claim is not an identity either.
    let mut no_tenant = event("disconnect/status.json");
    no_tenant["requestContext"]["authorizer"]["jwt"]["claims"].as_object_mut().unwrap().remove("tenant_id");
    assert_eq!(disconnect::handle(&h.app, request(&no_tenant)).await.status(), 401);
}

#[tokio::test]
async fn authorize_returns_a_launch_url_on_the_api_origin() {
    // given a signed-in app user
    let h = harness();
    // when the app asks to connect
    let response = auth_start::handle(&h.app, request(&event("auth-start/authorize.json"))).await;
    // then it gets a short-lived launch URL next to the callback
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let body = body_json(&response);
    let launch = Url::parse(body["launch_url"].as_str().unwrap()).unwrap();
    assert_eq!(launch.origin().ascii_serialization(), "https://api.calbridge.example");
    assert_eq!(launch.path(), "/connections/google/launch");
    let expires: Timestamp = body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires <= h.clock.now() + SignedDuration::from_mins(5));
    // and the defaults apply without a body
    let response = auth_start::handle(&h.app, request(&event("auth-start/authorize-no-body.json"))).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn authorize_refuses_return_to_tricks_and_bad_bodies() {
    let h = harness();
    for trick in [
        "//evil.example",
        "https://app.example.com.evil.example/integrations/google",
        "javascript:alert(document.cookie)",
        "https%3A%2F%2Fapp.example.com%2Fintegrations%2Fgoogle",
        "https://app.example.com/integrations/google/../../evil",
        "https://app.example.com@evil.example/integrations/google",
        "myapp://integrations/../evil",
    ] {
        let mut e = event("auth-start/authorize.json");
        e["body"] = serde_json::json!({ "return_to": trick }).to_string().into();
        let response = auth_start::handle(&h.app, request(&e)).await;
        assert_eq!(response.status(), 400, "{trick}");
        assert_eq!(error_code(&response), "invalid_return_to", "{trick}");
    }
    for (body, code) in [
        ("{not json", "invalid_request"),
        (r#"{"returnTo":"x"}"#, "invalid_request"),
        (r#"{"login_hint":"a\u0000b"}"#, "invalid_request"),
    ] {
        let mut e = event("auth-start/authorize.json");
        e["body"] = body.into();
        let response = auth_start::handle(&h.app, request(&e)).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(error_code(&response), code, "{body}");
    }
}

#[tokio::test]
async fn an_allow_list_entry_the_url_parser_normalises_still_completes_the_connect() {
    // given entries written with an upper-case host, an explicit default port and no path
    for (entry, requested) in [
        ("https://APP.example.com:443/integrations/google", Some("https://app.example.com/integrations/google")),
        ("https://APP.example.com:443/integrations/google", None),
        ("https://app.example.com", Some("https://app.example.com")),
        ("https://app.example.com", Some("https://app.example.com/")),
    ] {
        let mut h = harness();
        h.app.settings.allowed_return_to = calbridge::domain::AllowedReturnTo::parse(entry).unwrap();
        let mut e = event("auth-start/authorize.json");
        e["body"] = match requested {
            Some(url) => serde_json::json!({ "return_to": url }).to_string().into(),
            None => "".into(),
        };
        let response = auth_start::handle(&h.app, request(&e)).await;
        assert_eq!(response.status(), 200, "{entry} <- {requested:?}: {:?}", body_json(&response));
        let launch = Url::parse(body_json(&response)["launch_url"].as_str().unwrap()).unwrap();
        let ticket = launch.query_pairs().find(|(k, _)| k == "ticket").unwrap().1.into_owned();
        let started = h.launched(&ticket).await;
        let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));

        // when Google sends the browser back
        let response = h.finish(&started, &code).await;

        // then the connect completes (it used to fail here with invalid_state)
        let (_, outcome) = redirect_outcome(&response);
        assert_eq!(outcome["status"], "connected", "{entry} <- {requested:?}");
        assert!(h.stored(TENANT, USER).await);
    }
}

#[tokio::test]
async fn launch_shows_whose_app_account_is_connected_before_sending_the_browser_to_google() {
    // given a launch ticket
    let h = harness();
    let ticket = h.authorize_as(TENANT, USER).await;

    // when the browser opens the launch link
    let page = h.launch(&ticket).await;

    // then it gets a confirmation page naming the app account and the provider, not a redirect
    assert_eq!(page.status(), 200);
    assert!(header(&page, "location").is_none());
    assert_eq!(header(&page, "content-type"), Some("text/html; charset=utf-8"));
    let csp = header(&page, "content-security-policy").unwrap();
    for directive in ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self' https://accounts.google.com"]
    {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&page, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&page, "cache-control"), Some("no-store"));
    let html = String::from_utf8_lossy(page.body().as_ref()).into_owned();
    assert!(html.contains(USER) && html.contains("Continue to Google"), "{html}");
    assert!(!html.contains("<script"), "no script on the page");
    let cookie = header(&page, "set-cookie").unwrap();
    for attribute in ["__Host-calbridge-oauth=", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
    }
    assert!(!cookie.contains("Domain="), "__Host- cookies must not name a domain");
    // and the ticket is spent: the link works once
    let again = h.launch(&ticket).await;
    assert_eq!((again.status().as_u16(), header(&again, "location")), (400, None));

    // when the user continues, from the same browser
    let response = h.continue_on("google", &form_token(&page), Some(&binding_cookie(&page))).await;

    // then the browser goes to Google with PKCE and the same binding
    assert_eq!(response.status(), 303);
    assert_eq!(binding_cookie(&response), binding_cookie(&page));
    let google = Url::parse(header(&response, "location").unwrap()).unwrap();
    let query: HashMap<_, _> = google.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["login_hint"], "dr.lee@example.com");
    assert!(query["state"].starts_with("v1."));
    // and the form is single-use too
    let replay = h.continue_on("google", &form_token(&page), Some(&binding_cookie(&page))).await;
    assert_eq!(replay.status(), 400);
    assert!(String::from_utf8_lossy(replay.body().as_ref()).contains("invalid_ticket"));
}

#[tokio::test]
async fn the_app_account_label_is_shown_escaped_and_validated() {
    let h = harness();
    let mut e = event("auth-start/authorize.json");
    e["body"] =
        serde_json::json!({"account_label": "<script>alert(1)</script> ana@clinic.example \"x\""}).to_string().into();
    let response = auth_start::handle(&h.app, request(&e)).await;
    assert_eq!(response.status(), 200);
    let launch = Url::parse(body_json(&response)["launch_url"].as_str().unwrap()).unwrap();
    let ticket = launch.query_pairs().find(|(k, _)| k == "ticket").unwrap().1.into_owned();
    let html = String::from_utf8_lossy(h.launch(&ticket).await.body().as_ref()).into_owned();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; ana@clinic.example &quot;x&quot;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");

    let too_long = "x".repeat(201);
    for label in ["", "  ", "a\u{0}b", "line\nbreak", too_long.as_str()] {
        let mut e = event("auth-start/authorize.json");
        e["body"] = serde_json::json!({ "account_label": label }).to_string().into();
        let response = auth_start::handle(&h.app, request(&e)).await;
        assert_eq!(
            (response.status().as_u16(), error_code(&response)),
            (400, "invalid_request".to_owned()),
            "{label:?}"
        );
    }
}

#[tokio::test]
async fn a_forwarded_launch_page_cannot_be_continued_from_another_browser() {
    // given the attacker opened their own launch link and the victim opened another one
    let h = harness();
    let attacker_page = h.launch(&h.authorize_as(TENANT, "attacker").await).await;
    let victim_page = h.launch(&h.authorize_as(TENANT, USER).await).await;

    // when the attacker's form token is posted from the victim's browser (a cross-site form)
    let response = h.continue_on("google", &form_token(&attacker_page), Some(&binding_cookie(&victim_page))).await;
    // then it is refused, and the attacker's confirmation is burned
    assert_eq!(response.status(), 400);
    assert!(header(&response, "location").is_none());
    assert!(String::from_utf8_lossy(response.body().as_ref()).contains("browser_mismatch"));
    let retry = h.continue_on("google", &form_token(&attacker_page), Some(&binding_cookie(&attacker_page))).await;
    assert_eq!(retry.status(), 400);

    // and a form posted without the page's cookie (SameSite keeps it off cross-site posts) too
    let response = h.continue_on("google", &form_token(&victim_page), None).await;
    assert!(String::from_utf8_lossy(response.body().as_ref()).contains("browser_mismatch"));
    // while an incomplete form is refused as an incomplete link
    let response = h.continue_on("google", "", Some(&binding_cookie(&victim_page))).await;
    assert!(String::from_utf8_lossy(response.body().as_ref()).contains("invalid_ticket"));
    assert_eq!(h.google.exchanges.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_expired_ticket_or_confirmation_is_refused() {
    let h = harness();
    let ticket = h.authorize_as(TENANT, USER).await;
    h.clock.advance(SignedDuration::from_secs(5 * 60 + 1));
    let response = h.launch(&ticket).await;
    assert_eq!(response.status(), 400);
    // The sample launch event asks for HTML, as a browser does.
    assert!(header(&response, "content-type").unwrap().starts_with("text/html"));
    let missing = h.launch("").await;
    assert_eq!(missing.status(), 400);

    // A confirmation page left open past its lifetime
    let page = h.launch(&h.authorize_as(TENANT, USER).await).await;
    h.clock.advance(SignedDuration::from_secs(10 * 60 + 1));
    let response = h.continue_on("google", &form_token(&page), Some(&binding_cookie(&page))).await;
    assert_eq!(response.status(), 400);
    assert!(String::from_utf8_lossy(response.body().as_ref()).contains("invalid_ticket"));
}

#[tokio::test]
async fn full_connect_then_status_then_disconnect() {
    // given a user who approves every scope
    let h = harness();
    let response = h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    // then the browser returns to the app with status=connected and the cookie is cleared
    let (base, query) = redirect_outcome(&response);
    assert_eq!(base, RETURN_TO);
    assert_eq!(query["status"], "connected");
    assert!(header(&response, "set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(header(&response, "referrer-policy"), Some("no-referrer"));

    // and the status shows the account, without any token
    let status = h.status_as(TENANT, USER).await;
    assert_eq!(status["status"], "connected");
    assert_eq!(status["provider"], "google");
    assert_eq!(status["email"], "dr.lee@example.com");
    assert_eq!(status["google_account_id"], "1180000001");
    assert!(
        status["scopes"].as_array().unwrap().iter().any(|s| s == "https://www.googleapis.com/auth/calendar.events")
    );
    let text = status.to_string();
    for token in h.google.issued_tokens() {
        assert!(!text.contains(&token));
    }
    // and the stored record holds no plaintext token
    let raw = h.store.raw_connection_json(&owner(TENANT, USER)).unwrap();
    for token in h.google.issued_tokens() {
        assert!(!raw.contains(&token), "plaintext token in the stored record");
    }

    // when the user disconnects
    let response = disconnect::handle(&h.app, request(&event("disconnect/delete.json"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response), serde_json::json!({"disconnected": true, "revoked": true}));
    // then Google revoked the refresh token and nothing is stored
    assert_eq!(h.google.revoked().len(), 1);
    assert!(!h.stored(TENANT, USER).await);
    assert_eq!(h.status_as(TENANT, USER).await, serde_json::json!({"provider": "google", "status": "not_connected"}));
    // and disconnecting again is a no-op
    let response = disconnect::handle(&h.app, request(&event("disconnect/delete.json"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        body_json(&response),
        serde_json::json!({"disconnected": true, "revoked": false, "revoke_skipped_reason": "not_connected"})
    );
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn untrusted_states_are_refused_without_redirect_and_nothing_is_stored() {
    let h = harness();
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));
    let good_state = urlencode(&started.state);
    let forged = {
        let mut parts: Vec<String> = started.state.split('.').map(str::to_owned).collect();
        parts[1] = "A".repeat(43);
        urlencode(&parts.join("."))
    };
    for (query, cookie, expected) in [
        (format!("code={code}&state={forged}"), Some(started.cookie.as_str()), "invalid_state"),
        (format!("code={code}"), Some(started.cookie.as_str()), "invalid_state"),
        (format!("code={code}&state=v1.x.1.y"), Some(started.cookie.as_str()), "invalid_state"),
        // Another browser (no cookie, or its own cookie) burns the state...
        (format!("code={code}&state={good_state}"), Some("attacker-browser-cookie"), "browser_mismatch"),
        // ...so it cannot be replayed by the right browser either.
        (format!("code={code}&state={good_state}"), Some(started.cookie.as_str()), "invalid_state"),
    ] {
        let response = h.callback(&query, cookie).await;
        assert_eq!(response.status(), 400, "{query}");
        assert!(header(&response, "location").is_none(), "untrusted state must not redirect");
        assert!(body_json(&response).is_null() || error_code(&response) == expected);
        let html = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        assert!(html.contains(expected), "{expected} not in {html}");
    }
    assert!(!h.stored(TENANT, USER).await);
    assert_eq!(h.google.exchanges.load(Ordering::SeqCst), 0, "no code exchange for an untrusted state");
}

#[tokio::test]
async fn a_callback_repeating_state_code_error_or_iss_is_refused_and_burns_nothing() {
    // given a flow waiting at Google's consent page, and the code Google issued
    let h = harness();
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));
    let state = urlencode(&started.state);
    let iss = "iss=https%3A%2F%2Faccounts.google.com";
    for query in [
        format!("code={code}&state={state}&state={state}&{iss}"),
        format!("code={code}&state={state}&state=v1.x.1.y&{iss}"),
        format!("state=v1.x.1.y&code={code}&state={state}&{iss}"),
        format!("code={code}&code={code}&state={state}&{iss}"),
        format!("code={code}&code=4%2Fother&state={state}&{iss}"),
        format!("code={code}&state={state}&{iss}&iss=https%3A%2F%2Fevil.example"),
        format!("code={code}&state={state}&{iss}&{iss}"),
        format!("error=access_denied&error=access_denied&state={state}&{iss}"),
        format!("code={code}&error=x&error=y&state={state}&{iss}"),
    ] {
        // when the callback arrives with a parameter twice (HTML asked for)
        let mut e = with_cookie(with_query(event("auth-callback/callback.json"), &query), Some(&started.cookie));
        e["headers"]["accept"] = "text/html".into();
        let response = calbridge::handlers::auth_callback::handle(&h.app, request(&e)).await;
        // then it is refused with the browser error page, without redirecting
        assert_eq!(response.status(), 400, "{query}");
        assert!(header(&response, "location").is_none(), "{query}");
        let html = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        assert!(html.contains("invalid_callback"), "{query}: {html}");
        assert!(header(&response, "set-cookie").unwrap().contains("Max-Age=0"));
    }
    // and nothing was exchanged, stored or burned: the well-formed callback still connects
    assert_eq!(h.google.exchanges.load(Ordering::SeqCst), 0);
    assert!(!h.stored(TENANT, USER).await);
    assert_eq!(redirect_outcome(&h.finish(&started, &code).await).1["status"], "connected");
    // while parameters Google may add, repeated or not, are no reason to refuse
    let started = h.start_as(TENANT, "colleague").await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));
    let query =
        format!("code={code}&state={}&{iss}&authuser=0&prompt=consent&prompt=consent", urlencode(&started.state));
    assert_eq!(redirect_outcome(&h.callback(&query, Some(&started.cookie)).await).1["status"], "connected");
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let h = harness();
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));
    assert_eq!(redirect_outcome(&h.finish(&started, &code).await).1["status"], "connected");
    let replay = h.finish(&started, &code).await;
    assert_eq!(replay.status(), 400);
    assert!(header(&replay, "location").is_none());
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let h = harness();
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));
    h.clock.advance(SignedDuration::from_mins(16));
    let response = h.finish(&started, &code).await;
    assert_eq!(response.status(), 400);
    assert!(!h.stored(TENANT, USER).await);
}

#[tokio::test]
async fn trusted_failures_redirect_to_the_app_with_a_reason_and_store_nothing() {
    let h = harness();
    // Wrong issuer (mix-up attack).
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, true));
    let query = format!("code={code}&state={}&iss=https%3A%2F%2Fevil.example", urlencode(&started.state));
    assert_eq!(redirect_outcome(&h.callback(&query, Some(&started.cookie)).await).1["reason"], "invalid_issuer");

    // Denied consent.
    let started = h.start_as(TENANT, USER).await;
    let query = format!("error=access_denied&state={}", urlencode(&started.state));
    let (base, outcome) = redirect_outcome(&h.callback(&query, Some(&started.cookie)).await);
    assert_eq!(
        (base.as_str(), outcome["status"].as_str(), outcome["reason"].as_str()),
        (RETURN_TO, "error", "access_denied")
    );

    // A required scope unticked: refused, and the partial grant revoked.
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(
        &started.google_url,
        consent(
            "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events",
            true,
        ),
    );
    assert_eq!(redirect_outcome(&h.finish(&started, &code).await).1["reason"], "insufficient_scope");
    assert_eq!(h.google.revoked().len(), 1);

    // No refresh token on a first connection.
    let started = h.start_as(TENANT, USER).await;
    let code = h.google.approve(&started.google_url, consent(ALL_SCOPES, false));
    assert_eq!(redirect_outcome(&h.finish(&started, &code).await).1["reason"], "no_refresh_token");

    // A code injected from another flow fails PKCE.
    let victim = h.start_as(TENANT, USER).await;
    let attacker = h.start_as(TENANT, "attacker").await;
    let attacker_code = h.google.approve(&attacker.google_url, consent(ALL_SCOPES, true));
    assert_eq!(redirect_outcome(&h.finish(&victim, &attacker_code).await).1["reason"], "exchange_failed");

    assert!(!h.stored(TENANT, USER).await);
    assert!(!h.stored(TENANT, "attacker").await);
}

#[tokio::test]
async fn a_token_response_without_scope_grants_nothing() {
    // given Google's token response leaves out `scope` although every scope was approved
    let h = harness();
    h.google.omit_granted_scopes.store(true, Ordering::SeqCst);

    // when the user comes back from consent
    let response = h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;

    // then the connect fails as missing scopes, nothing is stored and the grant is revoked
    let (base, outcome) = redirect_outcome(&response);
    assert_eq!((base.as_str(), outcome["status"].as_str()), (RETURN_TO, "error"));
    assert_eq!(outcome["reason"], "insufficient_scope");
    assert!(!h.stored(TENANT, USER).await);
    assert_eq!(h.google.revoked().len(), 1);

    // and the same consent with `scope` reported connects
    h.google.omit_granted_scopes.store(false, Ordering::SeqCst);
    let response = h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    assert_eq!(redirect_outcome(&response).1["status"], "connected");
}

#[tokio::test]
async fn reconsent_without_refresh_token_keeps_the_stored_one() {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    let first = h.store.get_connection(&owner(TENANT, USER)).await.unwrap().unwrap();
    let original_refresh = calbridge::crypto::tokens::open(&h.app.vault, &owner(TENANT, USER), &first.sealed_tokens)
        .await
        .unwrap()
        .refresh_token;

    let response = h.connect_as(TENANT, USER, consent(ALL_SCOPES, false)).await;
    assert_eq!(redirect_outcome(&response).1["status"], "connected");
    let second = h.store.get_connection(&owner(TENANT, USER)).await.unwrap().unwrap();
    assert_eq!(second.version, first.version + 1);
    assert_eq!(second.connected_at, first.connected_at);
    let kept =
        calbridge::crypto::tokens::open(&h.app.vault, &owner(TENANT, USER), &second.sealed_tokens).await.unwrap();
    assert_eq!(kept.refresh_token.secret(), original_refresh.secret());
    assert_ne!(second.sealed_tokens, first.sealed_tokens, "a fresh data key and access token per write");
}

#[tokio::test]
async fn callers_only_ever_touch_their_own_connection() {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    // Same user id in another tenant, and another user in the same tenant, see nothing...
    for (tenant, user) in [("other-clinic", USER), (TENANT, "colleague")] {
        assert_eq!(h.status_as(tenant, user).await["status"], "not_connected");
        let delete = as_user(event("disconnect/delete.json"), tenant, user);
        assert_eq!(disconnect::handle(&h.app, request(&delete)).await.status(), 200);
    }
    // ...and could not delete it.
    assert!(h.stored(TENANT, USER).await);
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 0);
    // A user naming someone else is refused; a tenant in the query string is never read.
    let spoof = with_query(
        as_user(event("disconnect/status.json"), TENANT, "colleague"),
        &format!("user_id={USER}&tenant_id={TENANT}"),
    );
    let response = disconnect::handle(&h.app, request(&spoof)).await;
    assert_eq!((response.status().as_u16(), error_code(&response).as_str()), (403, "forbidden"));
    // The service names the user it acts for, in its own tenant only.
    let by_service = with_query(as_service(event("disconnect/status.json"), TENANT), &format!("user_id={USER}"));
    assert_eq!(body_json(&disconnect::handle(&h.app, request(&by_service)).await)["status"], "connected");
    let elsewhere = with_query(as_service(event("disconnect/status.json"), "other-clinic"), &format!("user_id={USER}"));
    assert_eq!(body_json(&disconnect::handle(&h.app, request(&elsewhere)).await)["status"], "not_connected");
    let unnamed = as_service(event("disconnect/status.json"), TENANT);
    assert_eq!(error_code(&disconnect::handle(&h.app, request(&unnamed)).await), "user_required");
}

#[tokio::test]
async fn a_sealed_blob_moved_to_another_users_row_does_not_open() {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    let mut stolen = h.store.get_connection(&owner(TENANT, USER)).await.unwrap().unwrap();
    stolen.key = owner(TENANT, "colleague");
    h.store.put_connection(&stolen, calbridge::ports::WriteCondition::Absent).await.unwrap();
    let fresh_vault = Vault::new(Arc::new(LocalKeyProvider::new([3u8; 32])));
    assert!(
        calbridge::crypto::tokens::open(&fresh_vault, &owner(TENANT, "colleague"), &stolen.sealed_tokens)
            .await
            .is_err()
    );
    assert!(
        calbridge::crypto::tokens::open(&h.app.vault, &owner(TENANT, "colleague"), &stolen.sealed_tokens)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn disconnect_deletes_even_when_google_revocation_fails() {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    h.google.fail_revocation.store(true, Ordering::SeqCst);
    let response = disconnect::handle(&h.app, request(&event("disconnect/delete.json"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        body_json(&response),
        serde_json::json!({"disconnected": true, "revoked": false, "revoke_skipped_reason": "revocation_failed"})
    );
    assert!(!h.stored(TENANT, USER).await);
}

async fn delete_as(h: &Harness, tenant: &str, user: &str) -> serde_json::Value {
    let response = disconnect::handle(&h.app, request(&as_user(event("disconnect/delete.json"), tenant, user))).await;
    assert_eq!(response.status(), 200, "{:?}", body_json(&response));
    body_json(&response)
}

fn consent_of(account: &str, scopes: &str) -> calbridge::fakes::FakeConsent {
    calbridge::fakes::FakeConsent {
        account: calbridge::ports::ProviderAccount {
            id: account.into(),
            email: Some(format!("{account}@example.com")),
            organisation_id: None,
        },
        ..consent(scopes, true)
    }
}

#[tokio::test]
async fn a_grant_shared_across_tenants_is_revoked_only_by_its_last_holder() {
    // given one Google account connected by a user of each of two tenants (same OAuth client)
    let h = harness();
    for (tenant, user) in [(TENANT, USER), ("other-clinic", "user-b")] {
        assert_eq!(
            redirect_outcome(&h.connect_as(tenant, user, consent_of("shared-1", ALL_SCOPES)).await).1["status"],
            "connected"
        );
    }

    // when the first disconnects
    let first = delete_as(&h, TENANT, USER).await;

    // then its connection is gone but the shared grant is not revoked, and the other still works
    assert_eq!(
        first,
        serde_json::json!({"disconnected": true, "revoked": false, "revoke_skipped_reason": "grant_shared"})
    );
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 0);
    assert!(!h.stored(TENANT, USER).await);
    assert_eq!(h.status_as("other-clinic", "user-b").await["status"], "connected");

    // when the last holder disconnects, the grant is revoked
    assert_eq!(
        delete_as(&h, "other-clinic", "user-b").await,
        serde_json::json!({"disconnected": true, "revoked": true})
    );
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn switching_accounts_revokes_the_old_grant_only_when_nobody_else_holds_it() {
    let h = harness();
    // given two users of one tenant on the same Google account
    h.connect_as(TENANT, USER, consent_of("shared-1", ALL_SCOPES)).await;
    h.connect_as(TENANT, "colleague", consent_of("shared-1", ALL_SCOPES)).await;

    // when one switches to another Google account
    let response = h.connect_as(TENANT, USER, consent_of("own-2", ALL_SCOPES)).await;

    // then the old, shared grant is kept
    assert_eq!(redirect_outcome(&response).1["status"], "connected");
    assert_eq!(h.stored_record(TENANT, USER).await.account_id, "own-2");
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 0);

    // when the other switches too, nobody holds the old account any more: it is revoked
    h.connect_as(TENANT, "colleague", consent_of("own-3", ALL_SCOPES)).await;
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refusing_a_scope_does_not_revoke_a_grant_another_connection_holds() {
    let h = harness();
    let partial =
        "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events";
    // given a colleague (another tenant) connected with Google account shared-1
    h.connect_as("other-clinic", "user-b", consent_of("shared-1", ALL_SCOPES)).await;

    // when a user consents with the same account but unticks a required scope
    let response = h.connect_as(TENANT, USER, consent_of("shared-1", partial)).await;

    // then the connect fails as missing scopes without revoking the colleague's grant
    assert_eq!(redirect_outcome(&response).1["reason"], "insufficient_scope");
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 0);
    assert_eq!(h.status_as("other-clinic", "user-b").await["status"], "connected");

    // and the user's own existing connection of the same account is kept the same way
    h.connect_as(TENANT, USER, consent_of("own-2", ALL_SCOPES)).await;
    let response = h.connect_as(TENANT, USER, consent_of("own-2", partial)).await;
    assert_eq!(redirect_outcome(&response).1["reason"], "insufficient_scope");
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 0);
    assert_eq!(h.stored_record(TENANT, USER).await.account_id, "own-2");

    // while a refused grant of an account nobody holds is revoked
    let response = h.connect_as(TENANT, "newcomer", consent_of("lonely-3", partial)).await;
    assert_eq!(redirect_outcome(&response).1["reason"], "insufficient_scope");
    assert_eq!(h.google.revocations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let h = harness();
    let mut e = event("disconnect/status.json");
    e["requestContext"]["http"]["method"] = "PUT".into();
    let response = disconnect::handle(&h.app, request(&e)).await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(&response), "not_found");
}
