//! Signed webhooks as Zoom sends them, and the check of a target's answer to
//! `endpoint.url_validation`.
//!
//! Contract: a webhook body is compact JSON `{"event", "event_ts" (ms),
//! "payload"}` sent as `POST` with `content-type: application/json`,
//! `x-zm-request-timestamp: <unix seconds>` and
//! `x-zm-signature: v0=hex(HMAC-SHA256(secret_token, "v0:{timestamp}:{body}"))`,
//! where `secret_token` is the app's webhook Secret Token. The answer to
//! `endpoint.url_validation` (payload `{"plainToken"}`) must be 200 with JSON
//! `{"plainToken": <same>, "encryptedToken": hex(HMAC-SHA256(secret_token, plainToken))}`.
//! [`deliver`] posts a signed request to a target and reports what came back;
//! the request is also returned as data, so a test can send it itself.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// `v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`.
pub(crate) fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    format!("v0={}", hmac_hex(secret, &format!("v0:{timestamp}:{body}")))
}

/// The `encryptedToken` a target must answer for `plain_token`.
pub(crate) fn encrypted_token(secret: &str, plain_token: &str) -> String {
    hmac_hex(secret, plain_token)
}

/// A webhook request, signed and ready to send.
pub(crate) struct SignedWebhook {
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
}

impl SignedWebhook {
    pub fn new(secret: &str, event: &str, payload: Value, now: jiff::Timestamp) -> Self {
        let body = json!({"event": event, "event_ts": now.as_millisecond(), "payload": payload}).to_string();
        let timestamp = now.as_second();
        SignedWebhook { timestamp, signature: signature(secret, timestamp, &body), body }
    }

    pub fn describe(&self, target_url: Option<&str>) -> Value {
        json!({
            "method": "POST",
            "url": target_url,
            "headers": {
                "content-type": "application/json; charset=utf-8",
                "x-zm-request-timestamp": self.timestamp.to_string(),
                "x-zm-signature": self.signature,
                "user-agent": "Zoom Marketplace/1.1a",
            },
            "body": self.body,
        })
    }
}

/// What the target answered, or why nothing came back.
pub(crate) enum Delivery {
    Answered { status: u16, body: String },
    Failed(String),
}

impl Delivery {
    pub fn describe(&self) -> Value {
        match self {
            Delivery::Answered { status, body } => json!({"status": status, "body": body}),
            Delivery::Failed(error) => json!({"error": error}),
        }
    }
}

/// Posts `webhook` to `target_url` (10 s timeout, no redirects followed).
pub(crate) async fn deliver(target_url: &str, webhook: &SignedWebhook) -> Delivery {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(error) => return Delivery::Failed(error.to_string()),
    };
    let sent = client
        .post(target_url)
        .header("content-type", "application/json; charset=utf-8")
        .header("x-zm-request-timestamp", webhook.timestamp.to_string())
        .header("x-zm-signature", &webhook.signature)
        .header("user-agent", "Zoom Marketplace/1.1a")
        .body(webhook.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(body) => Delivery::Answered { status, body },
                Err(error) => Delivery::Failed(format!("reading the answer: {error}")),
            }
        }
        Err(error) => Delivery::Failed(error.to_string()),
    }
}

/// Problems with a target's answer to `endpoint.url_validation`; empty means valid.
pub(crate) fn check_url_validation_answer(delivery: &Delivery, plain_token: &str, expected: &str) -> Vec<String> {
    let (status, body) = match delivery {
        Delivery::Answered { status, body } => (*status, body),
        Delivery::Failed(error) => return vec![format!("no answer: {error}")],
    };
    let mut problems = Vec::new();
    if status != 200 {
        problems.push(format!("status {status}, expected 200"));
    }
    match serde_json::from_str::<Value>(body) {
        Ok(answer) => {
            if answer.get("plainToken").and_then(Value::as_str) != Some(plain_token) {
                problems.push("plainToken is not the one sent".to_owned());
            }
            if answer.get("encryptedToken").and_then(Value::as_str) != Some(expected) {
                problems.push("encryptedToken is not hex(HMAC-SHA256(secret token, plainToken))".to_owned());
            }
        }
        Err(_) => problems.push("the answer is not JSON".to_owned()),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signature("Jefe", 1, "{}").starts_with("v0="));
    }
}
