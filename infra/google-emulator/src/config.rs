//! What the emulator is seeded with and how strict its limits are.
//!
//! Contract: [`EmulatorConfig::default`] is the seed tests start from (one OAuth
//! client, two accounts each owning a primary calendar); [`EmulatorConfig::from_env`]
//! is the same seed adjusted by `EMULATOR_*` variables and is the only place the
//! emulator reads its environment. `POST /_emulator/reset` returns the running
//! emulator to exactly this seed.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The listen address the binary uses when `EMULATOR_LISTEN_ADDR` is unset.
pub const DEFAULT_LISTEN_ADDR: &str = "127.0.0.1:8788";

/// Everything a running emulator is seeded with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// `iss` of minted id_tokens and of the discovery document, and the `iss`
    /// parameter on authorization redirects (`EMULATOR_ISSUER`).
    pub issuer: String,
    /// Base URL advertised in the discovery document. `None` means "the scheme-less
    /// Host the request came in on, over http", which is right for loopback use
    /// (`EMULATOR_PUBLIC_BASE_URL`).
    pub public_base_url: Option<String>,
    /// Lifetime of access tokens (`EMULATOR_ACCESS_TOKEN_TTL_SECS`).
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes; Google documents ten minutes.
    pub authorization_code_ttl: Duration,
    /// Registered OAuth clients.
    pub clients: Vec<OAuthClientConfig>,
    /// Google accounts a user can pick on the consent page.
    pub accounts: Vec<AccountConfig>,
    /// Longest `timeMax - timeMin` freeBusy accepts (`EMULATOR_FREEBUSY_MAX_DAYS`).
    /// Google documents no number; this limit is the emulator's assumption.
    pub freebusy_max_range: Duration,
    /// How many `events.get` calls still report a Meet conference as `pending`
    /// before it turns `success` (`EMULATOR_CONFERENCE_PENDING_POLLS`).
    pub conference_pending_polls: u32,
    /// When set, a refresh_token grant also returns a new refresh token and
    /// revokes the one presented (`EMULATOR_ROTATE_REFRESH_TOKENS`). Google does
    /// not rotate; this exists to test clients that must cope with rotation.
    pub rotate_refresh_tokens: bool,
}

/// One registered OAuth client (a "Web application" client in Google's console).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Compared byte for byte with `redirect_uri`, as Google does.
    pub redirect_uris: Vec<String>,
}

/// One Google account and the calendars on its calendar list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountConfig {
    pub email: String,
    /// The stable OpenID `sub`; generated when absent.
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Calendars on the account's list. A primary calendar whose id is the email
    /// is added when none is marked primary.
    #[serde(default)]
    pub calendars: Vec<CalendarConfig>,
}

/// A calendar and this account's access to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CalendarConfig {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default = "owner")]
    pub access_role: AccessRole,
    #[serde(default)]
    pub primary: bool,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn owner() -> AccessRole {
    AccessRole::Owner
}

/// Calendar `accessRole`, ordered from least to most privileged so that
/// "at least writer" is a comparison.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum AccessRole {
    FreeBusyReader,
    Reader,
    Writer,
    Owner,
}

impl AccessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::FreeBusyReader => "freeBusyReader",
            AccessRole::Reader => "reader",
            AccessRole::Writer => "writer",
            AccessRole::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "freeBusyReader" => Some(AccessRole::FreeBusyReader),
            "reader" => Some(AccessRole::Reader),
            "writer" => Some(AccessRole::Writer),
            "owner" => Some(AccessRole::Owner),
            _ => None,
        }
    }
}

impl AccountConfig {
    /// An account owning one primary calendar (id = email, time zone UTC).
    pub fn with_primary_calendar(email: &str, sub: &str, name: &str) -> Self {
        AccountConfig {
            email: email.to_owned(),
            sub: Some(sub.to_owned()),
            name: Some(name.to_owned()),
            calendars: vec![CalendarConfig {
                id: email.to_owned(),
                summary: Some(email.to_owned()),
                time_zone: utc(),
                access_role: AccessRole::Owner,
                primary: true,
            }],
        }
    }
}

/// The seeded OAuth client's id, secret and redirect URI (the local dev stack's callback).
pub const DEFAULT_CLIENT_ID: &str = "calbridge-local";
pub const DEFAULT_CLIENT_SECRET: &str = "calbridge-local-secret";
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8787/connections/google/callback";

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            issuer: "https://accounts.google.com".to_owned(),
            public_base_url: None,
            access_token_ttl: Duration::from_secs(3600),
            authorization_code_ttl: Duration::from_secs(600),
            clients: vec![OAuthClientConfig {
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
                redirect_uris: vec![DEFAULT_REDIRECT_URI.to_owned()],
            }],
            accounts: vec![
                AccountConfig::with_primary_calendar("demo@example.com", "100000000000000000001", "Demo User"),
                AccountConfig::with_primary_calendar("alex@example.com", "100000000000000000002", "Alex Example"),
            ],
            freebusy_max_range: Duration::from_secs(60 * 24 * 3600),
            conference_pending_polls: 1,
            rotate_refresh_tokens: false,
        }
    }
}

/// Every `EMULATOR_*` variable that was set but could not be used, so an operator
/// fixes them all in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid emulator configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl EmulatorConfig {
    /// The default seed adjusted by these variables (all optional):
    /// `EMULATOR_ISSUER`, `EMULATOR_PUBLIC_BASE_URL`, `EMULATOR_ACCESS_TOKEN_TTL_SECS`,
    /// `EMULATOR_CLIENT_ID`, `EMULATOR_CLIENT_SECRET`, `EMULATOR_REDIRECT_URIS`
    /// (comma-separated), `EMULATOR_FREEBUSY_MAX_DAYS`,
    /// `EMULATOR_CONFERENCE_PENDING_POLLS`, `EMULATOR_ROTATE_REFRESH_TOKENS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = EmulatorConfig::default();
        let mut problems = Vec::new();
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        if let Some(issuer) = set("EMULATOR_ISSUER") {
            config.issuer = issuer.trim().to_owned();
        }
        if let Some(base) = set("EMULATOR_PUBLIC_BASE_URL") {
            match url::Url::parse(base.trim()) {
                Ok(_) => config.public_base_url = Some(base.trim().trim_end_matches('/').to_owned()),
                Err(error) => problems.push(format!("EMULATOR_PUBLIC_BASE_URL: {error}")),
            }
        }
        if let Some(raw) = set("EMULATOR_ACCESS_TOKEN_TTL_SECS") {
            match raw.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => config.access_token_ttl = Duration::from_secs(secs),
                _ => problems.push(format!("EMULATOR_ACCESS_TOKEN_TTL_SECS: expected a positive integer, got {raw:?}")),
            }
        }
        let client = &mut config.clients[0];
        if let Some(id) = set("EMULATOR_CLIENT_ID") {
            client.client_id = id.trim().to_owned();
        }
        if let Some(secret) = set("EMULATOR_CLIENT_SECRET") {
            client.client_secret = secret.trim().to_owned();
        }
        if let Some(raw) = set("EMULATOR_REDIRECT_URIS") {
            let uris: Vec<String> =
                raw.split(',').map(str::trim).filter(|uri| !uri.is_empty()).map(str::to_owned).collect();
            for uri in &uris {
                if let Err(error) = url::Url::parse(uri) {
                    problems.push(format!("EMULATOR_REDIRECT_URIS: {uri:?}: {error}"));
                }
            }
            client.redirect_uris = uris;
        }
        if let Some(raw) = set("EMULATOR_FREEBUSY_MAX_DAYS") {
            match raw.trim().parse::<u64>() {
                Ok(days) if days > 0 => config.freebusy_max_range = Duration::from_secs(days * 24 * 3600),
                _ => problems.push(format!("EMULATOR_FREEBUSY_MAX_DAYS: expected a positive integer, got {raw:?}")),
            }
        }
        if let Some(raw) = set("EMULATOR_CONFERENCE_PENDING_POLLS") {
            match raw.trim().parse::<u32>() {
                Ok(polls) => config.conference_pending_polls = polls,
                Err(_) => problems
                    .push(format!("EMULATOR_CONFERENCE_PENDING_POLLS: expected a non-negative integer, got {raw:?}")),
            }
        }
        if let Some(raw) = set("EMULATOR_ROTATE_REFRESH_TOKENS") {
            match raw.trim() {
                "1" | "true" | "yes" => config.rotate_refresh_tokens = true,
                "0" | "false" | "no" => config.rotate_refresh_tokens = false,
                _ => problems.push(format!("EMULATOR_ROTATE_REFRESH_TOKENS: expected true or false, got {raw:?}")),
            }
        }

        if problems.is_empty() { Ok(config) } else { Err(ConfigError { problems }) }
    }
}

/// `EMULATOR_LISTEN_ADDR`, defaulting to [`DEFAULT_LISTEN_ADDR`].
pub fn listen_addr_from_env() -> Result<SocketAddr, ConfigError> {
    let raw = std::env::var("EMULATOR_LISTEN_ADDR")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_LISTEN_ADDR.to_owned());
    raw.trim()
        .parse()
        .map_err(|error| ConfigError { problems: vec![format!("EMULATOR_LISTEN_ADDR: {raw:?}: {error}")] })
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
            ("EMULATOR_ACCESS_TOKEN_TTL_SECS", "2"),
            ("EMULATOR_REDIRECT_URIS", "http://a.test/cb, http://b.test/cb"),
        ]))
        .unwrap();
        assert_eq!(config.access_token_ttl, Duration::from_secs(2));
        assert_eq!(config.clients[0].redirect_uris, vec!["http://a.test/cb", "http://b.test/cb"]);
        assert_eq!(config.clients[0].client_id, DEFAULT_CLIENT_ID);
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let error = EmulatorConfig::from_lookup(lookup(&[
            ("EMULATOR_ACCESS_TOKEN_TTL_SECS", "soon"),
            ("EMULATOR_FREEBUSY_MAX_DAYS", "-1"),
        ]))
        .unwrap_err();
        assert_eq!(error.problems.len(), 2, "{error}");
    }
}
