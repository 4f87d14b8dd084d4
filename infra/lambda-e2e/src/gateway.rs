//! The client's side of the API for the Runtime-API tests: requests as a browser or an app
//! sends them, responses as it receives them, and the JWT authorizer this test deployment
//! stands in for.
//!
//! Contract: what API Gateway does in between (the route taken, the payload-2.0 event, the
//! answer made an HTTP response) is the [`apigw`] emulation, the one `calbridge-dev` uses too.
//! This module only describes this deployment to it (account, API id, the documentation
//! address `203.0.113.10` as the client) and says which claims a verified token carries:
//! `sub`, the template's tenant claim, issuer, audience, and an hour of validity.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

use crate::template::Route;

/// The client address API Gateway reports for every request of these tests.
pub const CLIENT_IP: &str = "203.0.113.10";

/// The app user a verified JWT names.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    pub user: String,
    /// The token's `scope` claim, if any (`calbridge/service` for the app's service).
    pub scope: Option<String>,
}

/// An HTTP request as a browser or an app sends it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// `name=value` pairs the browser sends.
    pub cookies: Vec<String>,
    pub body: Option<String>,
    /// Who the bearer token says the caller is; `None` sends no token.
    pub caller: Option<Caller>,
}

impl ApiRequest {
    /// `target` is a path (`/calendars?x=1`) or a whole URL, whose host is ignored.
    pub fn new(method: &str, target: &str) -> Self {
        let path_and_query = match url::Url::parse(target) {
            Ok(url) => match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            },
            Err(_) => target.to_owned(),
        };
        let (path, query) = path_and_query.split_once('?').unwrap_or((&path_and_query, ""));
        Self {
            method: Method::from_bytes(method.to_uppercase().as_bytes())
                .unwrap_or_else(|_| panic!("{method} is not an HTTP method")),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: vec![("user-agent".into(), "calbridge-lambda-e2e".into())],
            cookies: Vec::new(),
            body: None,
            caller: None,
        }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }
    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }
    pub fn put(target: &str) -> Self {
        Self::new("PUT", target)
    }
    pub fn delete(target: &str) -> Self {
        Self::new("DELETE", target)
    }

    pub fn json(mut self, body: Value) -> Self {
        self.headers.push(("content-type".into(), "application/json".into()));
        self.body = Some(body.to_string());
        self
    }

    /// An HTML form's fields as the body (`application/x-www-form-urlencoded`).
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        self.body = Some(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_lowercase(), value.to_owned()));
        self
    }

    pub fn cookie(mut self, cookie: &str) -> Self {
        self.cookies.push(cookie.to_owned());
        self
    }

    pub fn as_caller(mut self, tenant: &str, user: &str) -> Self {
        self.caller = Some(Caller { tenant: tenant.to_owned(), user: user.to_owned(), scope: None });
        self.headers.push(("authorization".into(), "Bearer e2e.jwt.verified-by-the-authorizer".into()));
        self
    }

    /// As the tenant's service: a token with the default service scope.
    pub fn as_service(mut self, tenant: &str) -> Self {
        let scope = Some("calbridge/service".to_owned());
        self.caller = Some(Caller { tenant: tenant.to_owned(), user: "app-backend".to_owned(), scope });
        self.headers.push(("authorization".into(), "Bearer e2e.jwt.verified-by-the-authorizer".into()));
        self
    }
}

/// An HTTP response as the client receives it.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    pub body: String,
}

impl ApiResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_lowercase()).map(String::as_str)
    }

    pub fn location(&self) -> Option<url::Url> {
        self.header("location").and_then(|l| url::Url::parse(l).ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The value of cookie `name` set by this response.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find_map(|c| c.split(';').next()?.strip_prefix(name)?.strip_prefix('='))
    }
}

/// How the JWT authorizer is configured (the template's parameters).
#[derive(Debug, Clone)]
pub struct Authorizer {
    pub issuer: String,
    pub audience: String,
    pub tenant_claim: String,
}

impl Authorizer {
    /// The claims API Gateway passes on for a token it verified for `caller`.
    pub fn claims(&self, caller: &Caller) -> BTreeMap<String, String> {
        let now = jiff::Timestamp::now().as_second();
        let mut claims = BTreeMap::from([
            ("sub".to_owned(), caller.user.clone()),
            (self.tenant_claim.clone(), caller.tenant.clone()),
            ("iss".to_owned(), self.issuer.clone()),
            ("aud".to_owned(), self.audience.clone()),
            ("iat".to_owned(), now.to_string()),
            ("exp".to_owned(), (now + 3600).to_string()),
        ]);
        if let Some(scope) = &caller.scope {
            claims.insert("scope".to_owned(), scope.clone());
        }
        claims
    }
}

impl ApiRequest {
    /// The request as it reaches API Gateway: the cookies in one `Cookie` header, as a browser
    /// sends them, and the claims of the caller's token.
    pub fn to_gateway(&self, authorizer: &Authorizer) -> apigw::Request {
        let mut headers = HeaderMap::new();
        let cookie = (!self.cookies.is_empty()).then(|| ("cookie".to_owned(), self.cookies.join("; ")));
        for (name, value) in self.headers.iter().cloned().chain(cookie) {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|_| panic!("header name {name:?}"));
            let value = HeaderValue::from_str(&value).unwrap_or_else(|_| panic!("{name} value {value:?}"));
            headers.append(name, value);
        }
        apigw::Request {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers,
            body: self.body.clone().map(String::into_bytes),
            claims: self.caller.as_ref().map(|caller| authorizer.claims(caller)),
        }
    }
}

/// This test deployment's API, served at `domain`.
pub fn api(api_id: &str, domain: &str) -> apigw::Api {
    apigw::Api {
        account_id: crate::stack::ACCOUNT_ID.to_owned(),
        api_id: api_id.to_owned(),
        domain_name: domain.to_owned(),
        source_ip: CLIENT_IP.to_owned(),
        scheme: "https".to_owned(),
        port: 443,
    }
}

/// The event API Gateway delivers for `request` on `route` of API `api_id` served at `domain`.
pub fn api_gateway_event(
    route: &Route,
    path_parameters: &apigw::PathParameters,
    request: &ApiRequest,
    api_id: &str,
    domain: &str,
    authorizer: &Authorizer,
) -> Value {
    api(api_id, domain).event(route, path_parameters, &request.to_gateway(authorizer))
}

/// The HTTP response for a function's payload-2.0 answer.
pub fn http_response(answer: &Value) -> Result<ApiResponse, apigw::AnswerError> {
    apigw::http_response(answer).map(ApiResponse::from)
}

impl From<http::Response<Vec<u8>>> for ApiResponse {
    fn from(response: http::Response<Vec<u8>>) -> Self {
        let (parts, body) = response.into_parts();
        let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
        let mut headers = BTreeMap::new();
        for name in parts.headers.keys().filter(|n| *n != http::header::SET_COOKIE) {
            let values: Vec<String> = parts.headers.get_all(name).iter().map(text).collect();
            headers.insert(name.as_str().to_owned(), values.join(","));
        }
        let cookies = parts.headers.get_all(http::header::SET_COOKIE).iter().map(text).collect();
        Self { status: parts.status.as_u16(), headers, cookies, body: String::from_utf8_lossy(&body).into_owned() }
    }
}
