//! The stand-in for API Gateway (HTTP API, payload format 2.0) in front of the functions.
//!
//! Each HTTP request is matched against the route table of `template.yaml`, authorized like
//! the JWT authorizer would on the routes that have one, and turned into the very JSON event
//! Lambda would deliver. That event goes through `lambda_http`'s own deserialisation into the
//! function's handler, so the local stack runs the production request path, not a fork of it.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use calbridge::app::App;
use calbridge::handlers::{
    auth_callback, auth_start, create_meet, disconnect, get_availability, list_calendars, sync_appointment,
};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::authorizer::DevAuthorizer;

/// The largest request body API Gateway accepts (10 MB); far above what calbridge needs.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    AuthStart,
    AuthCallback,
    Disconnect,
    ListCalendars,
    GetAvailability,
    SyncAppointment,
    CreateMeet,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub function: Function,
    pub jwt: bool,
}

/// The HTTP API's routes: the same table as `template.yaml`, taken from each function's own
/// route list.
pub fn routes() -> Vec<Route> {
    let public = &[auth_start::LAUNCH, auth_callback::CALLBACK];
    let functions: [(Function, &[calbridge::http::Route]); 7] = [
        (Function::AuthStart, auth_start::ROUTES),
        (Function::AuthCallback, auth_callback::ROUTES),
        (Function::Disconnect, disconnect::ROUTES),
        (Function::ListCalendars, list_calendars::ROUTES),
        (Function::GetAvailability, get_availability::ROUTES),
        (Function::SyncAppointment, sync_appointment::ROUTES),
        (Function::CreateMeet, create_meet::ROUTES),
    ];
    functions
        .into_iter()
        .flat_map(|(function, routes)| {
            routes.iter().map(move |route| Route {
                method: route.method.clone(),
                path: route.pattern,
                function,
                jwt: !public.contains(route),
            })
        })
        .collect()
}

pub struct Gateway {
    pub app: App,
    pub authorizer: DevAuthorizer,
    pub routes: Vec<Route>,
}

fn gateway_message(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

pub async fn handle(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some((route, path_parameters)) = gateway
        .routes
        .iter()
        .filter(|r| r.method == parts.method)
        .find_map(|r| match_path(r.path, parts.uri.path()).map(|params| (r, params)))
    else {
        return gateway_message(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = if route.jwt {
        let header = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match gateway.authorizer.verify(header) {
            Some(claims) => Some(claims),
            None => return gateway_message(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    } else {
        None
    };
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return gateway_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    let event = api_gateway_event(route, &parts, &body, claims, path_parameters);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(error = %e, "event does not deserialise");
            return gateway_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let response = match route.function {
        Function::AuthStart => auth_start::handle(&gateway.app, request).await,
        Function::AuthCallback => auth_callback::handle(&gateway.app, request).await,
        Function::Disconnect => disconnect::handle(&gateway.app, request).await,
        Function::ListCalendars => list_calendars::handle(&gateway.app, request).await,
        Function::GetAvailability => get_availability::handle(&gateway.app, request).await,
        Function::SyncAppointment => sync_appointment::handle(&gateway.app, request).await,
        Function::CreateMeet => create_meet::handle(&gateway.app, request).await,
    };
    into_http(response)
}

/// The API Gateway v2 event for one request, as Lambda would receive it.
fn api_gateway_event(
    route: &Route,
    parts: &http::request::Parts,
    body: &Bytes,
    claims: Option<std::collections::HashMap<String, String>>,
    path_parameters: serde_json::Map<String, Value>,
) -> Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if name == http::header::COOKIE {
            // API Gateway moves cookies out of the headers into their own array.
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()));
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|existing| {
                if let Value::String(s) = existing {
                    s.push(',');
                    s.push_str(value);
                }
            })
            .or_insert_with(|| Value::String(value.to_owned()));
    }
    let query = parts.uri.query().unwrap_or("");
    let route_key = format!("{} {}", route.method, route.path);
    let now = jiff::Timestamp::now();
    let (body, encoded) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(base64::engine::general_purpose::STANDARD.encode(body)), true),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": route.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": parts.headers.get(http::header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or(""),
            },
            "requestId": calbridge::crypto::random::token(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.as_millisecond(),
        },
        "isBase64Encoded": encoded,
    });
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = Value::Object(path_parameters);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    if let Some(claims) = claims {
        event["requestContext"]["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
    }
    event
}

fn into_http(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Body::from(bytes))
}

/// Matches a route pattern (`/appointments/{id}/sync`) against a request path; on a match,
/// the decoded path parameters, as API Gateway passes them in `pathParameters`.
fn match_path(pattern: &str, path: &str) -> Option<serde_json::Map<String, Value>> {
    let (pattern, path): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    if pattern.len() != path.len() {
        return None;
    }
    let mut parameters = serde_json::Map::new();
    for (expected, actual) in pattern.iter().zip(&path) {
        match expected.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => {
                let value = percent_encoding::percent_decode_str(actual).decode_utf8().ok()?;
                parameters.insert(name.to_owned(), Value::String(value.into_owned()));
            }
            Some(_) => return None,
            None if expected == actual => {}
            None => return None,
        }
    }
    Some(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_matched_and_decoded() {
        let params = match_path("/appointments/{id}/sync", "/appointments/a%2F1/sync").unwrap();
        assert_eq!(params["id"], "a/1");
        assert!(match_path("/appointments/{id}/sync", "/appointments//sync").is_none());
        assert!(match_path("/appointments/{id}/sync", "/appointments/a/b/sync").is_none());
        assert!(match_path("/calendars", "/calendars/selected").is_none());
        assert!(match_path("/calendars", "/calendars").unwrap().is_empty());
    }
}
