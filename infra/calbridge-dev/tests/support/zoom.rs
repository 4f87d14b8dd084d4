//! Driving Zoom through the local stack: connect over HTTP against the Zoom emulator, and
//! the emulator's control endpoints.

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use calbridge::crypto::tokens;
use calbridge::domain::ConnectionKey;
use calbridge::ports::WriteCondition;

use super::{Stack, outcome};

impl Stack {
    pub fn zoom(&self) -> &str {
        self.stack.zoom_emulator_url.as_deref().expect("the stack started the Zoom emulator")
    }

    pub async fn zoom_status(&self, token: &str) -> Value {
        let response =
            self.http.get(format!("{}/connections/zoom", self.base())).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// authorize -> launch page -> its "Continue" -> the Zoom emulator's consent page; the
    /// consent URL and the browser-binding cookie.
    pub async fn begin_zoom(&self, token: &str, body: Value) -> (Url, String) {
        let response = self
            .http
            .post(format!("{}/connections/zoom/authorize", self.base()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let launch_url = response.json::<Value>().await.unwrap()["launch_url"].as_str().unwrap().to_owned();
        assert!(launch_url.ends_with("/connections/zoom/launch") || launch_url.contains("/connections/zoom/launch?"));
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
        assert!(
            url.as_str().starts_with(&format!("{}/oauth/authorize?", self.zoom())),
            "launch must go to Zoom: {url}"
        );
        let query = outcome(&url);
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["redirect_uri"], format!("{}/connections/zoom/callback", self.base()));
        let page = self.http.get(url.clone()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the emulator shows its consent page");
        (url, cookie)
    }

    /// The whole connect flow for `account`, approving; the final redirect to the return URL.
    pub async fn connect_zoom(&self, token: &str, account: &str) -> Url {
        self.connect_zoom_with(token, json!({}), account).await
    }

    /// [`Stack::connect_zoom`] with an authorize body (the service names `user_id`).
    pub async fn connect_zoom_with(&self, token: &str, body: Value, account: &str) -> Url {
        let (consent, cookie) = self.begin_zoom(token, body).await;
        let mut form: Vec<(String, String)> = consent.query_pairs().into_owned().collect();
        form.push(("account".into(), account.into()));
        form.push(("decision".into(), "approve".into()));
        let decision =
            self.http.post(format!("{}/oauth/authorize/decision", self.zoom())).form(&form).send().await.unwrap();
        assert_eq!(decision.status(), StatusCode::FOUND);
        let callback = Url::parse(decision.headers()["location"].to_str().unwrap()).unwrap();
        assert!(callback.as_str().starts_with(&format!("{}/connections/zoom/callback?", self.base())), "{callback}");
        let response = self
            .http
            .get(callback)
            .header("accept", "text/html")
            .header("cookie", format!("__Host-calbridge-oauth={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
    }

    pub async fn zoom_get(&self, path: &str) -> Value {
        self.http.get(format!("{}/_emulator/{path}", self.zoom())).send().await.unwrap().json().await.unwrap()
    }

    pub async fn zoom_post(&self, path: &str, body: Value) {
        let response = self.http.post(format!("{}/_emulator/{path}", self.zoom())).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.text().await.unwrap());
    }

    /// Makes the stored access token look expired to calbridge (as an hour passing would), with
    /// a versioned write as any writer makes.
    pub async fn expire_zoom_access_token(&self, owner: &ConnectionKey) {
        let app = self.stack.app();
        let record = app.connections.get_connection(owner).await.unwrap().expect("connected");
        let mut stored = tokens::open(&app.vault, owner, &record.sealed_tokens).await.unwrap();
        let past = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
        stored.access_token_expires_at = Some(past);
        let sealed = tokens::seal(&app.vault, owner, &stored).await.unwrap();
        let updated = calbridge::ports::ConnectionRecord {
            version: record.version + 1,
            access_token_expires_at: Some(past),
            sealed_tokens: sealed,
            ..record.clone()
        };
        app.connections.put_connection(&updated, WriteCondition::Version(record.version)).await.unwrap();
    }
}
