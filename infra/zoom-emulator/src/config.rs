//! What the emulator is seeded with and how strict its limits are.
//!
//! Contract: [`EmulatorConfig::default`] is the seed tests start from (one
//! user-managed OAuth app, two users in one account); [`EmulatorConfig::from_env`]
//! is the same seed adjusted by `ZOOM_EMULATOR_*` variables and is the only place
//! the emulator reads its environment. `POST /_emulator/reset` returns the running
//! emulator to exactly this seed.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The listen address the binary uses when `ZOOM_EMULATOR_LISTEN_ADDR` is unset.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8789";

/// The seeded app's client id, secret, redirect URI (the local dev stack's callback)
/// and webhook secret token.
pub const DEFAULT_CLIENT_ID: &str = "calbridge-zoom-local";
pub const DEFAULT_CLIENT_SECRET: &str = "calbridge-zoom-local-secret";
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8787/connections/zoom/callback";
pub const DEFAULT_WEBHOOK_SECRET_TOKEN: &str = "calbridge-zoom-local-webhook-secret";

/// Granular scopes the seeded app is configured with (Zoom grants an app's
/// configured scopes; the authorization request does not name them).
pub const DEFAULT_SCOPES: [&str; 6] = [
    "meeting:delete:meeting",
    "meeting:read:list_meetings",
    "meeting:read:meeting",
    "meeting:update:meeting",
    "meeting:write:meeting",
    "user:read:user",
];

/// Everything a running emulator is seeded with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Path prefix of the REST API (`ZOOM_EMULATOR_API_BASE_PATH`); Zoom's is
    /// `https://api.zoom.us/v2`, so calbridge's base URL is `{emulator}{this}`.
    pub api_base_path: String,
    /// Base of `join_url` / `start_url` (`ZOOM_EMULATOR_WEB_BASE_URL`). `None`
    /// means "http://{the request's Host}", so the URLs lead back to this emulator.
    pub web_base_url: Option<String>,
    /// Lifetime of access tokens (`ZOOM_EMULATOR_ACCESS_TOKEN_TTL_SECS`; Zoom: 1 h).
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes (Zoom documents none; ten minutes here).
    pub authorization_code_ttl: Duration,
    /// Lifetime of the ZAK inside a `start_url` (`ZOOM_EMULATOR_START_URL_TTL_SECS`;
    /// Zoom: two hours from issue).
    pub start_url_ttl: Duration,
    /// Meeting create + update requests one user may make per UTC day
    /// (`ZOOM_EMULATOR_DAILY_MEETING_CAP`; Zoom: 100).
    pub daily_meeting_cap: u32,
    /// Refuse authorization requests without an S256 `code_challenge`
    /// (`ZOOM_EMULATOR_REQUIRE_PKCE`, default true; Zoom itself makes PKCE optional).
    pub require_pkce: bool,
    pub clients: Vec<ClientConfig>,
    pub users: Vec<UserConfig>,
}

/// One user-managed OAuth app as configured on the Zoom Marketplace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Compared byte for byte with `redirect_uri`.
    pub redirect_uris: Vec<String>,
    /// The scopes every authorization of this app grants.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The app's webhook "Secret Token": the HMAC key of `x-zm-signature` and of
    /// `endpoint.url_validation` answers.
    pub webhook_secret_token: String,
}

fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES.iter().map(|scope| (*scope).to_owned()).collect()
}

/// One Zoom user (and the account it belongs to).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub email: String,
    /// Zoom's user id (22 characters); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Zoom's account id; generated when absent.
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// IANA time zone of the user's profile.
    #[serde(default = "utc")]
    pub timezone: String,
    /// 1 basic, 2 licensed, 4 unassigned without meetings basic, 99 none.
    #[serde(default = "licensed")]
    pub r#type: u8,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn licensed() -> u8 {
    2
}

/// The account both seeded users belong to.
pub const DEFAULT_ACCOUNT_ID: &str = "EmuAccount00000000001a";

impl UserConfig {
    pub fn seeded(email: &str, id: &str, first_name: &str, last_name: &str, timezone: &str) -> Self {
        UserConfig {
            email: email.to_owned(),
            id: Some(id.to_owned()),
            account_id: Some(DEFAULT_ACCOUNT_ID.to_owned()),
            first_name: Some(first_name.to_owned()),
            last_name: Some(last_name.to_owned()),
            timezone: timezone.to_owned(),
            r#type: licensed(),
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            api_base_path: "/v2".to_owned(),
            web_base_url: None,
            access_token_ttl: Duration::from_secs(3600),
            authorization_code_ttl: Duration::from_secs(600),
            start_url_ttl: Duration::from_secs(2 * 3600),
            daily_meeting_cap: 100,
            require_pkce: true,
            clients: vec![ClientConfig {
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
                redirect_uris: vec![DEFAULT_REDIRECT_URI.to_owned()],
                scopes: default_scopes(),
                webhook_secret_token: DEFAULT_WEBHOOK_SECRET_TOKEN.to_owned(),
            }],
            users: vec![
                UserConfig::seeded("demo@example.com", "EmuUserDemo0000000001a", "Demo", "User", "UTC"),
                UserConfig::seeded("alex@example.com", "EmuUserAlex0000000002a", "Alex", "Example", "Europe/Berlin"),
            ],
        }
    }
}

/// Every `ZOOM_EMULATOR_*` variable that was set but could not be used, so an
/// operator fixes them all in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid zoom emulator configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl EmulatorConfig {
    /// The default seed adjusted by these variables (all optional):
    /// `ZOOM_EMULATOR_API_BASE_PATH`, `ZOOM_EMULATOR_WEB_BASE_URL`,
    /// `ZOOM_EMULATOR_ACCESS_TOKEN_TTL_SECS`, `ZOOM_EMULATOR_START_URL_TTL_SECS`,
    /// `ZOOM_EMULATOR_DAILY_MEETING_CAP`, `ZOOM_EMULATOR_REQUIRE_PKCE`,
    /// `ZOOM_EMULATOR_CLIENT_ID`, `ZOOM_EMULATOR_CLIENT_SECRET`,
    /// `ZOOM_EMULATOR_REDIRECT_URIS` (comma-separated), `ZOOM_EMULATOR_WEBHOOK_SECRET_TOKEN`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = EmulatorConfig::default();
        let mut problems = Vec::new();
        let set = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let positive = |name: &str, problems: &mut Vec<String>| -> Option<u64> {
            let raw = set(name)?;
            match raw.parse::<u64>() {
                Ok(value) if value > 0 => Some(value),
                _ => {
                    problems.push(format!("{name}: expected a positive integer, got {raw:?}"));
                    None
                }
            }
        };

        if let Some(path) = set("ZOOM_EMULATOR_API_BASE_PATH") {
            if path.starts_with('/') && path.len() > 1 && !path.ends_with('/') {
                config.api_base_path = path;
            } else {
                problems.push(format!("ZOOM_EMULATOR_API_BASE_PATH: expected a path like /v2, got {path:?}"));
            }
        }
        if let Some(base) = set("ZOOM_EMULATOR_WEB_BASE_URL") {
            match url::Url::parse(&base) {
                Ok(_) => config.web_base_url = Some(base.trim_end_matches('/').to_owned()),
                Err(error) => problems.push(format!("ZOOM_EMULATOR_WEB_BASE_URL: {error}")),
            }
        }
        if let Some(secs) = positive("ZOOM_EMULATOR_ACCESS_TOKEN_TTL_SECS", &mut problems) {
            config.access_token_ttl = Duration::from_secs(secs);
        }
        if let Some(secs) = positive("ZOOM_EMULATOR_START_URL_TTL_SECS", &mut problems) {
            config.start_url_ttl = Duration::from_secs(secs);
        }
        if let Some(cap) = positive("ZOOM_EMULATOR_DAILY_MEETING_CAP", &mut problems) {
            match u32::try_from(cap) {
                Ok(cap) => config.daily_meeting_cap = cap,
                Err(_) => problems.push(format!("ZOOM_EMULATOR_DAILY_MEETING_CAP: {cap} is too large")),
            }
        }
        if let Some(raw) = set("ZOOM_EMULATOR_REQUIRE_PKCE") {
            match raw.as_str() {
                "1" | "true" | "yes" => config.require_pkce = true,
                "0" | "false" | "no" => config.require_pkce = false,
                _ => problems.push(format!("ZOOM_EMULATOR_REQUIRE_PKCE: expected true or false, got {raw:?}")),
            }
        }
        let client = &mut config.clients[0];
        if let Some(id) = set("ZOOM_EMULATOR_CLIENT_ID") {
            client.client_id = id;
        }
        if let Some(secret) = set("ZOOM_EMULATOR_CLIENT_SECRET") {
            client.client_secret = secret;
        }
        if let Some(token) = set("ZOOM_EMULATOR_WEBHOOK_SECRET_TOKEN") {
            client.webhook_secret_token = token;
        }
        if let Some(raw) = set("ZOOM_EMULATOR_REDIRECT_URIS") {
            let uris: Vec<String> =
                raw.split(',').map(str::trim).filter(|uri| !uri.is_empty()).map(str::to_owned).collect();
            for uri in &uris {
                if let Err(error) = url::Url::parse(uri) {
                    problems.push(format!("ZOOM_EMULATOR_REDIRECT_URIS: {uri:?}: {error}"));
                }
            }
            client.redirect_uris = uris;
        }

        if problems.is_empty() { Ok(config) } else { Err(ConfigError { problems }) }
    }
}

/// `ZOOM_EMULATOR_LISTEN_ADDR`, defaulting to [`DEFAULT_LISTEN_ADDR`].
pub fn listen_addr_from_env() -> Result<SocketAddr, ConfigError> {
    let raw = std::env::var("ZOOM_EMULATOR_LISTEN_ADDR")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_LISTEN_ADDR.to_owned());
    raw.trim()
        .parse()
        .map_err(|error| ConfigError { problems: vec![format!("ZOOM_EMULATOR_LISTEN_ADDR: {raw:?}: {error}")] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn environment_overrides_the_default_seed() {
        let config = EmulatorConfig::from_lookup(lookup(&[
            ("ZOOM_EMULATOR_DAILY_MEETING_CAP", "3"),
            ("ZOOM_EMULATOR_REDIRECT_URIS", "http://a.test/cb, http://b.test/cb"),
            ("ZOOM_EMULATOR_REQUIRE_PKCE", "false"),
        ]))
        .unwrap();
        assert_eq!(config.daily_meeting_cap, 3);
        assert!(!config.require_pkce);
        assert_eq!(config.clients[0].redirect_uris, vec!["http://a.test/cb", "http://b.test/cb"]);
        assert_eq!(config.clients[0].client_id, DEFAULT_CLIENT_ID);
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let error = EmulatorConfig::from_lookup(lookup(&[
            ("ZOOM_EMULATOR_ACCESS_TOKEN_TTL_SECS", "soon"),
            ("ZOOM_EMULATOR_DAILY_MEETING_CAP", "0"),
            ("ZOOM_EMULATOR_API_BASE_PATH", "v2/"),
        ]))
        .unwrap_err();
        assert_eq!(error.problems.len(), 3, "{error}");
    }
}
