//! End-to-end: Zoom's deauthorization webhook over HTTP. A user connects Zoom through the local
//! stack and the Zoom emulator; the emulator sends a signed `endpoint.url_validation` (which
//! it checks) and a signed `app_deauthorized` to the stack's `/webhooks/zoom`; the connection
//! is gone without calbridge calling Zoom, and delivering the same signed request again is 401.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Stack, outcome, start};
use url::Url;

const DEMO_ZOOM_ID: &str = "EmuUserDemo0000000001a";
const DEMO_ZOOM_ACCOUNT: &str = "EmuAccount00000000001a";

fn zoom(s: &Stack) -> &str {
    s.stack.zoom_emulator_url.as_deref().expect("the stack started the Zoom emulator")
}

async fn zoom_status(s: &Stack, token: &str) -> Value {
    let response = s.http.get(format!("{}/connections/zoom", s.base())).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// authorize -> launch page -> its "Continue" -> the Zoom emulator's consent page; the
/// consent URL and the browser-binding cookie.
async fn begin_zoom(s: &Stack, token: &str) -> (Url, String) {
    let response = s
        .http
        .post(format!("{}/connections/zoom/authorize", s.base()))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let launch_url = response.json::<Value>().await.unwrap()["launch_url"].as_str().unwrap().to_owned();
    assert!(launch_url.ends_with("/connections/zoom/launch") || launch_url.contains("/connections/zoom/launch?"));
    let page = s.http.get(&launch_url).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let html = page.text().await.unwrap();
    let form_token = html.split_once("name=\"form_token\" value=\"").unwrap().1.split('"').next().unwrap().to_owned();
    let launch = s
        .http
        .post(&launch_url)
        .header("cookie", format!("__Host-calbridge-oauth={cookie}"))
        .form(&[("form_token", form_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(launch.status(), StatusCode::SEE_OTHER);
    let url = Url::parse(launch.headers()["location"].to_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(&format!("{}/oauth/authorize?", zoom(s))), "launch must go to Zoom: {url}");
    let query = outcome(&url);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("{}/connections/zoom/callback", s.base()));
    let page = s.http.get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the emulator shows its consent page");
    (url, cookie)
}

/// The whole connect flow for `account`, approving; the final redirect to the return URL.
async fn connect_zoom(s: &Stack, token: &str, account: &str) -> Url {
    let (consent, cookie) = begin_zoom(s, token).await;
    let mut form: Vec<(String, String)> = consent.query_pairs().into_owned().collect();
    form.push(("account".into(), account.into()));
    form.push(("decision".into(), "approve".into()));
    let decision = s.http.post(format!("{}/oauth/authorize/decision", zoom(s))).form(&form).send().await.unwrap();
    assert_eq!(decision.status(), StatusCode::FOUND);
    let callback = Url::parse(decision.headers()["location"].to_str().unwrap()).unwrap();
    assert!(callback.as_str().starts_with(&format!("{}/connections/zoom/callback?", s.base())), "{callback}");
    let response = s
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

async fn send_webhook(s: &Stack, kind: &str, body: Value) -> Value {
    let response = s.http.post(format!("{}/_emulator/webhooks/{kind}", zoom(s))).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{kind}: {}", response.status());
    response.json().await.unwrap()
}

#[tokio::test]
async fn zoom_deauthorization_webhook_erases_the_connection_once_over_http() {
    // given a running stack with the Zoom emulator, and an app user connected to Zoom
    let s = start().await;
    let token = s.token("demo-tenant", "demo-user");
    let done = connect_zoom(&s, &token, "demo@example.com").await;
    assert_eq!(outcome(&done)["status"], "connected");
    let status = zoom_status(&s, &token).await;
    assert_eq!(status["account_id"], DEMO_ZOOM_ID);
    assert_eq!(status["organisation_id"], DEMO_ZOOM_ACCOUNT, "{status}");
    let target = format!("{}/webhooks/zoom", s.base());

    // when Zoom validates the endpoint URL
    let validation = send_webhook(&s, "url_validation", json!({"target_url": target})).await;
    // then the emulator finds the answer valid
    assert_eq!(validation["valid"], true, "{validation}");

    // when the user removes the app at Zoom and Zoom sends the signed deauthorization
    let calls_before = s
        .http
        .get(format!("{}/_emulator/calls", zoom(&s)))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["calls"]
        .as_array()
        .unwrap()
        .len();
    let deauthorized = send_webhook(&s, "deauthorize", json!({"user": "demo@example.com", "target_url": target})).await;
    // then the stack answered 200, erased the connection, and called Zoom for nothing
    assert_eq!(deauthorized["delivery"]["status"], 200, "{deauthorized}");
    let answer: Value = serde_json::from_str(deauthorized["delivery"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({"erased": 1}));
    assert_eq!(zoom_status(&s, &token).await["status"], "not_connected");
    let calls =
        s.http.get(format!("{}/_emulator/calls", zoom(&s))).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(calls["calls"].as_array().unwrap().len(), calls_before, "no Zoom call: {calls}");

    // when the very same signed request is delivered again
    let request = &deauthorized["request"];
    let mut again = s.http.post(&target);
    for (name, value) in request["headers"].as_object().unwrap() {
        if name.starts_with("x-zm-") || name == "content-type" {
            again = again.header(name.as_str(), value.as_str().unwrap());
        }
    }
    let replay = again.body(request["body"].as_str().unwrap().to_owned()).send().await.unwrap();
    // then it is refused as a replay
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let error: Value = replay.json().await.unwrap();
    assert_eq!(error["error"]["code"], "replayed");
}
