//! Shared by the handler tests: the sample events of `events/`, a [`Harness`] around
//! `calbridge::fakes::test_app`, and the connect flow driven through the real handlers.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;

use calbridge::adapters::embedded_store::EmbeddedStore;
use calbridge::app::App;
use calbridge::domain::{ConnectionKey, ScopeSet, TenantId, UserId};
use calbridge::fakes::{FakeCalendar, FakeConsent, FakeGmail, FakeGoogle, ManualClock, test_app};
use calbridge::handlers::{auth_callback, auth_start, disconnect};
use calbridge::ports::{ConnectionStore, ProviderAccount};
use lambda_http::{Body, Response};
use serde_json::Value;
use std::sync::Arc;
use url::Url;

pub const RETURN_TO: &str = "https://app.example.com/integrations/google";
pub const TENANT: &str = "clinic-42";
pub const USER: &str = "user-7f3a";

pub struct Harness {
    pub app: App,
    pub google: Arc<FakeGoogle>,
    pub calendar: Arc<FakeCalendar>,
    pub clock: Arc<ManualClock>,
    pub store: EmbeddedStore,
    pub gmail: Arc<FakeGmail>,
}

pub fn harness() -> Harness {
    let t = test_app();
    Harness { app: t.app, google: t.google, calendar: t.calendar, clock: t.clock, store: t.store, gmail: t.gmail }
}

pub fn event(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub fn request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("sample events deserialise")
}

/// The event as sent by `user` of `tenant` (a token without the service scope).
pub fn as_user(mut event: Value, tenant: &str, user: &str) -> Value {
    let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["sub"] = user.into();
    claims["tenant_id"] = tenant.into();
    let claims = claims.as_object_mut().expect("sample events carry claims");
    claims.remove("scope");
    claims.remove("scp");
    claims.remove("client_id");
    event
}

/// As the tenant's service: a token with the service scope (its `sub` is the client).
pub fn as_service(mut event: Value, tenant: &str) -> Value {
    let claims = &mut event["requestContext"]["authorizer"]["jwt"]["claims"];
    claims["sub"] = "app-backend".into();
    claims["tenant_id"] = tenant.into();
    claims["scope"] = "calbridge/service".into();
    event
}

pub fn with_query(mut event: Value, query: &str) -> Value {
    event["rawQueryString"] = query.into();
    event
}

pub fn with_cookie(mut event: Value, cookie: Option<&str>) -> Value {
    match cookie {
        Some(value) => event["cookies"] = serde_json::json!([format!("__Host-calbridge-oauth={value}")]),
        None => {
            event.as_object_mut().unwrap().remove("cookies");
        }
    }
    event
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

pub fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn error_code(response: &Response<Body>) -> String {
    body_json(response)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

pub fn owner(tenant: &str, user: &str) -> ConnectionKey {
    ConnectionKey::new(
        TenantId::parse(tenant).unwrap(),
        UserId::parse(user).unwrap(),
        calbridge::domain::Provider::Google,
    )
}

pub fn consent(scopes: &str, refresh: bool) -> FakeConsent {
    FakeConsent {
        account: ProviderAccount {
            id: "1180000001".into(),
            email: Some("dr.lee@example.com".into()),
            organisation_id: None,
        },
        granted_scopes: ScopeSet::parse(scopes),
        issue_refresh_token: refresh,
    }
}

pub const GMAIL_SCOPES: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/gmail.send";

pub const ALL_SCOPES: &str = "openid https://www.googleapis.com/auth/userinfo.email \
    https://www.googleapis.com/auth/calendar.calendarlist.readonly \
    https://www.googleapis.com/auth/calendar.events.freebusy \
    https://www.googleapis.com/auth/calendar.events";

/// A flow that reached Google's consent page.
pub struct Started {
    pub google_url: Url,
    pub state: String,
    pub cookie: String,
}

impl Harness {
    pub async fn authorize_as(&self, tenant: &str, user: &str) -> String {
        let response =
            auth_start::handle(&self.app, request(&as_user(event("auth-start/authorize.json"), tenant, user))).await;
        assert_eq!(response.status(), 200, "{:?}", body_json(&response));
        let body = body_json(&response);
        let launch = Url::parse(body["launch_url"].as_str().unwrap()).unwrap();
        launch.query_pairs().find(|(k, _)| k == "ticket").unwrap().1.into_owned()
    }

    /// `GET /launch?ticket=` on Google's route: the confirmation page.
    pub async fn launch(&self, ticket: &str) -> Response<Body> {
        self.launch_on("google", ticket).await
    }

    pub async fn launch_on(&self, provider: &str, ticket: &str) -> Response<Body> {
        let launch = with_query(on_provider(event("auth-start/launch.json"), provider), &format!("ticket={ticket}"));
        auth_start::handle(&self.app, request(&launch)).await
    }

    /// The confirmation page's "Continue" (`POST /launch`), with `cookie` as the binding cookie.
    pub async fn continue_on(&self, provider: &str, form_token: &str, cookie: Option<&str>) -> Response<Body> {
        let mut post = with_cookie(on_provider(event("auth-start/launch-continue.json"), provider), cookie);
        post["body"] = format!("form_token={}", urlencode(form_token)).into();
        auth_start::handle(&self.app, request(&post)).await
    }

    pub async fn start_as(&self, tenant: &str, user: &str) -> Started {
        let ticket = self.authorize_as(tenant, user).await;
        self.launched(&ticket).await
    }

    /// Spends `ticket` at the launch route, continues on its confirmation page and follows
    /// it to Google's consent page.
    pub async fn launched(&self, ticket: &str) -> Started {
        self.launched_on("google", ticket).await
    }

    pub async fn launched_on(&self, provider: &str, ticket: &str) -> Started {
        let page = self.launch_on(provider, ticket).await;
        assert_eq!(page.status(), 200, "{}", String::from_utf8_lossy(page.body().as_ref()));
        let cookie = binding_cookie(&page);
        let response = self.continue_on(provider, &form_token(&page), Some(&cookie)).await;
        assert_eq!(response.status(), 303, "{}", String::from_utf8_lossy(response.body().as_ref()));
        let google_url = Url::parse(header(&response, "location").unwrap()).unwrap();
        let state = google_url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        assert_eq!(binding_cookie(&response), cookie, "the same browser binding goes on to the consent");
        Started { google_url, state, cookie }
    }

    pub async fn callback(&self, query: &str, cookie: Option<&str>) -> Response<Body> {
        let callback = with_cookie(with_query(event("auth-callback/callback.json"), query), cookie);
        auth_callback::handle(&self.app, request(&callback)).await
    }

    pub async fn finish(&self, started: &Started, code: &str) -> Response<Body> {
        let query = format!(
            "code={}&state={}&iss=https%3A%2F%2Faccounts.google.com",
            urlencode(code),
            urlencode(&started.state)
        );
        self.callback(&query, Some(&started.cookie)).await
    }

    pub async fn connect_as(&self, tenant: &str, user: &str, consent: FakeConsent) -> Response<Body> {
        let started = self.start_as(tenant, user).await;
        let code = self.google.approve(&started.google_url, consent);
        self.finish(&started, &code).await
    }

    pub async fn status_as(&self, tenant: &str, user: &str) -> Value {
        let response =
            disconnect::handle(&self.app, request(&as_user(event("disconnect/status.json"), tenant, user))).await;
        assert_eq!(response.status(), 200);
        body_json(&response)
    }

    /// Connects `TENANT`/`USER`'s Gmail through the real handlers with `scopes` granted; the
    /// redirect's outcome.
    pub async fn connect_gmail(&self, scopes: &str) -> HashMap<String, String> {
        let authorize = as_user(on_provider(event("auth-start/authorize.json"), "gmail"), TENANT, USER);
        let response = auth_start::handle(&self.app, request(&authorize)).await;
        assert_eq!(response.status(), 200, "{:?}", body_json(&response));
        let launch = Url::parse(body_json(&response)["launch_url"].as_str().unwrap()).unwrap();
        assert_eq!(launch.path(), "/connections/gmail/launch");
        let ticket = launch.query_pairs().find(|(k, _)| k == "ticket").unwrap().1.into_owned();
        let started = self.launched_on("gmail", &ticket).await;
        let code = self.google.approve(&started.google_url, consent(scopes, true));
        let query = format!(
            "code={}&state={}&iss=https%3A%2F%2Faccounts.google.com",
            urlencode(&code),
            urlencode(&started.state)
        );
        let callback = with_cookie(
            with_query(on_provider(event("auth-callback/callback.json"), "gmail"), &query),
            Some(&started.cookie),
        );
        redirect_outcome(&auth_callback::handle(&self.app, request(&callback)).await).1
    }

    pub async fn stored(&self, tenant: &str, user: &str) -> bool {
        self.store.get_connection(&owner(tenant, user)).await.unwrap().is_some()
    }
}

/// The event for `provider`'s route instead of Google's.
pub fn on_provider(mut event: Value, provider: &str) -> Value {
    for pointer in ["/rawPath", "/requestContext/http/path"] {
        if let Some(path) = event.pointer_mut(pointer) {
            *path = path.as_str().unwrap().replace("/google/", &format!("/{provider}/")).into();
        }
    }
    event["pathParameters"]["provider"] = provider.into();
    event
}

/// The form token in a launch confirmation page.
pub fn form_token(page: &Response<Body>) -> String {
    let html = String::from_utf8_lossy(page.body().as_ref()).into_owned();
    let (_, rest) = html.split_once("name=\"form_token\" value=\"").expect("the page has the form token");
    rest.split('"').next().unwrap().to_owned()
}

/// The value of the binding cookie a response sets.
pub fn binding_cookie(response: &Response<Body>) -> String {
    let set_cookie = header(response, "set-cookie").expect("the binding cookie is set");
    set_cookie.strip_prefix("__Host-calbridge-oauth=").unwrap().split(';').next().unwrap().to_owned()
}

pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub fn redirect_outcome(response: &Response<Body>) -> (String, HashMap<String, String>) {
    assert_eq!(response.status(), 302, "expected a redirect, got {:?}", response.body());
    let location = Url::parse(header(response, "location").unwrap()).unwrap();
    let base = format!("{}://{}{}", location.scheme(), location.host_str().unwrap_or(""), location.path());
    (base, location.query_pairs().into_owned().collect())
}

impl Harness {
    /// Moves the manual clock to `to` (RFC 3339).
    pub fn clock_to(&self, to: &str) {
        let to: jiff::Timestamp = to.parse().unwrap();
        self.clock.advance(to.duration_since(calbridge::ports::Clock::now(self.clock.as_ref())));
    }

    pub async fn stored_record(&self, tenant: &str, user: &str) -> calbridge::ports::ConnectionRecord {
        self.store.get_connection(&owner(tenant, user)).await.unwrap().unwrap()
    }
}
