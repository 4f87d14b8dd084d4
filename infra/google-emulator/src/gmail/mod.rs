//! Gmail v1's `users.messages.send` under `/gmail/v1`, and what it sent, for tests.
//!
//! Contract: `POST /gmail/v1/users/me/messages/send` needs a live Bearer access token (else
//! 401 in Google's shape) carrying `gmail.send` (or the broader `gmail.compose`,
//! `gmail.modify`, `https://mail.google.com/`; else 403 `insufficientPermissions`). The body
//! is a JSON message resource whose `raw` is the whole RFC 5322 message, base64url-encoded as
//! Gmail's reference says (the URL-safe alphabet; padding optional, as Google's decoders
//! accept both): a standard-alphabet `+` or `/`, or anything else that does not decode, is
//! 400 `invalidArgument`, and so is a missing `raw`. The message is parsed strictly: header
//! lines end in CRLF (a bare CR or LF anywhere in the header section is refused), each is a
//! `Name: value` field or a folded continuation, there is a blank line before the body; it
//! must parse as a message (`mail-parser`), its From must be the token's own account (Gmail
//! sends only as the account or its verified aliases) and it must name at least one
//! recipient in To, Cc or Bcc, each a valid address. Accepted messages answer
//! `{"id","threadId","labelIds":["SENT"]}`; a message whose In-Reply-To or References names
//! one sent earlier by the same account joins its thread. `GET /_emulator/gmail/sent` lists
//! what was sent (Bcc included), newest last; `POST /_emulator/gmail/sent/reset` forgets it.
//! Faults: endpoint `gmail_send` (a `respond` with 429/403 `rateLimitExceeded` or
//! `dailyLimitExceeded`, a 5xx, `timeout`, `drop`, and `apply_then_drop`, which records the
//! message and then closes the connection unanswered: a lost answer).

mod send;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::state::SharedEmulator;

/// One message the emulator sent.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct SentMail {
    pub id: String,
    #[serde(rename = "threadId")]
    pub thread_id: String,
    pub account: String,
    pub message_id: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub subject: Option<String>,
    pub in_reply_to: Vec<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Bytes of the decoded RFC 5322 message.
    pub size: usize,
}

pub(crate) fn routes() -> Router<SharedEmulator> {
    Router::new()
        .route("/gmail/v1/users/me/messages/send", post(send::send))
        .route("/_emulator/gmail/sent", get(sent))
        .route("/_emulator/gmail/sent/reset", post(reset_sent))
}

async fn sent(State(emulator): State<SharedEmulator>) -> Json<Value> {
    let store = emulator.store();
    Json(json!({ "messages": store.sent_mail }))
}

async fn reset_sent(State(emulator): State<SharedEmulator>) -> Json<Value> {
    emulator.store().sent_mail.clear();
    Json(json!({}))
}
