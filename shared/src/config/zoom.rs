//! Zoom's section of the configuration: `ZOOM_*`. Every endpoint defaults to Zoom's real one;
//! pointing them at a Zoom-compatible server (the bundled `zoom-emulator`) is the only
//! difference between production and the local stack. The client secret and the webhook
//! secret token are not here: they come with the app's other secrets ([`super::SecretsConfig`]).

use std::time::Duration;

use url::Url;

use super::reader::Reader;
use crate::domain::ScopeSet;

/// The granular scopes calbridge needs from a Zoom user-managed app: who the user is, and
/// their scheduled meetings (listing them finds a meeting whose create answer was lost). Zoom grants the scopes configured on the app (the authorization
/// request does not name them), so these are what a grant is checked against.
pub const DEFAULT_ZOOM_SCOPES: &str = "user:read:user meeting:write:meeting meeting:read:meeting meeting:read:list_meetings meeting:update:meeting \
     meeting:delete:meeting";

pub(super) const DEFAULT_AUTH_URL: &str = "https://zoom.us/oauth/authorize";
pub(super) const DEFAULT_TOKEN_URL: &str = "https://zoom.us/oauth/token";
pub(super) const DEFAULT_REVOKE_URL: &str = "https://zoom.us/oauth/revoke";
pub(super) const DEFAULT_API_URL: &str = "https://api.zoom.us/v2";

#[derive(Debug, Clone)]
pub struct ZoomConfig {
    pub client_id: String,
    /// `.../connections/zoom/callback`, registered byte for byte on the Zoom app.
    pub redirect_uri: Url,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    /// Base of the REST API including `/v2`, without a trailing slash.
    pub api_url: Url,
    /// Scopes a grant must cover to be stored, in configuration order.
    pub scopes: Vec<String>,
    /// Time allowed for one HTTP exchange with Zoom (`ZOOM_HTTP_TIMEOUT_MS`).
    pub http_timeout: Duration,
}

impl ZoomConfig {
    pub fn required_scopes(&self) -> ScopeSet {
        ScopeSet::of(&self.scopes)
    }

    /// The browser entry point of the consent flow, derived from the redirect URI (same
    /// origin as the callback, which the `__Host-` binding cookie requires).
    pub fn launch_url(&self) -> Url {
        let mut url = self.redirect_uri.clone();
        let path = url.path().trim_end_matches("/callback").to_owned();
        url.set_path(&format!("{path}/launch"));
        url.set_query(None);
        url
    }
}

/// Reads the section; `None` when something is missing or invalid (each problem is recorded).
pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<'_, F>) -> Option<ZoomConfig> {
    let client_id = env.required("ZOOM_CLIENT_ID");
    let redirect_uri = env.required_url("ZOOM_REDIRECT_URI");
    if let Some(uri) = &redirect_uri
        && !uri.path().ends_with("/connections/zoom/callback")
    {
        env.problem("ZOOM_REDIRECT_URI must end with /connections/zoom/callback (the launch route is derived from it)");
    }
    let auth_url = env.url_or("ZOOM_AUTH_URL", DEFAULT_AUTH_URL);
    let token_url = env.url_or("ZOOM_TOKEN_URL", DEFAULT_TOKEN_URL);
    let revoke_url = env.url_or("ZOOM_REVOKE_URL", DEFAULT_REVOKE_URL);
    let api_url = env.url_or("ZOOM_API_URL", DEFAULT_API_URL);
    let scopes: Vec<String> = env
        .optional("ZOOM_SCOPES")
        .unwrap_or_else(|| DEFAULT_ZOOM_SCOPES.to_owned())
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let http_timeout = Duration::from_millis(env.number_or("ZOOM_HTTP_TIMEOUT_MS", 10_000));
    Some(ZoomConfig {
        client_id: client_id?,
        redirect_uri: redirect_uri?,
        auth_url: auth_url?,
        token_url: token_url?,
        revoke_url: revoke_url?,
        api_url: api_url?,
        scopes,
        http_timeout,
    })
}
