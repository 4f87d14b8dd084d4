//! `POST /gmail/v1/users/me/messages/send` (see the module's contract).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use jiff::Timestamp;
use mail_parser::{Address, HeaderValue, MessageParser};
use serde_json::json;

use super::SentMail;
use crate::faults::{Endpoint, intercept};
use crate::google_errors::ApiError;
use crate::oauth::bearer_token;
use crate::oauth::scopes::grants_any;
use crate::server::ConnectionControl;
use crate::state::SharedEmulator;

/// Scopes (below `https://www.googleapis.com/auth/`) that allow sending.
const SEND_SCOPES: &[&str] = &["gmail.send", "gmail.compose", "gmail.modify"];
const FULL_MAIL_SCOPE: &str = "https://mail.google.com/";

/// base64url, padded or not.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(super) async fn send(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::GmailSend], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let response = match accept(&emulator, &headers, &body) {
        Ok(sent) => {
            axum::Json(json!({ "id": sent.id, "threadId": sent.thread_id, "labelIds": ["SENT"] })).into_response()
        }
        Err(error) => error.into_response(),
    };
    after.deliver(&connection, response).await
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalidArgument", message)
}

fn accept(emulator: &SharedEmulator, headers: &HeaderMap, body: &[u8]) -> Result<SentMail, ApiError> {
    let mut store = emulator.store();
    let caller = bearer_token(headers)
        .and_then(|token| store.authenticate(token, Timestamp::now()))
        .ok_or_else(ApiError::invalid_credentials)?;
    if !grants_any(&caller.scopes, SEND_SCOPES) && !caller.scopes.contains(FULL_MAIL_SCOPE) {
        return Err(ApiError::insufficient_scopes());
    }
    let resource: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| invalid("Invalid JSON payload received."))?;
    let Some(raw) = resource.get("raw").and_then(serde_json::Value::as_str).filter(|raw| !raw.is_empty()) else {
        return Err(invalid("'raw' RFC822 payload message string or uploading message via /upload/* URL required"));
    };
    let bytes = BASE64URL.decode(raw).map_err(|_| invalid("Invalid value for ByteString: raw is not base64url"))?;
    check_header_section(&bytes)?;
    let message = MessageParser::default().parse(&bytes).ok_or_else(|| invalid("Invalid RFC 5322 message"))?;
    let from = addresses(message.from());
    if from.len() != 1 || !from[0].eq_ignore_ascii_case(&caller.account) {
        return Err(invalid("Invalid From header: the message must be sent as the authenticated account"));
    }
    let (to, cc, bcc) = (addresses(message.to()), addresses(message.cc()), addresses(message.bcc()));
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(invalid("Recipient address required"));
    }
    if let Some(bad) = to.iter().chain(&cc).chain(&bcc).find(|a| !plausible_address(a)) {
        return Err(invalid(&format!("Invalid To header: {bad}")));
    }
    let mut in_reply_to = ids(message.in_reply_to());
    in_reply_to.extend(ids(message.references()));
    let thread_id = store
        .sent_mail
        .iter()
        .rev()
        .find(|sent| {
            sent.account == caller.account && sent.message_id.as_ref().is_some_and(|id| in_reply_to.contains(id))
        })
        .map(|sent| sent.thread_id.clone());
    let id = crate::random::gmail_id();
    let sent = SentMail {
        thread_id: thread_id.unwrap_or_else(|| id.clone()),
        id,
        account: caller.account.clone(),
        message_id: message.message_id().map(str::to_owned),
        from: from[0].clone(),
        to,
        cc,
        bcc,
        subject: message.subject().map(str::to_owned),
        in_reply_to,
        text: message.body_text(0).map(|t| t.into_owned()),
        html: message.body_html(0).filter(|_| message.html_body_count() > 0).map(|t| t.into_owned()),
        size: bytes.len(),
    };
    store.sent_mail.push(sent.clone());
    Ok(sent)
}

/// Header lines end in CRLF, no bare CR or LF, `Name: value` or folded continuations, and a
/// blank line ends the section.
fn check_header_section(bytes: &[u8]) -> Result<(), ApiError> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("Invalid RFC 5322 message: no end of headers"))?;
    let section = &bytes[..end + 2];
    for (lines, line) in section.split_inclusive(|b| *b == b'\n').enumerate() {
        let Some(content) = line.strip_suffix(b"\r\n") else {
            return Err(invalid("Invalid RFC 5322 message: a header line does not end in CRLF"));
        };
        if content.contains(&b'\r') || content.contains(&b'\n') {
            return Err(invalid("Invalid RFC 5322 message: bare CR or LF in a header"));
        }
        let folded = content.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if folded && lines == 0 {
            return Err(invalid("Invalid RFC 5322 message: the first header line is a continuation"));
        }
        if !folded {
            let Some(colon) = content.iter().position(|b| *b == b':') else {
                return Err(invalid("Invalid RFC 5322 message: a header line is not a field"));
            };
            let name = &content[..colon];
            if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
                return Err(invalid("Invalid RFC 5322 message: an invalid header field name"));
            }
        }
    }
    Ok(())
}

fn addresses(address: Option<&Address<'_>>) -> Vec<String> {
    address.map(|a| a.iter().filter_map(|addr| addr.address().map(str::to_owned)).collect()).unwrap_or_default()
}

fn plausible_address(address: &str) -> bool {
    address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !address.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    }
}
