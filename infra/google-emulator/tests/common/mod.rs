//! Shared harness for the emulator's HTTP tests: start an emulator on port 0,
//! talk to it with a reqwest client that never follows redirects (a redirect is
//! the answer under test), and drive the OAuth flow the way calbridge does.

#![allow(dead_code)]

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use google_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "calbridge-local";
pub const CLIENT_SECRET: &str = "calbridge-local-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8787/connections/google/callback";
pub const DEMO: &str = "demo@example.com";
pub const ALEX: &str = "alex@example.com";
pub const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
pub const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
pub const CALENDAR_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
pub const FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";

pub struct Harness {
    pub emulator: RunningEmulator,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn start() -> Harness {
    start_with(EmulatorConfig::default()).await
}

pub async fn start_with(config: EmulatorConfig) -> Harness {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let emulator = RunningEmulator::start(config, addr).await.unwrap();
    let base = emulator.base_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    Harness { emulator, base, http }
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new(seed: &str) -> Self {
        let verifier = format!("{seed:-<64}").replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce { verifier, challenge }
    }
}

/// The parameters of an authorization request, as calbridge would send them.
pub struct AuthRequest {
    pub scope: String,
    pub pkce: Option<Pkce>,
    pub access_type: &'static str,
    pub prompt: Option<&'static str>,
    pub state: String,
    pub nonce: Option<String>,
    pub include_granted_scopes: bool,
    pub redirect_uri: String,
    pub client_id: String,
}

impl AuthRequest {
    pub fn new(scope: &str) -> Self {
        AuthRequest {
            scope: scope.to_owned(),
            pkce: Some(Pkce::new("verifier")),
            access_type: "offline",
            prompt: Some("consent"),
            state: "state-123".to_owned(),
            nonce: Some("nonce-456".to_owned()),
            include_granted_scopes: false,
            redirect_uri: REDIRECT_URI.to_owned(),
            client_id: CLIENT_ID.to_owned(),
        }
    }

    pub fn params(&self) -> Vec<(String, String)> {
        let mut params = vec![
            ("client_id".to_owned(), self.client_id.clone()),
            ("redirect_uri".to_owned(), self.redirect_uri.clone()),
            ("response_type".to_owned(), "code".to_owned()),
            ("scope".to_owned(), self.scope.clone()),
            ("state".to_owned(), self.state.clone()),
            ("access_type".to_owned(), self.access_type.to_owned()),
        ];
        if let Some(prompt) = self.prompt {
            params.push(("prompt".to_owned(), prompt.to_owned()));
        }
        if let Some(nonce) = &self.nonce {
            params.push(("nonce".to_owned(), nonce.clone()));
        }
        if let Some(pkce) = &self.pkce {
            params.push(("code_challenge".to_owned(), pkce.challenge.clone()));
            params.push(("code_challenge_method".to_owned(), "S256".to_owned()));
        }
        if self.include_granted_scopes {
            params.push(("include_granted_scopes".to_owned(), "true".to_owned()));
        }
        params
    }
}

/// Query parameters of a redirect's `Location`.
pub fn location_params(response: &reqwest::Response) -> Vec<(String, String)> {
    let location = response.headers().get("location").expect("a redirect").to_str().unwrap();
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn authorize(&self, params: &[(String, String)]) -> reqwest::Response {
        self.http.get(self.url("/o/oauth2/v2/auth")).query(params).send().await.unwrap()
    }

    /// Posts the consent form: the request's parameters plus `extra`.
    pub async fn decide(&self, request: &AuthRequest, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = request.params();
        form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.http.post(self.url("/o/oauth2/v2/auth/decision")).form(&form).send().await.unwrap()
    }

    /// Approves `request` as `account`, granting every requested scope; returns the code.
    pub async fn approve(&self, request: &AuthRequest, account: &str) -> String {
        let response = self.decide(request, &[("account", account), ("decision", "approve")]).await;
        assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
        let params = location_params(&response);
        assert_eq!(param(&params, "state"), Some(request.state.as_str()));
        param(&params, "code").expect("a code").to_owned()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(self.url("/token")).form(form).send().await.unwrap()
    }

    /// A refresh_token grant with body client authentication.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await
    }

    /// Exchanges a code with body client authentication.
    pub async fn exchange(&self, code: &str, verifier: Option<&str>) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.token(&form).await
    }

    /// The full flow for `account` with `scope`: the token response JSON.
    pub async fn tokens_for(&self, account: &str, scope: &str) -> Value {
        let request = AuthRequest::new(scope);
        let code = self.approve(&request, account).await;
        let response = self.exchange(&code, Some(&request.pkce.as_ref().unwrap().verifier)).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// An access token for `account` with `scope` granted.
    pub async fn access_token(&self, account: &str, scope: &str) -> String {
        self.tokens_for(account, scope).await["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    pub async fn control_get(&self, path: &str) -> Value {
        self.http.get(self.url(path)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn fault(&self, spec: Value) {
        self.control("/_emulator/faults", spec).await;
    }

    pub async fn calls(&self) -> Value {
        self.control_get("/_emulator/calls").await
    }

    pub async fn api_get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn api_send(&self, method: reqwest::Method, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http.request(method, self.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
    }
}

/// The `reason` of a Google API error body.
pub fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

pub fn no_body() -> Value {
    json!({})
}
