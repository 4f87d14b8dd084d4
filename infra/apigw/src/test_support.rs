//! What the tests of this crate build their requests from: one deployment and requests
//! written as (method, path, query, headers).

use http::{HeaderMap, HeaderName, Method};

use crate::{Api, Request};

pub(crate) fn api() -> Api {
    Api {
        account_id: "123456789012".into(),
        api_id: "a1b2c3d4e5".into(),
        domain_name: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com".into(),
        source_ip: "203.0.113.10".into(),
        scheme: "https".into(),
        port: 443,
    }
}

/// Headers in the order given, names repeating as they may on the wire.
pub(crate) fn request(method: Method, path: &str, query: &str, headers: &[(&str, &str)]) -> Request {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    Request { method, path: path.into(), query: query.into(), headers: map, body: None, claims: None }
}
