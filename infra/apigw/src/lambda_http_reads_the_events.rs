//! The events this crate builds, read back through `lambda_http::request::from_str`, the way
//! every calbridge function reads its input: what a handler sees is what API Gateway meant.

use std::collections::BTreeMap;

use http::Method;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;

use crate::test_support::{api, request};
use crate::{Request, Route, select};

fn routes() -> Vec<Route<&'static str>> {
    vec![
        Route::new(Method::POST, "/connections/{provider}/authorize", true, "auth-start").unwrap(),
        Route::new(Method::GET, "/connections/{provider}/callback", false, "auth-callback").unwrap(),
        Route::new(Method::POST, "/appointments/{id}/sync", true, "sync-appointment").unwrap(),
    ]
}

/// The request `lambda_http` makes of the event for `request`.
fn as_lambda_sees_it(request: &Request) -> (&'static str, lambda_http::Request) {
    let routes = routes();
    let taken = select(&routes, &request.method, &request.path).expect("a route takes the request");
    let event = api().event(taken.route, &taken.parameters, request);
    let parsed = lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event");
    (taken.route.target, parsed)
}

#[test]
fn path_parameters_query_and_claims_arrive() {
    let mut sent = request(
        Method::POST,
        "/appointments/a%2F1/sync",
        "mode=full&tag=a&tag=b",
        &[("content-type", "application/json"), ("authorization", "Bearer t")],
    );
    sent.body = Some(br#"{"calendar":"primary"}"#.to_vec());
    sent.claims = Some(BTreeMap::from(
        [("sub", "user-7f3a"), ("tenant_id", "clinic-42"), ("exp", "1795258800")].map(|(k, v)| (k.into(), v.into())),
    ));
    let (target, seen) = as_lambda_sees_it(&sent);
    assert_eq!(target, "sync-appointment");
    assert_eq!(seen.method(), Method::POST);
    assert_eq!(seen.uri().path(), "/appointments/a%2F1/sync");
    assert_eq!(seen.uri().query(), Some("mode=full&tag=a&tag=b"));
    assert_eq!(seen.uri().host(), Some("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"));
    assert_eq!(seen.path_parameters().first("id"), Some("a/1"));
    let query = seen.query_string_parameters();
    assert_eq!(query.first("mode"), Some("full"));
    assert_eq!(query.all("tag"), Some(vec!["a", "b"]));
    assert_eq!(seen.headers()["content-type"], "application/json");
    assert_eq!(seen.body().as_ref(), br#"{"calendar":"primary"}"#);
    let Some(RequestContext::ApiGatewayV2(context)) = seen.request_context_ref() else {
        panic!("not an API Gateway v2 context: {:?}", seen.request_context_ref());
    };
    let claims = &context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).expect("JWT claims").claims;
    assert_eq!(claims["sub"], "user-7f3a");
    assert_eq!(claims["tenant_id"], "clinic-42");
    assert_eq!(claims["exp"], "1795258800");
    assert_eq!(context.route_key.as_deref(), Some("POST /appointments/{id}/sync"));
    assert_eq!(context.stage.as_deref(), Some("$default"));
}

#[test]
fn cookies_arrive_as_one_cookie_header() {
    let sent = request(
        Method::GET,
        "/connections/google/callback",
        "code=c&state=s",
        &[("cookie", "calbridge_binding=abc; theme=dark"), ("cookie", "late=1")],
    );
    let (target, seen) = as_lambda_sees_it(&sent);
    assert_eq!(target, "auth-callback");
    assert_eq!(seen.path_parameters().first("provider"), Some("google"));
    let cookies: Vec<&str> = seen.headers().get_all("cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies, ["calbridge_binding=abc; theme=dark; late=1"]);
    // Not an authorizer route: no claims, whatever the request carried.
    let Some(RequestContext::ApiGatewayV2(context)) = seen.request_context_ref() else { panic!("no v2 context") };
    assert!(context.authorizer.is_none());
}

#[test]
fn a_body_that_is_not_utf8_arrives_byte_for_byte() {
    let mut sent = request(Method::POST, "/connections/zoom/authorize", "", &[]);
    let bytes = vec![0xff, 0xfe, 0x00, 0x80, b'a'];
    sent.body = Some(bytes.clone());
    let (target, seen) = as_lambda_sees_it(&sent);
    assert_eq!(target, "auth-start");
    assert_eq!(seen.path_parameters().first("provider"), Some("zoom"));
    assert!(matches!(seen.body(), lambda_http::Body::Binary(_)), "{:?}", seen.body());
    assert_eq!(seen.body().as_ref(), bytes.as_slice());
}
