//! Gmail's `users.messages.send` over HTTPS, at `GOOGLE_GMAIL_API_URL`.
//!
//! The message goes as `{"raw": <base64url, unpadded>}` to `POST {api}/users/me/messages/send`
//! with the sender's bearer token. Failures are classified by whether the message may have
//! left ([`GmailError`]): Gmail's answers are refusals (nothing sent); a request that never
//! connected is not sent either; any other transport failure (a timeout, a dropped
//! connection after the request was written) is [`GmailError::OutcomeUnknown`]. Nothing of the
//! message, nor any response body, is logged or put into an error.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::AccessToken;
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use crate::metrics::GoogleApi;
use crate::ports::{GmailError, GmailSender, SentMessage};

pub struct GmailClient {
    api_url: Url,
    http: reqwest::Client,
}

impl GmailClient {
    pub fn new(api_url: Url, http: reqwest::Client) -> Self {
        Self { api_url, http }
    }

    fn send_url(&self) -> String {
        format!("{}/users/me/messages/send", self.api_url.as_str().trim_end_matches('/'))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendAnswer {
    id: String,
    thread_id: String,
}

#[async_trait]
impl GmailSender for GmailClient {
    #[tracing::instrument(skip_all, name = "gmail.send", fields(bytes = message.len()))]
    async fn send(&self, access_token: &AccessToken, message: &[u8]) -> Result<SentMessage, GmailError> {
        let body = serde_json::json!({ "raw": URL_SAFE_NO_PAD.encode(message) });
        let sent = self.http.post(self.send_url()).bearer_auth(access_token.secret()).json(&body).send().await;
        crate::metrics::google_answer(GoogleApi::GmailSend, sent.as_ref().ok().map(|r| r.status().as_u16()));
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_connect() => return Err(GmailError::Unavailable(Box::new(e.without_url()))),
            Err(e) => return Err(GmailError::OutcomeUnknown(Box::new(e.without_url()))),
        };
        let status = response.status();
        if status.is_success() {
            // Gmail answered that it sent: an unreadable answer does not make it unsent.
            return response
                .json::<SendAnswer>()
                .await
                .map(|a| SentMessage { id: a.id, thread_id: a.thread_id })
                .map_err(|e| GmailError::OutcomeUnknown(Box::new(e.without_url())));
        }
        Err(classify(response).await)
    }
}

/// A refusal, by status and Google's `error.errors[0].reason`.
async fn classify(response: reqwest::Response) -> GmailError {
    let super::Refusal { status, retry_after, reason } = super::Refusal::read(response).await;
    match (status, reason.as_str()) {
        (StatusCode::UNAUTHORIZED, _) => GmailError::Unauthorized,
        (StatusCode::TOO_MANY_REQUESTS, reason) => {
            GmailError::RateLimited { retry_after, daily: reason == "dailyLimitExceeded" }
        }
        (StatusCode::FORBIDDEN, "rateLimitExceeded" | "userRateLimitExceeded") => {
            GmailError::RateLimited { retry_after, daily: false }
        }
        (StatusCode::FORBIDDEN, "dailyLimitExceeded") => GmailError::RateLimited { retry_after, daily: true },
        (StatusCode::FORBIDDEN, _) => GmailError::Forbidden,
        (s, _) if s.is_server_error() => GmailError::Unavailable(format!("gmail answered {s}").into()),
        (s, _) => GmailError::Rejected { status: s.as_u16() },
    }
}
