//! The payload-2.0 event a function receives for one request.
//!
//! Contract: [`Api::event`] is the JSON Lambda would deliver for a [`Request`] that took a
//! route, in the shape of the samples in `events/`: `version`, `routeKey`, `rawPath`,
//! `rawQueryString`, `headers`, `requestContext` and `isBase64Encoded` always; `cookies`,
//! `queryStringParameters`, `pathParameters` and `body` only when there is something to put
//! in them, as API Gateway leaves them out. What differs between deployments (account, API
//! id, domain, client address, scheme) comes from [`Api`], never from a constant here.

use std::collections::BTreeMap;

use base64::Engine as _;
use http::{HeaderMap, Method};
use serde_json::{Map, Value, json};

use crate::route::{PathParameters, Route};

/// The largest request body API Gateway accepts (10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// One HTTP request as the client sent it to the API.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// As sent, still percent-encoded.
    pub path: String,
    /// As sent, without `?`; empty when there is none.
    pub query: String,
    /// As sent: names may repeat, and `Cookie` headers are among them.
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    /// The claims of the token the JWT authorizer accepted, as strings (API Gateway
    /// stringifies them). Ignored on routes without the authorizer, as API Gateway never
    /// runs it there.
    pub claims: Option<BTreeMap<String, String>>,
}

impl Request {
    /// The request an HTTP server received; an empty body is no body.
    pub fn from_parts(parts: &http::request::Parts, body: &[u8]) -> Self {
        Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            headers: parts.headers.clone(),
            body: (!body.is_empty()).then(|| body.to_vec()),
            claims: None,
        }
    }
}

/// The deployed HTTP API the events come from.
#[derive(Debug, Clone)]
pub struct Api {
    pub account_id: String,
    pub api_id: String,
    /// The host clients reach the API at, for requests that name none in `Host`.
    pub domain_name: String,
    /// The client's address (`sourceIp`, `x-forwarded-for`).
    pub source_ip: String,
    /// What clients connect with (`x-forwarded-proto`, `x-forwarded-port`): `https` and 443
    /// in AWS.
    pub scheme: String,
    pub port: u16,
}

impl Api {
    /// The event for `request`, which took `route` with `parameters`.
    pub fn event<T>(&self, route: &Route<T>, parameters: &PathParameters, request: &Request) -> Value {
        let (mut headers, cookies) = headers_and_cookies(&request.headers);
        let host = headers.entry("host").or_insert_with(|| self.domain_name.clone().into()).clone();
        let domain = host.as_str().unwrap_or(&self.domain_name).to_owned();
        let forwarded_for = match headers.get("x-forwarded-for").and_then(Value::as_str) {
            // API Gateway appends the address it saw to what the client claims.
            Some(claimed) => format!("{claimed}, {}", self.source_ip),
            None => self.source_ip.clone(),
        };
        headers.insert("x-forwarded-for".into(), forwarded_for.into());
        headers.insert("x-forwarded-port".into(), self.port.to_string().into());
        headers.insert("x-forwarded-proto".into(), self.scheme.clone().into());
        let user_agent = headers.get("user-agent").cloned().unwrap_or_else(|| "".into());

        let route_key = route.route_key();
        let now = jiff::Timestamp::now();
        let mut context = json!({
            "accountId": self.account_id,
            "apiId": self.api_id,
            "domainName": domain,
            "domainPrefix": domain_prefix(&domain),
            "http": {
                "method": request.method.as_str(),
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.as_millisecond(),
        });
        if let (true, Some(claims)) = (route.jwt, &request.claims) {
            context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
        }

        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": request.path,
            "rawQueryString": request.query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if let Some(parameters) = query_parameters(&request.query) {
            event["queryStringParameters"] = Value::Object(parameters);
        }
        if !parameters.is_empty() {
            event["pathParameters"] = json!(parameters);
        }
        if let Some(body) = &request.body {
            let (body, encoded) = match std::str::from_utf8(body) {
                Ok(text) => (text.to_owned(), false),
                Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
            };
            event["body"] = body.into();
            event["isBase64Encoded"] = encoded.into();
        }
        event
    }
}

/// Headers as the event carries them (lower-case names, repeats joined with commas) and the
/// cookies of every `Cookie` header, which API Gateway takes out of the headers.
fn headers_and_cookies(sent: &HeaderMap) -> (Map<String, Value>, Vec<String>) {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in sent {
        let value = String::from_utf8_lossy(value.as_bytes());
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
        } else {
            join(&mut headers, name.as_str(), &value);
        }
    }
    (headers, cookies)
}

/// Decoded query parameters, repeats joined with commas; `None` without a query.
fn query_parameters(query: &str) -> Option<Map<String, Value>> {
    let mut parameters = Map::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        join(&mut parameters, &name, &value);
    }
    (!parameters.is_empty()).then_some(parameters)
}

/// How format 2.0 folds a repeated name into one string.
fn join(map: &mut Map<String, Value>, name: &str, value: &str) {
    match map.get_mut(name) {
        Some(Value::String(joined)) => {
            joined.push(',');
            joined.push_str(value);
        }
        _ => {
            map.insert(name.to_owned(), value.into());
        }
    }
}

/// The first label of the host (`a1b2c3d4e5` of `a1b2c3d4e5.execute-api...`).
fn domain_prefix(domain: &str) -> &str {
    let host = domain.split(':').next().unwrap_or(domain);
    host.split('.').next().unwrap_or(host)
}

/// An id of API Gateway's shape: 11 random bytes in base64 (`JKJaXmPLvHcESHA=`).
fn request_id() -> String {
    let mut bytes = [0u8; 11];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{api, request};

    fn route(method: Method, path: &str, jwt: bool) -> Route<()> {
        Route::new(method, path, jwt, ()).unwrap()
    }

    #[test]
    fn repeated_query_parameters_are_joined_and_the_raw_query_kept() {
        let cases: &[(&str, Option<Value>)] = &[
            ("", None),
            ("a=1", Some(json!({"a": "1"}))),
            ("a=1&a=2&b=x", Some(json!({"a": "1,2", "b": "x"}))),
            ("a=1&b=&a=", Some(json!({"a": "1,", "b": ""}))),
            ("q=a%20b%2Cc&flag", Some(json!({"q": "a b,c", "flag": ""}))),
        ];
        for (query, expected) in cases {
            let sent = request(Method::GET, "/calendars", query, &[]);
            let event = api().event(&route(Method::GET, "/calendars", true), &Default::default(), &sent);
            assert_eq!(event["rawQueryString"], *query);
            assert_eq!(event.get("queryStringParameters"), expected.as_ref(), "{query}");
        }
    }

    #[test]
    fn headers_are_joined_and_cookies_taken_out_of_them() {
        let sent = request(
            Method::GET,
            "/connections/google/callback",
            "",
            &[
                ("Accept", "text/html"),
                ("X-Trace", "one"),
                ("x-trace", "two"),
                ("cookie", "calbridge_binding=abc; theme=dark"),
                ("Cookie", "  last=1 ;"),
                ("user-agent", "Browser/1"),
            ],
        );
        let event = api().event(&route(Method::GET, "/connections/google/callback", false), &Default::default(), &sent);
        assert_eq!(event["cookies"], json!(["calbridge_binding=abc", "theme=dark", "last=1"]));
        let headers = event["headers"].as_object().unwrap();
        assert_eq!(headers["accept"], "text/html");
        assert_eq!(headers["x-trace"], "one,two");
        assert!(!headers.contains_key("cookie"));
        assert_eq!(headers["host"], "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(headers["x-forwarded-for"], "203.0.113.10");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["x-forwarded-port"], "443");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "Browser/1");
        assert_eq!(event["requestContext"]["domainPrefix"], "a1b2c3d4e5");
    }

    #[test]
    fn the_host_the_client_named_is_the_domain() {
        let sent =
            request(Method::GET, "/calendars", "", &[("host", "127.0.0.1:8787"), ("x-forwarded-for", "10.0.0.1")]);
        let event = api().event(&route(Method::GET, "/calendars", true), &Default::default(), &sent);
        assert_eq!(event["requestContext"]["domainName"], "127.0.0.1:8787");
        assert_eq!(event["requestContext"]["domainPrefix"], "127");
        assert_eq!(event["headers"]["x-forwarded-for"], "10.0.0.1, 203.0.113.10");
        assert_eq!(event["requestContext"]["http"]["userAgent"], "");
    }

    #[test]
    fn bodies_are_text_or_base64() {
        // (body sent, `body` in the event, `isBase64Encoded`)
        type Case = (Option<&'static [u8]>, Option<&'static str>, bool);
        let cases: &[Case] = &[
            (None, None, false),
            (Some(b""), Some(""), false),
            (Some(b"{\"a\":1}"), Some("{\"a\":1}"), false),
            (Some("été".as_bytes()), Some("été"), false),
            (Some(&[0xff, 0x00, 0x80]), Some("/wCA"), true),
        ];
        for (body, expected, encoded) in cases {
            let mut sent = request(Method::POST, "/availability", "", &[]);
            sent.body = body.map(<[u8]>::to_vec);
            let event = api().event(&route(Method::POST, "/availability", true), &Default::default(), &sent);
            assert_eq!(event.get("body").and_then(Value::as_str), *expected, "{body:?}");
            assert_eq!(event["isBase64Encoded"], *encoded, "{body:?}");
        }
    }

    #[test]
    fn claims_reach_only_routes_with_the_authorizer() {
        let mut sent = request(Method::GET, "/connections/google", "", &[]);
        sent.claims = Some(BTreeMap::from([("sub".to_owned(), "u1".to_owned())]));
        let guarded = api().event(&route(Method::GET, "/connections/{provider}", true), &Default::default(), &sent);
        assert_eq!(guarded["requestContext"]["authorizer"]["jwt"]["claims"], json!({"sub": "u1"}));
        let open = api().event(&route(Method::GET, "/connections/{provider}", false), &Default::default(), &sent);
        assert!(open["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn the_context_names_the_route_the_stage_and_the_time() {
        let parameters = PathParameters::from([("id".to_owned(), "a/1".to_owned())]);
        let sent = request(Method::POST, "/appointments/a%2F1/sync", "", &[]);
        let event = api().event(&route(Method::POST, "/appointments/{id}/sync", true), &parameters, &sent);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /appointments/{id}/sync");
        assert_eq!(event["rawPath"], "/appointments/a%2F1/sync");
        assert_eq!(event["pathParameters"], json!({"id": "a/1"}));
        let context = &event["requestContext"];
        assert_eq!(context["routeKey"], event["routeKey"]);
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["accountId"], "123456789012");
        assert_eq!(context["apiId"], "a1b2c3d4e5");
        assert_eq!(context["http"]["method"], "POST");
        assert_eq!(context["http"]["sourceIp"], "203.0.113.10");
        let id = context["requestId"].as_str().unwrap();
        assert_eq!(id.len(), 16, "{id}");
        assert_ne!(
            id,
            api().event(&route(Method::POST, "/a", true), &parameters, &sent)["requestContext"]["requestId"]
        );
        let time = context["time"].as_str().unwrap();
        let parsed = jiff::fmt::strtime::parse("%d/%b/%Y:%H:%M:%S %z", time).unwrap().to_timestamp().unwrap();
        assert_eq!(parsed.as_second(), context["timeEpoch"].as_i64().unwrap() / 1000, "{time}");
    }
}
