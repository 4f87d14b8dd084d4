//! The HTTP edge, in one place: who is calling, which route was asked for, how errors become
//! responses ([`response`], [`errors`]), and the headers every response carries.
//!
//! Caller identity comes only from the API Gateway JWT authorizer's claims in the request
//! context (`sub` = user, the configured claim = tenant, the service scope in `scope`/`scp` =
//! the app's backend); ids in bodies or query strings are never trusted for "who am I", only
//! for "whom the service acts for" ([`Principal::acting_for`]). Errors are answered as `{"error":{"code","message"}}` with a
//! stable snake_case code and a plain message; a 5xx never shows its cause to the client,
//! which instead goes to the log with its whole `source()` chain. Routes are matched on the
//! raw request path by [`router`], the same way for every function.
//!
//! Size limits, the same for every route: a JSON body of at most [`MAX_BODY_BYTES`] (else 413
//! `payload_too_large`, checked by [`json_body`] before parsing) and a query string of at most
//! [`MAX_QUERY_BYTES`] (else 400 `query_too_long`, checked by [`route`] before anything else).

mod errors;
pub mod response;
pub mod router;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::{Owner, Principal, TenantId, UserId, scopes_grant};

pub use crate::errors::ErrorChain;
pub use response::{
    ApiError, browser, browser_error, error_for, html_escape, json, no_content, redirect, see_other, wants_html,
};
pub use router::{PathParams, Route, route};

/// The largest request body any JSON route reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest query string any route reads (an OAuth callback's is well under 2 KiB).
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// Which claims name the caller: the tenant claim, and the scope that marks the app's service.
#[derive(Debug, Clone)]
pub struct Identity {
    pub tenant_claim: String,
    pub service_scope: String,
    /// A user id that names no person: the organisation's connection
    /// ([`crate::config::MeetConfig::organisation_user`]). A user token with this `sub` is
    /// refused, so nobody can act as the organisation; only the service reaches it.
    pub reserved_user: Option<UserId>,
}

/// The authenticated caller. A token without a parseable tenant is refused; one with the
/// service scope is the tenant's service, whatever its `sub`; any other needs a user `sub`.
pub fn caller(request: &Request, identity: &Identity) -> Result<Principal, ApiError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims)
        }
        _ => None,
    }
    .ok_or_else(ApiError::unauthenticated)?;
    let tenant = claims
        .get(identity.tenant_claim.as_str())
        .and_then(|s| TenantId::parse(s).ok())
        .ok_or_else(ApiError::unauthenticated)?;
    let scopes = ["scope", "scp"].into_iter().filter_map(|name| claims.get(name).map(String::as_str));
    if scopes_grant(scopes, &identity.service_scope) {
        let client = claims.get("client_id").or_else(|| claims.get("sub")).cloned().unwrap_or_default();
        return Ok(Principal::Service { tenant, client });
    }
    let user = claims.get("sub").and_then(|s| UserId::parse(s).ok()).ok_or_else(ApiError::unauthenticated)?;
    if identity.reserved_user.as_ref() == Some(&user) {
        return Err(ApiError::forbidden("this user id is reserved for the organisation's connection"));
    }
    Ok(Principal::User(Owner::new(tenant, user)))
}

/// The request path as the client sent it, without an API Gateway stage prefix.
pub fn path(request: &Request) -> &str {
    let raw = request.raw_http_path();
    if raw.is_empty() { request.uri().path() } else { raw }
}

/// One query parameter, percent-decoded (the first, if it is repeated).
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    query_values(request, name).next()
}

/// A query parameter that may appear at most once, percent-decoded: `Ok(None)` when absent,
/// [`RepeatedParam`] when it appears twice or more (whatever the values). For parameters whose
/// meaning a second copy could change (`?state=a&state=b`): which copy wins is a parser
/// disagreement waiting to happen, so neither does.
pub fn single_query_param(request: &Request, name: &str) -> Result<Option<String>, RepeatedParam> {
    let mut values = query_values(request, name);
    let first = values.next();
    if values.next().is_some() {
        return Err(RepeatedParam { name: name.to_owned() });
    }
    Ok(first)
}

/// A query parameter that must appear at most once appeared more often.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the query parameter {name:?} appears more than once")]
pub struct RepeatedParam {
    pub name: String,
}

/// A field of an `application/x-www-form-urlencoded` body that may appear at most once,
/// percent-decoded (see [`single_query_param`]).
pub fn form_field(request: &Request, name: &str) -> Result<Option<String>, RepeatedParam> {
    let body: &[u8] = request.body().as_ref();
    let mut values = url::form_urlencoded::parse(body).filter(|(key, _)| key == name).map(|(_, v)| v.into_owned());
    let first = values.next();
    if values.next().is_some() {
        return Err(RepeatedParam { name: name.to_owned() });
    }
    Ok(first)
}

fn query_values<'a>(request: &'a Request, name: &'a str) -> impl Iterator<Item = String> + 'a {
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .filter(move |(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// One cookie's value from the `Cookie` header(s).
pub fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Parses an optional JSON body; an empty body is `T::default()`. A body over
/// [`MAX_BODY_BYTES`] is refused unread.
pub fn json_body<T: serde::de::DeserializeOwned + Default>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body may be at most {} KiB", MAX_BODY_BYTES / 1024),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("request body is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_query(query: &str) -> Request {
        http::Request::builder()
            .uri(format!("https://api.example/connections/google/callback?{query}"))
            .body(lambda_http::Body::Empty)
            .unwrap()
    }

    #[test]
    fn single_query_param_refuses_any_repetition() {
        for (query, expected) in [
            ("state=a", Ok(Some("a".to_owned()))),
            ("code=x&state=a%2Bb", Ok(Some("a+b".to_owned()))),
            ("code=x", Ok(None)),
            ("", Ok(None)),
            ("state=", Ok(Some(String::new()))),
            ("state=a&state=b", Err(RepeatedParam { name: "state".into() })),
            ("state=a&state=a", Err(RepeatedParam { name: "state".into() })),
            ("state=a&code=x&state=", Err(RepeatedParam { name: "state".into() })),
            ("state&state=a", Err(RepeatedParam { name: "state".into() })),
            ("st%61te=a&state=b", Err(RepeatedParam { name: "state".into() })),
        ] {
            assert_eq!(single_query_param(&with_query(query), "state"), expected, "{query:?}");
        }
        // Other parameters may repeat freely.
        assert_eq!(single_query_param(&with_query("scope=a&scope=b&state=s"), "state"), Ok(Some("s".into())));
        assert_eq!(query_param(&with_query("state=a&state=b"), "state"), Some("a".into()));
    }
}
