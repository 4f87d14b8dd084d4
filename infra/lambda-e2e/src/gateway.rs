//! What API Gateway (HTTP API, payload format 2.0) does between a client and a function:
//! a request becomes the event Lambda delivers (the shape of the samples in `events/`), with
//! the JWT authorizer's claims on routes that have it, and the function's answer becomes an
//! HTTP response (cookies from their own array, as `Set-Cookie`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::template::Route;

/// The app user a verified JWT names.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    pub user: String,
}

/// An HTTP request as a browser or an app sends it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
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
            method: method.to_uppercase(),
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

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_lowercase(), value.to_owned()));
        self
    }

    pub fn cookie(mut self, cookie: &str) -> Self {
        self.cookies.push(cookie.to_owned());
        self
    }

    pub fn as_caller(mut self, tenant: &str, user: &str) -> Self {
        self.caller = Some(Caller { tenant: tenant.to_owned(), user: user.to_owned() });
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

/// The event API Gateway delivers for `request` on `route` of API `api_id` served at `domain`.
pub fn api_gateway_event(
    route: &Route,
    path_parameters: &BTreeMap<String, String>,
    request: &ApiRequest,
    api_id: &str,
    domain: &str,
    authorizer: &Authorizer,
) -> Value {
    let now = jiff::Timestamp::now();
    let mut headers = Map::new();
    headers.insert("host".into(), domain.into());
    headers.insert("x-forwarded-for".into(), "203.0.113.10".into());
    headers.insert("x-forwarded-port".into(), "443".into());
    headers.insert("x-forwarded-proto".into(), "https".into());
    for (name, value) in &request.headers {
        // API Gateway joins repeated headers with commas.
        headers
            .entry(name.to_lowercase())
            .and_modify(|v| *v = Value::String(format!("{},{value}", v.as_str().unwrap_or_default())))
            .or_insert_with(|| Value::String(value.clone()));
    }
    let user_agent = headers.get("user-agent").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split('.').next().unwrap_or(domain),
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.10",
            "userAgent": user_agent,
        },
        "requestId": format!("e2e-{}", calbridge::crypto::random::token()),
        "routeKey": route.route_key(),
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.as_millisecond(),
    });
    if let (true, Some(caller)) = (route.jwt, &request.caller) {
        let mut claims = Map::new();
        claims.insert("sub".into(), caller.user.clone().into());
        claims.insert(authorizer.tenant_claim.clone(), caller.tenant.clone().into());
        claims.insert("iss".into(), authorizer.issuer.clone().into());
        claims.insert("aud".into(), authorizer.audience.clone().into());
        claims.insert("iat".into(), now.as_second().to_string().into());
        claims.insert("exp".into(), (now.as_second() + 3600).to_string().into());
        context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key(),
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !request.query.is_empty() {
        let mut parameters = Map::new();
        for (name, value) in url::form_urlencoded::parse(request.query.as_bytes()) {
            parameters
                .entry(name.into_owned())
                .and_modify(|v| *v = Value::String(format!("{},{value}", v.as_str().unwrap_or_default())))
                .or_insert_with(|| Value::String(value.into_owned()));
        }
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = json!(path_parameters);
    }
    if !request.cookies.is_empty() {
        event["cookies"] = json!(request.cookies);
    }
    if let Some(body) = &request.body {
        event["body"] = Value::String(body.clone());
    }
    event
}

/// The HTTP response for a function's payload-2.0 answer.
pub fn http_response(answer: &Value) -> Result<ApiResponse, String> {
    let status = answer["statusCode"].as_u64().ok_or_else(|| format!("no statusCode in {answer}"))? as u16;
    let mut headers = BTreeMap::new();
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        headers.insert(name.to_lowercase(), value.as_str().unwrap_or_default().to_owned());
    }
    for (name, values) in answer["multiValueHeaders"].as_object().into_iter().flatten() {
        let joined: Vec<&str> = values.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        headers.entry(name.to_lowercase()).or_insert_with(|| joined.join(","));
    }
    let cookies =
        answer["cookies"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    let body = match (answer["body"].as_str(), answer["isBase64Encoded"].as_bool()) {
        (Some(body), Some(true)) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| e.to_string())?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        (Some(body), _) => body.to_owned(),
        (None, _) => String::new(),
    };
    Ok(ApiResponse { status, headers, cookies, body })
}
