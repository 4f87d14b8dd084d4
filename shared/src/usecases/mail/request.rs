//! The body of `POST /messages/send`, parsed into a [`MailRequest`] that can only hold a
//! message calbridge is willing to send: every header field free of CR/LF and other controls,
//! every address a valid mailbox, recipients within [`MAX_PER_FIELD`] per field and
//! [`MAX_RECIPIENTS`] in all, a subject within RFC 5322's line limit, a text or an HTML body.
//!
//! Contract: every refusal is an [`InputError`] with a stable code (`invalid_header`,
//! `invalid_address`, `too_many_recipients`, `invalid_request`) and a message that names the
//! field, never its value (the value is the customer's data).

use std::str::FromStr;

use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::errors::InputError;

/// Recipients allowed in each of `to`, `cc` and `bcc`.
pub const MAX_PER_FIELD: usize = 50;
/// Recipients allowed in all.
pub const MAX_RECIPIENTS: usize = 100;
/// The longest subject, in bytes: RFC 5322's line limit.
pub const MAX_SUBJECT_BYTES: usize = 998;
/// The longest `in_reply_to` or `references`, in bytes.
pub const MAX_THREADING_BYTES: usize = 998 * 4;

/// The body as sent. Unknown fields are refused, so a typo (`"too"`) is not silently dropped.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub user_id: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    #[serde(default)]
    pub bcc: Vec<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub reply_to: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}

/// A message worth sending. `Serialize` is for its fingerprint only, never for storage or logs.
#[derive(Debug, Clone, Serialize)]
pub struct MailRequest {
    #[serde(serialize_with = "mailboxes")]
    pub to: Vec<Mailbox>,
    #[serde(serialize_with = "mailboxes")]
    pub cc: Vec<Mailbox>,
    #[serde(serialize_with = "mailboxes")]
    pub bcc: Vec<Mailbox>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    #[serde(serialize_with = "optional_mailbox")]
    pub reply_to: Option<Mailbox>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
}

fn mailboxes<S: serde::Serializer>(list: &[Mailbox], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(list.iter().map(ToString::to_string))
}

fn optional_mailbox<S: serde::Serializer>(mailbox: &Option<Mailbox>, serializer: S) -> Result<S::Ok, S::Error> {
    match mailbox {
        Some(mailbox) => serializer.serialize_some(&mailbox.to_string()),
        None => serializer.serialize_none(),
    }
}

impl MailRequest {
    pub fn recipients(&self) -> usize {
        self.to.len() + self.cc.len() + self.bcc.len()
    }

    /// Parses `body` (its `user_id` is the caller's question, not the message's).
    pub fn parse(body: &SendBody) -> Result<Self, InputError> {
        for (field, list) in [("to", &body.to), ("cc", &body.cc), ("bcc", &body.bcc)] {
            if list.len() > MAX_PER_FIELD {
                return Err(InputError::new(
                    "too_many_recipients",
                    format!("{field} may name at most {MAX_PER_FIELD} recipients"),
                ));
            }
        }
        let total = body.to.len() + body.cc.len() + body.bcc.len();
        if total > MAX_RECIPIENTS {
            return Err(InputError::new(
                "too_many_recipients",
                format!("a message may have at most {MAX_RECIPIENTS} recipients in all"),
            ));
        }
        if total == 0 {
            return Err(InputError::invalid_request("a message needs at least one recipient in to, cc or bcc"));
        }
        let subject = body.subject.clone().ok_or_else(|| InputError::invalid_request("subject is required"))?;
        header_text("subject", &subject)?;
        if subject.len() > MAX_SUBJECT_BYTES {
            return Err(InputError::invalid_request(format!("subject may be at most {MAX_SUBJECT_BYTES} bytes")));
        }
        if body.text.is_none() && body.html.is_none() {
            return Err(InputError::invalid_request("a message needs text, html or both"));
        }
        for (field, value) in [("text", &body.text), ("html", &body.html)] {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(InputError::invalid_request(format!("{field} may not contain NUL characters")));
            }
        }
        let list = |field: &'static str, raw: &[String]| -> Result<Vec<Mailbox>, InputError> {
            raw.iter().map(|a| mailbox(field, a)).collect()
        };
        Ok(Self {
            to: list("to", &body.to)?,
            cc: list("cc", &body.cc)?,
            bcc: list("bcc", &body.bcc)?,
            subject,
            text: body.text.clone(),
            html: body.html.clone(),
            reply_to: body.reply_to.as_deref().map(|raw| mailbox("reply_to", raw)).transpose()?,
            in_reply_to: body.in_reply_to.as_deref().map(|raw| message_ids("in_reply_to", raw)).transpose()?,
            references: body.references.as_deref().map(|raw| message_ids("references", raw)).transpose()?,
        })
    }
}

/// A header field's text: no CR, LF or other control character (the header-injection guard).
fn header_text(field: &str, value: &str) -> Result<(), InputError> {
    if value.chars().any(char::is_control) {
        return Err(InputError::new(
            "invalid_header",
            format!("{field} may not contain line breaks or control characters"),
        ));
    }
    Ok(())
}

/// `addr@example.com` or `Name <addr@example.com>`.
fn mailbox(field: &str, raw: &str) -> Result<Mailbox, InputError> {
    header_text(field, raw)?;
    let invalid = || InputError::new("invalid_address", format!("{field} holds an invalid email address"));
    let mailbox = Mailbox::from_str(raw.trim()).map_err(|_| invalid())?;
    // lettre accepts an address without a dot in its domain (`a@localhost`); mail leaves the
    // organisation, so a domain must be a dotted name.
    if !mailbox.email.domain().contains('.') || mailbox.email.domain().starts_with('[') {
        return Err(invalid());
    }
    Ok(mailbox)
}

/// One or more RFC 5322 message ids (`<id@host>`), separated by spaces.
fn message_ids(field: &str, raw: &str) -> Result<String, InputError> {
    header_text(field, raw)?;
    if raw.len() > MAX_THREADING_BYTES {
        return Err(InputError::invalid_request(format!("{field} may be at most {MAX_THREADING_BYTES} bytes")));
    }
    let ids: Vec<&str> = raw.split_ascii_whitespace().collect();
    let valid = |id: &&str| {
        id.strip_prefix('<').and_then(|rest| rest.strip_suffix('>')).is_some_and(|inner| {
            inner.split_once('@').is_some_and(|(left, right)| !left.is_empty() && !right.is_empty())
                && inner.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b))
        })
    };
    if ids.is_empty() || !ids.iter().all(valid) {
        return Err(InputError::new("invalid_header", format!("{field} must be message ids like <id@example.com>")));
    }
    Ok(ids.join(" "))
}

/// The `Idempotency-Key` header: 1-255 visible ASCII characters.
pub fn idempotency_key(raw: &str) -> Result<String, InputError> {
    if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InputError::new("invalid_header", "Idempotency-Key must be 1-255 visible ASCII characters"));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> SendBody {
        SendBody {
            to: vec!["Ana <ana@example.com>".into()],
            subject: Some("Your visit".into()),
            text: Some("See you\r\non Monday".into()),
            ..SendBody::default()
        }
    }

    fn code(body: SendBody) -> &'static str {
        MailRequest::parse(&body).unwrap_err().code
    }

    #[test]
    fn a_plain_message_parses_and_bodies_may_have_line_breaks() {
        let parsed = MailRequest::parse(&body()).unwrap();
        assert_eq!(parsed.to[0].email.to_string(), "ana@example.com");
        assert_eq!(parsed.recipients(), 1);
    }

    #[test]
    fn header_injection_is_refused_in_every_header_field() {
        for evil in ["x\r\nBcc: all@evil.example", "x\nBcc: all@evil.example", "x\rY", "a\u{0}b"] {
            assert_eq!(code(SendBody { subject: Some(evil.into()), ..body() }), "invalid_header", "{evil:?}");
            let address = format!("ana@example.com{evil}");
            assert_eq!(code(SendBody { to: vec![address.clone()], ..body() }), "invalid_header");
            assert_eq!(code(SendBody { reply_to: Some(address), ..body() }), "invalid_header");
            let id = format!("<a@b.example>{evil}");
            assert_eq!(code(SendBody { in_reply_to: Some(id.clone()), ..body() }), "invalid_header");
            assert_eq!(code(SendBody { references: Some(id), ..body() }), "invalid_header");
        }
    }

    #[test]
    fn invalid_addresses_are_refused() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@localhost",
            "ana@@example.com",
            "Ana <ana@example.com",
            "a b@example.com",
        ] {
            assert_eq!(code(SendBody { to: vec![bad.into()], ..body() }), "invalid_address", "{bad:?}");
        }
        assert_eq!(code(SendBody { cc: vec!["nope".into()], ..body() }), "invalid_address");
        assert_eq!(code(SendBody { bcc: vec!["nope".into()], ..body() }), "invalid_address");
    }

    #[test]
    fn recipients_are_bounded_per_field_and_in_all() {
        let many = |n: usize| (0..n).map(|i| format!("r{i}@example.com")).collect::<Vec<_>>();
        assert!(MailRequest::parse(&SendBody { to: many(50), cc: many(50), ..body() }).is_ok());
        assert_eq!(code(SendBody { to: many(51), ..body() }), "too_many_recipients");
        assert_eq!(code(SendBody { to: many(50), cc: many(50), bcc: many(1), ..body() }), "too_many_recipients");
        assert_eq!(code(SendBody { to: vec![], ..body() }), "invalid_request");
    }

    #[test]
    fn subject_and_bodies_are_checked() {
        assert_eq!(code(SendBody { subject: Some("s".repeat(999)), ..body() }), "invalid_request");
        assert!(MailRequest::parse(&SendBody { subject: Some("s".repeat(998)), ..body() }).is_ok());
        assert_eq!(code(SendBody { subject: None, ..body() }), "invalid_request");
        assert_eq!(code(SendBody { text: None, html: None, ..body() }), "invalid_request");
        assert!(MailRequest::parse(&SendBody { text: None, html: Some("<p>hi</p>".into()), ..body() }).is_ok());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255() {
        assert!(idempotency_key("order-42:confirmation").is_ok());
        assert!(idempotency_key(&"k".repeat(255)).is_ok());
        for bad in [String::new(), "k".repeat(256), "a b".into(), "ключ".into(), "a\tb".into()] {
            assert_eq!(idempotency_key(&bad).unwrap_err().code, "invalid_header", "{bad:?}");
        }
    }
}
