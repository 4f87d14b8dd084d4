//! Providers are values: a route names one, a deployment offers some, and every step of a
//! connection stays bound to the provider it started with. Driven by the sample events in
//! `events/` rewritten for other providers, with a second fake OAuth server configured as a
//! second provider.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use calbridge::app::OAuthProvider;
use calbridge::domain::{Provider, ScopeSet};
use calbridge::fakes::{FakeConsent, FakeGoogle};
use calbridge::handlers::{auth_callback, auth_start, disconnect};
use serde_json::Value;
use support::*;
use url::Url;

/// `event` as API Gateway delivers it for `provider` instead of Google.
fn for_provider(mut event: Value, provider: &str) -> Value {
    let path = event["rawPath"].as_str().unwrap().replace("/connections/google", &format!("/connections/{provider}"));
    event["rawPath"] = path.clone().into();
    event["requestContext"]["http"]["path"] = path.into();
    event["pathParameters"]["provider"] = provider.into();
    event
}

/// The error code of a JSON error or of the HTML error page a browser gets.
fn code_of(response: &lambda_http::Response<lambda_http::Body>) -> String {
    let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    match body.split_once("Error code: ") {
        Some((_, rest)) => rest.split('<').next().unwrap_or_default().to_owned(),
        None => error_code(response),
    }
}

async fn call(h: &Harness, event: Value) -> lambda_http::Response<lambda_http::Body> {
    let path = event["rawPath"].as_str().unwrap().to_owned();
    if path.ends_with("/authorize") || path.ends_with("/launch") {
        auth_start::handle(&h.app, request(&event)).await
    } else if path.ends_with("/callback") {
        auth_callback::handle(&h.app, request(&event)).await
    } else {
        disconnect::handle(&h.app, request(&event)).await
    }
}

const CONNECTION_EVENTS: [&str; 6] = [
    "auth-start/authorize.json",
    "auth-start/launch.json",
    "auth-callback/callback.json",
    "disconnect/status.json",
    "disconnect/delete.json",
    "auth-start/authorize-no-body.json",
];

#[tokio::test]
async fn a_provider_the_deployment_does_not_offer_is_404_unknown_provider_on_every_route() {
    // Given a deployment that offers Google only
    let h = harness();
    for provider in ["zoom", "microsoft", "Google", "google%20"] {
        for name in CONNECTION_EVENTS {
            // When any connection route names another provider
            let response = call(&h, for_provider(event(name), provider)).await;
            // Then it is 404 unknown_provider, in the JSON envelope, and nothing is stored
            assert_eq!(response.status(), 404, "{provider} {name}");
            assert_eq!(code_of(&response), "unknown_provider", "{provider} {name}");
        }
    }
    assert!(!h.stored(TENANT, USER).await);
    // And Google itself still answers
    assert_eq!(h.status_as(TENANT, USER).await["status"], "not_connected");
}

/// The harness with a second provider, `zoom`, served by its own fake OAuth server.
fn two_providers() -> (Harness, Arc<FakeGoogle>) {
    let mut h = harness();
    let zoom = Arc::new(FakeGoogle::with_clock(h.clock.clone()));
    let google = h.app.oauth(Provider::Google).unwrap();
    let settings = OAuthProvider {
        client: zoom.clone(),
        launch_url: Url::parse("https://api.calbridge.example/connections/zoom/launch").unwrap(),
        required_scopes: ScopeSet::parse("meeting:write"),
        issuer: None,
        display_name: "Zoom",
        consent_origin: "https://zoom.us".to_owned(),
        grant_shared_with: vec![Provider::Zoom],
    };
    assert_ne!(google.launch_url, settings.launch_url);
    h.app.providers.insert(Provider::Zoom, settings);
    (h, zoom)
}

/// A Zoom consent started for the harness user and approved at the fake Zoom: (state,
/// binding cookie, code), ready for a callback.
async fn approved_zoom_consent(h: &Harness, zoom: &FakeGoogle) -> (String, String, String) {
    let ticket = zoom_ticket(h).await;
    let started = h.launched_on("zoom", &ticket).await;
    let granted = FakeConsent { granted_scopes: ScopeSet::parse("meeting:write"), ..consent("", true) };
    let code = zoom.approve(&started.google_url, granted);
    (started.state, started.cookie, code)
}

/// A launch ticket minted on Zoom's authorize route.
async fn zoom_ticket(h: &Harness) -> String {
    let response = call(h, as_user(for_provider(event("auth-start/authorize.json"), "zoom"), TENANT, USER)).await;
    assert_eq!(response.status(), 200);
    let launch = Url::parse(body_json(&response)["launch_url"].as_str().unwrap()).unwrap();
    assert_eq!(launch.path(), "/connections/zoom/launch");
    launch.query_pairs().find(|(k, _)| k == "ticket").unwrap().1.into_owned()
}

#[tokio::test]
async fn every_step_stays_bound_to_the_provider_it_started_with() {
    let (h, zoom) = two_providers();

    // Given a Zoom ticket, when it is launched on Google's route, then it is refused and burned
    let ticket = zoom_ticket(&h).await;
    assert_eq!(code_of(&h.launch(&ticket).await), "invalid_ticket");
    let on_zoom = with_query(for_provider(event("auth-start/launch.json"), "zoom"), &format!("ticket={ticket}"));
    assert_eq!(code_of(&call(&h, on_zoom).await), "invalid_ticket", "a refused ticket is spent");

    // Given a Zoom confirmation page, when its form is posted on Google's route, then it is
    // refused and burned
    let page = h.launch_on("zoom", &zoom_ticket(&h).await).await;
    let (token, cookie) = (form_token(&page), binding_cookie(&page));
    assert_eq!(code_of(&h.continue_on("google", &token, Some(&cookie)).await), "invalid_ticket");
    assert_eq!(code_of(&h.continue_on("zoom", &token, Some(&cookie)).await), "invalid_ticket");

    // Given an approved Zoom consent, when it comes back on Google's callback, then it is refused
    let (state, cookie, code) = approved_zoom_consent(&h, &zoom).await;
    let query = format!("code={}&state={}", urlencode(&code), urlencode(&state));
    assert_eq!(code_of(&h.callback(&query, Some(&cookie)).await), "invalid_state");
    assert!(!h.stored(TENANT, USER).await, "nothing was stored for Google");
    assert_eq!(zoom.exchanges.load(Ordering::SeqCst), 0, "no code was exchanged");

    // And a complete Zoom flow connects Zoom only, under its own key
    let (state, cookie, code) = approved_zoom_consent(&h, &zoom).await;
    let callback = with_cookie(
        with_query(
            for_provider(event("auth-callback/callback.json"), "zoom"),
            &format!("code={}&state={}", urlencode(&code), urlencode(&state)),
        ),
        Some(&cookie),
    );
    let (_, outcome) = redirect_outcome(&call(&h, callback).await);
    assert_eq!(outcome.get("status").map(String::as_str), Some("connected"), "{outcome:?}");
    let status =
        body_json(&call(&h, as_user(for_provider(event("disconnect/status.json"), "zoom"), TENANT, USER)).await);
    assert_eq!(status["provider"], "zoom");
    assert_eq!(status["status"], "connected");
    assert_eq!(status["account_id"], "1180000001");
    assert!(status.get("google_account_id").is_none(), "the Google alias is for Google only");
    assert_eq!(h.status_as(TENANT, USER).await["status"], "not_connected", "Google is untouched");
}
