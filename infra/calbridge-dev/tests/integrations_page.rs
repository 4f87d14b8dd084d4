//! End-to-end: the integrations page as the local stack serves it. Its files at the paths its
//! links name, its config a token that works and a return URL the API accepts, and the API's
//! own 404 for anything else. (The page itself runs in Chromium: infra/scripts/browser-tests.sh.)

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::start;

#[tokio::test]
async fn the_page_and_its_files_are_served_with_a_strict_policy() {
    let s = start().await;
    for path in ["/", "/integrations"] {
        let page = s.http.get(format!("{}{path}", s.base())).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
        assert!(page.text().await.unwrap().contains("data-config-url=\"config.json\""));
    }
    for (path, kind) in [
        ("/integrations.js", "text/javascript"),
        ("/integrations.css", "text/css"),
        ("/vendor/qrcode-generator/qrcode.mjs", "text/javascript"),
    ] {
        let file = s.http.get(format!("{}{path}", s.base())).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK, "{path}");
        assert!(file.headers()["content-type"].to_str().unwrap().starts_with(kind), "{path}");
    }
    // Paths that are neither the page's nor the API's still get API Gateway's answer.
    let other = s.http.get(format!("{}/integrations/../etc/passwd", s.base())).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let other = s.http.get(format!("{}/web/integrations.js", s.base())).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn the_config_token_works_and_its_return_url_is_allowed() {
    // given the config the served page reads
    let s = start().await;
    let response = s.http.get(format!("{}/config.json", s.base())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store", "a token must not be cached");
    let config: Value = response.json().await.unwrap();
    assert_eq!(config["providers"], json!(["google", "zoom", "gmail"]));
    assert_eq!(config["returnTo"], format!("{}/integrations", s.base()));
    let token = config["token"].as_str().unwrap();

    // then its token is the demo user's
    let status: Value = s
        .http
        .get(format!("{}/connections/google", s.base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status, json!({"provider": "google", "status": "not_connected"}));
    // and a connect flow may return to the page, with the page's account label
    let body = json!({"return_to": config["returnTo"], "account_label": config["accountLabel"]});
    let ticket = s.authorize(token, body).await;
    assert_eq!(ticket.status(), StatusCode::OK);
    // while the default return URL stays /_local/done (other tests and the README rely on it)
    let consent = s.begin(token).await;
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    let done = s.callback(&callback, Some(&consent.cookie)).await;
    assert!(done.headers()["location"].to_str().unwrap().starts_with(&format!("{}/_local/done?", s.base())));
    s.stack.shutdown().await;
}
