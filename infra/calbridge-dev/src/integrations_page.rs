//! The integrations page (the repository's `web/` folder), served by the local stack.
//!
//! Contract:
//! - `GET /` and `GET /integrations` answer `web/index.html`; every other file of `web/` is
//!   answered at its own path (`/integrations.js`, `/integrations.css`, `/vendor/...`), so the
//!   page's relative links resolve the same way here as on any static host that serves the
//!   folder as it is.
//! - `GET /config.json` is the page's configuration, which in production the embedding app
//!   supplies (see web/README.md): no API base (the page calls its own origin), a fresh demo
//!   bearer token (tenant `demo-tenant`, user `demo-user`, [`crate::DEV_TOKEN_TTL`]), the
//!   providers this stack offers, `<stack>/integrations` as the return URL (on
//!   `ALLOWED_RETURN_TO`), and an account label for the launch page.
//!   It exists only in this crate: nothing in the functions or in `web/` mints a token.
//! - Every answer carries `Cache-Control: no-store` (the config holds a token; the files change
//!   while someone edits them) and the page a Content-Security-Policy that allows only this
//!   origin, which is what the page needs and what DEPLOY.md recommends.
//!
//! The files are embedded with `include_str!`/`include_bytes!` rather than read from the
//! repository at run time: the binary then serves the page from any working directory (the
//! test scripts run it from a scratch directory), and cargo rebuilds it when a file of `web/`
//! changes, so `cargo run -p calbridge-dev` always serves the page as it is in the tree.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::json;

use crate::gateway::Gateway;

/// Where the page lives on the local stack; its URL is on `ALLOWED_RETURN_TO`.
pub const PAGE_PATH: &str = "/integrations";
/// The demo identity the served page acts as.
pub const DEMO_TENANT: &str = "demo-tenant";
pub const DEMO_USER: &str = "demo-user";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of `web/`: its URL path, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! web_file {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: concat!("/", $path),
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path)),
        }
    };
}

const INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/index.html"));

const ASSETS: &[Asset] = &[
    web_file!("integrations.js", "text/javascript; charset=utf-8"),
    web_file!("integrations.css", "text/css; charset=utf-8"),
    web_file!("vendor/qrcode-generator/qrcode.mjs", "text/javascript; charset=utf-8"),
    web_file!("vendor/qrcode-generator/LICENSE", "text/plain; charset=utf-8"),
];

/// The page's routes, merged into the stack's router before the gateway fallback; `base_url`
/// is the stack's own (the page's return URL is under it).
pub fn routes(base_url: &str) -> Router<Arc<Gateway>> {
    let return_to = format!("{base_url}{PAGE_PATH}");
    let mut router = Router::new()
        .route("/", get(index))
        .route(PAGE_PATH, get(index))
        .route("/index.html", get(index))
        .route("/config.json", get(move |state| config(state, return_to)));
    for asset in ASSETS {
        router = router.route(asset.path, get(move || async move { file(asset.content_type, asset.body) }));
    }
    router
}

fn file(content_type: &'static str, body: &'static [u8]) -> Response {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-store")], body).into_response()
}

async fn index() -> Response {
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")],
        [("content-security-policy", CSP), ("referrer-policy", "no-referrer")],
        INDEX,
    )
        .into_response()
}

async fn config(State(gateway): State<Arc<Gateway>>, return_to: String) -> Response {
    let (token, expires_at) = gateway.authorizer.mint(DEMO_TENANT, DEMO_USER, None, crate::DEV_TOKEN_TTL);
    let providers: Vec<&str> = gateway.app.providers.keys().map(|p| p.as_str()).collect();
    let body = json!({
        "apiBase": null,
        "token": token,
        "tokenExpiresAt": expires_at,
        "providers": providers,
        "returnTo": return_to,
        "accountLabel": "Demo User (demo-user of demo-tenant)",
        "user": {"tenant_id": DEMO_TENANT, "user_id": DEMO_USER},
    });
    ([(CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_at_its_folder_path_and_is_not_empty() {
        for asset in ASSETS {
            assert!(asset.path.starts_with('/') && !asset.path.contains(".."), "{}", asset.path);
            assert!(!asset.body.is_empty(), "{} is empty", asset.path);
        }
        let index = std::str::from_utf8(INDEX).unwrap();
        // The page's own links must be ones this module serves, relative, so a static host works too.
        for link in ["integrations.css", "integrations.js", "config.json"] {
            assert!(index.contains(&format!("\"{link}\"")), "index.html does not link {link}");
        }
    }
}
