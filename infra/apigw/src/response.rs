//! What the client receives: the function's answer as API Gateway forwards it, or API
//! Gateway's own answer when no function runs.
//!
//! Contract: an answer with a `statusCode` is read as format 2.0 says: `headers` (a name
//! given there wins over the same name in `multiValueHeaders`, which some runtimes also
//! send), each `cookies` entry as one `Set-Cookie`, and `body`, base64-decoded when
//! `isBase64Encoded`. Any other JSON answer is, as API Gateway assumes, a 200
//! `application/json` response whose body is the answer itself. An answer API Gateway could
//! not use (a status out of range, a header it cannot send, bad base64) is an [`AnswerError`];
//! AWS would answer 500 there.

use base64::Engine as _;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, SET_COOKIE};
use http::{Response, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("statusCode {0} is not an HTTP status")]
    Status(Value),
    #[error("header {name:?}: {value} cannot be sent")]
    Header { name: String, value: Value },
    #[error("cookie {0} cannot be sent as Set-Cookie")]
    Cookie(Value),
    #[error("body {0} is not a string")]
    Body(Value),
    #[error("the body is marked isBase64Encoded but is not base64")]
    Base64(#[source] base64::DecodeError),
}

/// The HTTP response for a function's payload-2.0 answer.
pub fn http_response(answer: &Value) -> Result<Response<Vec<u8>>, AnswerError> {
    let Some(status) = answer.get("statusCode") else {
        let mut response = Response::new(answer.to_string().into_bytes());
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(response);
    };
    let status = status
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| AnswerError::Status(status.clone()))?;

    let body = match (&answer["body"], answer["isBase64Encoded"].as_bool().unwrap_or(false)) {
        (Value::Null, _) => Vec::new(),
        (Value::String(body), true) => {
            base64::engine::general_purpose::STANDARD.decode(body).map_err(AnswerError::Base64)?
        }
        (Value::String(body), false) => body.clone().into_bytes(),
        (other, _) => return Err(AnswerError::Body(other.clone())),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();

    let single = answer["headers"].as_object().into_iter().flatten();
    let multi = answer["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| answer["headers"].get(name.as_str()).is_none())
        .flat_map(|(name, values)| values.as_array().into_iter().flatten().map(move |v| (name, v)));
    for (name, value) in single.chain(multi) {
        let bad = || AnswerError::Header { name: name.clone(), value: value.clone() };
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => return Err(bad()),
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        headers.append(name, HeaderValue::from_str(&text).map_err(|_| bad())?);
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        let value = cookie.as_str().and_then(|c| HeaderValue::from_str(c).ok());
        headers.append(SET_COOKIE, value.ok_or_else(|| AnswerError::Cookie(cookie.clone()))?);
    }
    Ok(response)
}

/// API Gateway's own answers, sent without invoking a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// No route takes the request.
    NotFound,
    /// The route has the JWT authorizer and the request no acceptable token.
    Unauthorized,
    /// The body is larger than [`crate::MAX_BODY_BYTES`].
    TooLarge,
    /// The function failed or answered something unusable.
    Internal,
}

impl GatewayError {
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// API Gateway's wording, which differs from the status's reason phrase for 413.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotFound => "Not Found",
            Self::Unauthorized => "Unauthorized",
            Self::TooLarge => "Request Entity Too Large",
            Self::Internal => "Internal Server Error",
        }
    }

    /// `{"message": ...}` with its status, as API Gateway sends it.
    pub fn response(self) -> Response<Vec<u8>> {
        let mut response = Response::new(json!({ "message": self.message() }).to_string().into_bytes());
        *response.status_mut() = self.status();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(response: &Response<Vec<u8>>, name: &str) -> Vec<String> {
        response.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn answers_become_responses() {
        let answer = json!({
            "statusCode": 302,
            "headers": { "Location": "https://app.example.com/done", "content-type": "text/html", "x-count": 3 },
            "multiValueHeaders": { "content-type": ["ignored"], "vary": ["origin", "accept"] },
            "cookies": ["a=1; Path=/; HttpOnly", "b=2; Max-Age=0"],
            "body": "<p>moved</p>",
            "isBase64Encoded": false,
        });
        let response = http_response(&answer).unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(all(&response, "location"), ["https://app.example.com/done"]);
        assert_eq!(all(&response, "content-type"), ["text/html"]);
        assert_eq!(all(&response, "x-count"), ["3"]);
        assert_eq!(all(&response, "vary"), ["origin", "accept"]);
        assert_eq!(all(&response, "set-cookie"), ["a=1; Path=/; HttpOnly", "b=2; Max-Age=0"]);
        assert_eq!(response.body(), b"<p>moved</p>");
    }

    #[test]
    fn base64_bodies_are_decoded_and_missing_ones_empty() {
        let binary = http_response(&json!({"statusCode": 200, "body": "/wCA", "isBase64Encoded": true})).unwrap();
        assert_eq!(binary.body(), &[0xff, 0x00, 0x80]);
        let empty = http_response(&json!({"statusCode": 204})).unwrap();
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        assert!(empty.body().is_empty());
        assert!(empty.headers().is_empty());
    }

    #[test]
    fn an_answer_without_status_is_the_json_body_of_a_200() {
        for answer in [json!({"ok": true}), json!("hello"), json!([1, 2])] {
            let response = http_response(&answer).unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(all(&response, "content-type"), ["application/json"]);
            assert_eq!(response.body(), answer.to_string().as_bytes());
        }
    }

    #[test]
    fn unusable_answers_are_errors() {
        let cases = [
            json!({"statusCode": "200"}),
            json!({"statusCode": 99}),
            json!({"statusCode": 70000}),
            json!({"statusCode": 200, "headers": {"bad name": "x"}}),
            json!({"statusCode": 200, "headers": {"x": "line\nbreak"}}),
            json!({"statusCode": 200, "headers": {"x": {"nested": 1}}}),
            json!({"statusCode": 200, "cookies": [7]}),
            json!({"statusCode": 200, "body": {"not": "a string"}}),
            json!({"statusCode": 200, "body": "not base64!", "isBase64Encoded": true}),
        ];
        for answer in cases {
            assert!(http_response(&answer).is_err(), "{answer}");
        }
    }

    #[test]
    fn gateway_errors_carry_api_gateway_wording() {
        let response = GatewayError::TooLarge.response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.body(), br#"{"message":"Request Entity Too Large"}"#);
        assert_eq!(GatewayError::Unauthorized.response().body(), br#"{"message":"Unauthorized"}"#);
        assert_eq!(GatewayError::NotFound.status(), StatusCode::NOT_FOUND);
    }
}
