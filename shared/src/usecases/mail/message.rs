//! The RFC 5322 message of a [`MailRequest`], built by `lettre`'s message builder (no MIME by
//! hand): From the connected account, the recipients (Bcc kept in the message: Gmail reads it
//! to deliver, then strips it), a text/plain, text/html or multipart/alternative body, and the
//! threading headers. Encoded words and body encodings are lettre's.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::request::MailRequest;
use crate::errors::InputError;

/// Gmail's limit on a message, counted on its base64url encoding as sent in `raw`.
pub const MAX_ENCODED_BYTES: usize = 25 * 1024 * 1024;

/// The message's bytes, or `message_too_large` when Gmail would refuse its size.
pub fn build(from: Mailbox, request: &MailRequest) -> Result<Vec<u8>, InputError> {
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(from)
        .subject(request.subject.clone())
        .message_id(Some(format!("<{}@{domain}>", crate::crypto::random::token())))
        .keep_bcc();
    for to in &request.to {
        builder = builder.to(to.clone());
    }
    for cc in &request.cc {
        builder = builder.cc(cc.clone());
    }
    for bcc in &request.bcc {
        builder = builder.bcc(bcc.clone());
    }
    if let Some(reply_to) = &request.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    if let Some(id) = &request.in_reply_to {
        builder = builder.in_reply_to(id.clone());
    }
    if let Some(ids) = &request.references {
        builder = builder.references(ids.clone());
    }
    let built = match (&request.text, &request.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text.clone(), html.clone())),
        (Some(text), None) => builder.singlepart(SinglePart::plain(text.clone())),
        (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
        (None, None) => return Err(InputError::invalid_request("a message needs text, html or both")),
    };
    // The request is parsed already, so the builder has everything it needs; a refusal here
    // would be a missing From or recipient, which parsing excludes.
    let message = built.map_err(|_| InputError::invalid_request("the message could not be built"))?;
    let raw = message.formatted();
    if raw.len().div_ceil(3) * 4 > MAX_ENCODED_BYTES {
        return Err(InputError::new("message_too_large", "the message exceeds Gmail's 25 MB limit once encoded"));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usecases::mail::request::SendBody;

    fn request(body: SendBody) -> MailRequest {
        MailRequest::parse(&body).unwrap()
    }

    fn base() -> SendBody {
        SendBody {
            to: vec!["Ana <ana@example.com>".into()],
            bcc: vec!["audit@example.com".into()],
            subject: Some("Überweisung für März".into()),
            text: Some("Hallo".into()),
            html: Some("<p>Hallo</p>".into()),
            in_reply_to: Some("<prev@mail.example.com>".into()),
            references: Some("<first@mail.example.com> <prev@mail.example.com>".into()),
            ..SendBody::default()
        }
    }

    #[test]
    fn the_message_carries_every_header_and_both_bodies() {
        let from: Mailbox = "dr.lee@example.com".parse().unwrap();
        let raw = String::from_utf8(build(from, &request(base())).unwrap()).unwrap();
        let (head, _) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("From: dr.lee@example.com"), "{head}");
        assert!(head.contains("To: \"Ana\" <ana@example.com>") || head.contains("To: Ana <ana@example.com>"), "{head}");
        assert!(head.contains("Bcc: audit@example.com"), "Gmail needs Bcc in the message: {head}");
        assert!(head.contains("In-Reply-To: <prev@mail.example.com>"), "{head}");
        assert!(head.contains("References: <first@mail.example.com> <prev@mail.example.com>"), "{head}");
        assert!(head.contains("Subject: =?utf-8?"), "a non-ASCII subject is an encoded word: {head}");
        assert!(head.contains("@example.com>"), "Message-ID on the sender's domain: {head}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }

    #[test]
    fn an_oversized_message_is_refused() {
        let from: Mailbox = "dr.lee@example.com".parse().unwrap();
        let big = SendBody { html: None, text: Some("a".repeat(19 * 1024 * 1024)), ..base() };
        assert_eq!(build(from, &request(big)).unwrap_err().code, "message_too_large");
    }
}
