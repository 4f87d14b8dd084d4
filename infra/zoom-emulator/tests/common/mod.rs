//! Shared harness for the emulator's HTTP tests: start an emulator on port 0,
//! talk to it with a reqwest client that never follows redirects (a redirect is
//! the answer under test), and drive the OAuth flow the way calbridge does.

#![allow(dead_code)]

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zoom_emulator::{EmulatorConfig, RunningEmulator};

pub const CLIENT_ID: &str = zoom_emulator::DEFAULT_CLIENT_ID;
pub const CLIENT_SECRET: &str = zoom_emulator::DEFAULT_CLIENT_SECRET;
pub const REDIRECT_URI: &str = zoom_emulator::DEFAULT_REDIRECT_URI;
pub const WEBHOOK_SECRET: &str = zoom_emulator::DEFAULT_WEBHOOK_SECRET_TOKEN;
pub const DEMO: &str = "demo@example.com";
pub const ALEX: &str = "alex@example.com";

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

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// Query parameters of a redirect's `Location`.
pub fn location_params(response: &reqwest::Response) -> Vec<(String, String)> {
    let location = response.headers().get("location").expect("a redirect").to_str().unwrap();
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// The authorization request calbridge sends.
pub fn authorize_params(pkce: &Pkce, state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".to_owned()),
        ("client_id", CLIENT_ID.to_owned()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("state", state.to_owned()),
        ("code_challenge", pkce.challenge.clone()),
        ("code_challenge_method", "S256".to_owned()),
    ]
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Approves (or denies) on the consent form, as a person would.
    pub async fn decide(&self, params: &[(&str, String)], account: &str, decision: &str) -> reqwest::Response {
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("account", account.to_owned()));
        form.push(("decision", decision.to_owned()));
        self.http.post(self.url("/oauth/authorize/decision")).form(&form).send().await.unwrap()
    }

    /// A fresh authorization code for `account`, with the PKCE pair used.
    pub async fn code(&self, account: &str) -> (String, Pkce) {
        let pkce = Pkce::new(&format!("verifier-{account}"));
        let response = self.decide(&authorize_params(&pkce, "s"), account, "approve").await;
        assert_eq!(response.status(), 302);
        let code = param(&location_params(&response), "code").expect("a code").to_owned();
        (code, pkce)
    }

    pub async fn token_request(&self, authorization: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.post(self.url("/oauth/token")).form(form);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        request.send().await.unwrap()
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> reqwest::Response {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ];
        self.token_request(Some(&basic(CLIENT_ID, CLIENT_SECRET)), &form).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        self.token_request(Some(&basic(CLIENT_ID, CLIENT_SECRET)), &form).await
    }

    /// The token response of a full consent + exchange for `account`.
    pub async fn tokens(&self, account: &str) -> Value {
        let (code, pkce) = self.code(account).await;
        let response = self.exchange(&code, &pkce.verifier).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn access_token(&self, account: &str) -> String {
        self.tokens(account).await["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(&format!("/v2{path}"))).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response =
            self.http.request(method, self.url(&format!("/_emulator{path}"))).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "control {path}: {}", response.status());
        response.json().await.unwrap()
    }

    pub async fn get_control(&self, path: &str) -> Value {
        self.http.get(self.url(&format!("/_emulator{path}"))).send().await.unwrap().json().await.unwrap()
    }

    pub async fn fault(&self, spec: Value) {
        self.control(reqwest::Method::POST, "/faults", spec).await;
    }
}

pub fn meeting_body() -> Value {
    json!({
        "topic": "Intro call",
        "type": 2,
        "start_time": "2030-01-01T09:00:00Z",
        "duration": 30,
        "timezone": "Europe/Berlin",
        "settings": {"waiting_room": true, "join_before_host": false},
    })
}
