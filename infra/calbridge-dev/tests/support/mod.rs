//! Drives the local stack over real HTTP the way a browser and an app would: no redirects
//! followed automatically, the binding cookie carried by hand, consent given by posting the
//! emulator's consent form.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod zoom;

use std::collections::HashMap;

use calbridge_dev::RunningStack;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

pub struct Stack {
    pub stack: RunningStack,
    pub http: reqwest::Client,
    pub data_dir: std::path::PathBuf,
}

/// Starts the stack (embedded store, emulator) on free ports with a fresh data directory.
pub async fn start() -> Stack {
    start_with(&[]).await
}

/// [`start`] with extra configuration variables.
pub async fn start_with(extra: &[(&str, &str)]) -> Stack {
    let data_dir = std::env::temp_dir().join(format!("calbridge-e2e-{}", calbridge::crypto::random::token()));
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("LISTEN_ADDR", "127.0.0.1:0".to_owned()),
        ("EMULATOR_LISTEN_ADDR", "127.0.0.1:0".to_owned()),
        ("ZOOM_EMULATOR_LISTEN_ADDR", "127.0.0.1:0".to_owned()),
        ("LOCAL_DATA_DIR", data_dir.display().to_string()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let stack = calbridge_dev::start(|name| vars.get(name).cloned()).await.expect("the local stack starts");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Stack { stack, http, data_dir }
}

/// A flow that reached the emulator's consent page.
pub struct Consent {
    pub url: Url,
    pub cookie: String,
}

impl Consent {
    pub fn state(&self) -> String {
        self.url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned()
    }
}

impl Stack {
    pub fn base(&self) -> &str {
        &self.stack.base_url
    }

    pub fn emulator(&self) -> &str {
        self.stack.emulator_url.as_deref().unwrap()
    }

    pub fn token(&self, tenant: &str, user: &str) -> String {
        self.stack.token_for(tenant, user)
    }

    /// A token of the tenant's service (the app's backend).
    pub fn service(&self, tenant: &str) -> String {
        self.stack.service_token(tenant)
    }

    pub async fn authorize(&self, token: &str, body: Value) -> reqwest::Response {
        self.authorize_on("google", token, body).await
    }

    /// `POST /connections/{provider}/authorize` (`google`, `gmail`).
    pub async fn authorize_on(&self, provider: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/connections/{provider}/authorize", self.base()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// authorize -> launch (the confirmation page, then its "Continue"): returns the consent
    /// page URL and the browser-binding cookie.
    pub async fn begin(&self, token: &str) -> Consent {
        self.begin_on("google", token).await
    }

    /// [`Stack::begin`] on one of Google's kinds (`google`, `gmail`).
    pub async fn begin_on(&self, provider: &str, token: &str) -> Consent {
        let response = self.authorize_on(provider, token, serde_json::json!({})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let launch_url = response.json::<Value>().await.unwrap()["launch_url"].as_str().unwrap().to_owned();
        let page = self.http.get(&launch_url).header("accept", "text/html").send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let cookie = page.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
        let html = page.text().await.unwrap();
        let form_token =
            html.split_once("name=\"form_token\" value=\"").unwrap().1.split('"').next().unwrap().to_owned();
        let launch = self
            .http
            .post(&launch_url)
            .header("cookie", format!("__Host-calbridge-oauth={cookie}"))
            .form(&[("form_token", form_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(launch.status(), StatusCode::SEE_OTHER);
        let url = Url::parse(launch.headers()["location"].to_str().unwrap()).unwrap();
        assert!(url.as_str().starts_with(self.emulator()), "launch must go to the configured Google");
        let page = self.http.get(url.clone()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the emulator shows its consent page");
        Consent { url, cookie }
    }

    /// Posts the emulator's consent form; `scopes` = the ticked scopes (None: all).
    pub async fn decide(&self, consent: &Consent, account: &str, approve: bool, scopes: Option<&[&str]>) -> Url {
        let mut form: Vec<(String, String)> = consent.url.query_pairs().into_owned().collect();
        form.push(("account".into(), account.into()));
        form.push(("decision".into(), if approve { "approve" } else { "deny" }.into()));
        if let Some(scopes) = scopes {
            form.extend(scopes.iter().map(|s| ("scope_granted".to_owned(), (*s).to_owned())));
        }
        let response =
            self.http.post(format!("{}/o/oauth2/v2/auth/decision", self.emulator())).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{:?}", response.text().await);
        Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
    }

    pub async fn callback(&self, url: &Url, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url.clone()).header("accept", "text/html");
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("__Host-calbridge-oauth={cookie}"));
        }
        request.send().await.unwrap()
    }

    /// The whole flow for `account`, approving everything; returns the final redirect.
    pub async fn connect(&self, token: &str, account: &str) -> Url {
        self.connect_on("google", token, account).await
    }

    /// [`Stack::connect`] on one of Google's kinds (`google`, `gmail`).
    pub async fn connect_on(&self, provider: &str, token: &str, account: &str) -> Url {
        let consent = self.begin_on(provider, token).await;
        let callback = self.decide(&consent, account, true, None).await;
        let response = self.callback(&callback, Some(&consent.cookie)).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
    }

    pub async fn status(&self, token: &str) -> Value {
        self.status_on("google", token).await
    }

    pub async fn status_on(&self, provider: &str, token: &str) -> Value {
        let response =
            self.http.get(format!("{}/connections/{provider}", self.base())).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn disconnect(&self, token: &str) -> StatusCode {
        self.http
            .delete(format!("{}/connections/google", self.base()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Everything the emulator issued: codes, access and refresh tokens, revocations.
    pub async fn emulator_tokens(&self) -> Value {
        self.http.get(format!("{}/_emulator/tokens", self.emulator())).send().await.unwrap().json().await.unwrap()
    }

    /// Every secret value the emulator handed out (codes and tokens).
    pub async fn issued_secrets(&self) -> Vec<String> {
        let tokens = self.emulator_tokens().await;
        let mut secrets = Vec::new();
        for (list, field) in [("codes", "code"), ("access_tokens", "token"), ("refresh_tokens", "token")] {
            for item in tokens[list].as_array().unwrap() {
                secrets.push(item[field].as_str().unwrap().to_owned());
            }
        }
        assert!(!secrets.is_empty(), "the emulator issued nothing?");
        secrets
    }

    pub fn raw_store(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join(calbridge::app::EMBEDDED_STORE_FILE)).unwrap()
    }
}

pub fn outcome(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

impl Stack {
    /// The PKCE verifiers the emulator received at its token endpoint.
    pub async fn emulator_verifiers(&self) -> Vec<String> {
        let tokens = self.emulator_tokens().await;
        let verifiers: Vec<String> = tokens["codes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|code| code["code_verifier"].as_str().map(str::to_owned))
            .collect();
        assert!(!verifiers.is_empty(), "the emulator reports no PKCE verifier: {tokens}");
        verifiers
    }
}

impl Stack {
    /// POSTs JSON to an emulator control endpoint, asserting success.
    pub async fn control(&self, path: &str, body: Value) {
        let response =
            self.http.post(format!("{}/_emulator/{path}", self.emulator())).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.text().await.unwrap());
    }

    /// Calls counted at the emulator, by endpoint name.
    pub async fn calls(&self) -> Value {
        self.http.get(format!("{}/_emulator/calls", self.emulator())).send().await.unwrap().json().await.unwrap()
    }

    pub async fn call_count(&self, endpoint: &str) -> u64 {
        self.calls().await[endpoint].as_u64().unwrap_or(0)
    }

    /// An app API call with a bearer token.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base())).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}
