//! Google's section of the configuration: `GOOGLE_*`. Every endpoint defaults to Google's real
//! one; pointing them (all of them, through these variables alone) at a Google-compatible
//! server, such as the bundled emulator, is the only difference between production and the
//! local stack.

use std::time::Duration;

use url::Url;

use super::reader::Reader;
use crate::domain::ScopeSet;

pub const DEFAULT_SCOPES: &str = "openid email \
    https://www.googleapis.com/auth/calendar.calendarlist.readonly \
    https://www.googleapis.com/auth/calendar.events.freebusy \
    https://www.googleapis.com/auth/calendar.events";

pub(super) const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub(super) const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub(super) const DEFAULT_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
pub(super) const DEFAULT_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
pub(super) const DEFAULT_CALENDAR_API_URL: &str = "https://www.googleapis.com/calendar/v3";
pub(super) const DEFAULT_ISSUER: &str = "https://accounts.google.com";
/// Half of what Google allows one user per project and minute (about 600).
pub const DEFAULT_CALLS_PER_USER_MINUTE: u32 = 300;
pub(super) const DEFAULT_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub redirect_uri: Url,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    pub userinfo_url: Url,
    /// Base of the Calendar API including `/calendar/v3`, without a trailing slash.
    pub calendar_api_url: Url,
    pub issuer: String,
    pub jwks_url: Url,
    /// Scopes requested at consent, in configuration order.
    pub scopes: Vec<String>,
    /// Time allowed for one HTTP exchange with Google.
    pub http_timeout: Duration,
    /// Time allowed for all retries of one Google call (kept under API Gateway's 30 s).
    pub retry_budget: Duration,
    /// Calendar API calls calbridge makes for one user per minute, across all containers
    /// (`GOOGLE_CALLS_PER_USER_MINUTE`; Google allows about 600 per user and project).
    pub calls_per_user_minute: u32,
}

impl GoogleConfig {
    pub fn required_scopes(&self) -> ScopeSet {
        ScopeSet::of(&self.scopes)
    }

    /// The browser entry point of the consent flow. It is derived from the redirect URI so that
    /// launch and callback are always served by the same origin, which the `__Host-` browser
    /// binding cookie requires.
    pub fn launch_url(&self) -> Url {
        let mut url = self.redirect_uri.clone();
        let path = url.path().trim_end_matches("/callback").to_owned();
        url.set_path(&format!("{path}/launch"));
        url.set_query(None);
        url
    }

    /// The public base of the API (scheme, host and any stage prefix, no trailing slash), where
    /// `PUBLIC_API_URL` is not set: the redirect URI without `/connections/google/callback`,
    /// since Google redirects to this very API.
    pub fn api_base_url(&self) -> Url {
        let mut url = self.redirect_uri.clone();
        let path = url.path().trim_end_matches("/callback").trim_end_matches("/google").to_owned();
        let path = path.strip_suffix("/connections").unwrap_or(&path).to_owned();
        url.set_path(&path);
        url.set_query(None);
        url
    }
}

/// Reads the section; `None` when something is missing or invalid (each problem is recorded).
pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<'_, F>) -> Option<GoogleConfig> {
    let client_id = env.required("GOOGLE_CLIENT_ID");
    let redirect_uri = env.required_url("GOOGLE_REDIRECT_URI");
    if let Some(uri) = &redirect_uri
        && !uri.path().ends_with("/callback")
    {
        env.problem("GOOGLE_REDIRECT_URI must end with /callback (the launch route is derived from it)");
    }
    let auth_url = env.url_or("GOOGLE_AUTH_URL", DEFAULT_AUTH_URL);
    let token_url = env.url_or("GOOGLE_TOKEN_URL", DEFAULT_TOKEN_URL);
    let revoke_url = env.url_or("GOOGLE_REVOKE_URL", DEFAULT_REVOKE_URL);
    let userinfo_url = env.url_or("GOOGLE_USERINFO_URL", DEFAULT_USERINFO_URL);
    let calendar_api_url = env.url_or("GOOGLE_CALENDAR_API_URL", DEFAULT_CALENDAR_API_URL);
    let jwks_url = env.url_or("GOOGLE_JWKS_URL", DEFAULT_JWKS_URL);
    let issuer = env.optional("GOOGLE_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
    let scopes: Vec<String> = env
        .optional("GOOGLE_SCOPES")
        .unwrap_or_else(|| DEFAULT_SCOPES.to_owned())
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let http_timeout = Duration::from_millis(env.number_or("GOOGLE_HTTP_TIMEOUT_MS", 10_000));
    let retry_budget = Duration::from_millis(env.number_or("GOOGLE_RETRY_BUDGET_MS", 8_000));
    let calls = env.number_or("GOOGLE_CALLS_PER_USER_MINUTE", DEFAULT_CALLS_PER_USER_MINUTE.into());
    let calls_per_user_minute = match u32::try_from(calls) {
        Ok(calls) if calls > 0 => calls,
        _ => {
            env.problem("GOOGLE_CALLS_PER_USER_MINUTE must be a whole number of at least 1");
            DEFAULT_CALLS_PER_USER_MINUTE
        }
    };

    Some(GoogleConfig {
        client_id: client_id?,
        redirect_uri: redirect_uri?,
        auth_url: auth_url?,
        token_url: token_url?,
        revoke_url: revoke_url?,
        userinfo_url: userinfo_url?,
        calendar_api_url: calendar_api_url?,
        issuer,
        jwks_url: jwks_url?,
        scopes,
        http_timeout,
        retry_budget,
        calls_per_user_minute,
    })
}
