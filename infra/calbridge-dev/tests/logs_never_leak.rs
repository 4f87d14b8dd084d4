//! The log output of whole connect flows (success, failures, disconnect) never contains a
//! token, authorization code, PKCE verifier, state, ticket, cookie or secret.
//!
//! This binary installs a global subscriber that captures every event and span field at TRACE
//! from calbridge and the libraries it drives (lambda_http, oauth2, reqwest, hyper, the AWS
//! SDK); only the emulator's own logs are excluded, since it plays Google.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use support::start;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_flow_logs_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,google_emulator=off"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let s = start().await;
    let token = s.token("t1", "u1");
    let mut flow_values = Vec::new();

    // A successful connect, keeping every bearer value the browser saw.
    let response = s.authorize(&token, serde_json::json!({})).await;
    let launch_url = response.json::<serde_json::Value>().await.unwrap()["launch_url"].as_str().unwrap().to_owned();
    flow_values.push(launch_url.split("ticket=").nth(1).unwrap().to_owned());
    let consent = s.begin(&token).await;
    flow_values.push(consent.state());
    flow_values.push(consent.cookie.clone());
    let callback = s.decide(&consent, "demo@example.com", true, None).await;
    assert_eq!(s.callback(&callback, Some(&consent.cookie)).await.status(), StatusCode::FOUND);

    // Failures log their causes: make sure those are clean too.
    let denied = s.begin(&token).await;
    flow_values.push(denied.state());
    let callback = s.decide(&denied, "demo@example.com", true, None).await;
    assert_eq!(s.callback(&callback, Some("wrong-cookie")).await.status(), StatusCode::BAD_REQUEST);
    let reused = s.begin(&token).await;
    let callback = s.decide(&reused, "demo@example.com", true, None).await;
    s.callback(&callback, Some(&reused.cookie)).await;
    s.callback(&callback, Some(&reused.cookie)).await;

    assert_eq!(s.status(&token).await["status"], "connected");
    assert_eq!(s.disconnect(&token).await, StatusCode::OK);

    let mut secrets = s.issued_secrets().await;
    secrets.extend(s.emulator_verifiers().await);
    secrets.extend(flow_values);
    secrets.push(calbridge_dev::EMULATOR_CLIENT_SECRET.to_owned());
    for file in ["state-signing.key", "dev-jwt.secret", "master.key"] {
        secrets.push(std::fs::read_to_string(s.data_dir.join(file)).unwrap().trim().to_owned());
    }
    secrets.push(token);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("google account connected"), "the capture saw the flow");
    assert!(logs.contains("grant revoked at google"));
    for secret in &secrets {
        assert!(secret.len() >= 16, "suspiciously short secret {secret:?}");
        assert!(!logs.contains(secret.as_str()), "a secret value appears in the logs:\n{secret}");
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert!(!logs.contains(&encoded), "a url-encoded secret appears in the logs");
    }
    s.stack.shutdown().await;
}
