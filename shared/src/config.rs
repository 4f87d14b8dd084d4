//! Every environment variable calbridge reads is read here, once, into a typed [`Config`].
//!
//! Parsing fails fast and names *every* missing or invalid variable in one error, so a
//! misconfigured deployment is fixed in one round trip. The Google endpoints default to
//! Google's real ones; pointing them (all of them, through these variables alone) at another
//! Google-compatible server, such as the bundled emulator, is the only difference between
//! production and the local stack.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{SecretBox, SecretString};
use url::Url;

use crate::domain::{AllowedReturnTo, ScopeSet};

pub const DEFAULT_SCOPES: &str = "openid email \
    https://www.googleapis.com/auth/calendar.calendarlist.readonly \
    https://www.googleapis.com/auth/calendar.events.freebusy \
    https://www.googleapis.com/auth/calendar.events";

const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const DEFAULT_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
const DEFAULT_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
const DEFAULT_CALENDAR_API_URL: &str = "https://www.googleapis.com/calendar/v3";
const DEFAULT_ISSUER: &str = "https://accounts.google.com";
const DEFAULT_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
const MIN_SIGNING_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

#[derive(Debug)]
pub struct Config {
    pub google: GoogleConfig,
    pub secrets: SecretsConfig,
    pub storage: StorageConfig,
    pub allowed_return_to: AllowedReturnTo,
    /// The JWT claim that carries the tenant id (`sub` always carries the user id).
    pub tenant_claim: String,
    pub sync: SyncConfig,
    pub meet: MeetConfig,
}

/// How session meetings are created and which links may be attached.
#[derive(Debug, Clone)]
pub struct MeetConfig {
    /// Hosts an attached meeting link may point at: exact names, or `*.example.com` for any
    /// subdomain of example.com.
    pub allowed_hosts: Vec<String>,
    /// `sendUpdates` for invitations to attendees: `all`, `externalOnly` or `none`.
    pub send_updates: crate::ports::SendUpdates,
}

pub const DEFAULT_MEETING_HOSTS: &str = "meet.google.com,zoom.us,*.zoom.us,teams.microsoft.com,teams.live.com";

/// How appointments are mirrored into Google Calendar.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// The EventBridge `source` of the app's appointment events.
    pub event_source: String,
    /// The title every synced event carries unless titles are allowed.
    pub event_title: String,
    /// Whether an appointment's own `title` may reach Google (off: privacy by default).
    pub allow_event_titles: bool,
}

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
}

/// Where the Google client secret and the OAuth state-signing key come from.
pub enum SecretsConfig {
    /// Lambda: one Secrets Manager secret, fetched once per container on first use.
    SecretsManager { secret_id: String },
    /// Local runs and tests: given directly.
    Inline { google_client_secret: SecretString, state_signing_key: SecretBox<Vec<u8>> },
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsConfig::SecretsManager { secret_id } => {
                f.debug_struct("SecretsManager").field("secret_id", secret_id).finish()
            }
            SecretsConfig::Inline { .. } => f.write_str("Inline([redacted])"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// Production: DynamoDB table + KMS key (set `AWS_ENDPOINT_URL` to use moto).
    Aws { table_name: String, kms_key_id: String },
    /// Local stack: file-backed embedded store and a local master key.
    Embedded { data_dir: PathBuf, master_key: Option<SecretBoxBytes> },
}

/// A 32-byte key given in configuration, redacted in `Debug`.
#[derive(Clone)]
pub struct SecretBoxBytes(pub [u8; 32]);

impl std::fmt::Debug for SecretBoxBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads configuration through `lookup`, which returns a variable's value if set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Reader { lookup: &lookup, problems: Vec::new() };

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

        let secrets = match env.optional("GOOGLE_SECRET_ARN") {
            Some(secret_id) => Some(SecretsConfig::SecretsManager { secret_id }),
            None => {
                let secret = env.required_because("GOOGLE_CLIENT_SECRET", "GOOGLE_SECRET_ARN is not set");
                let key = env
                    .required_because("STATE_SIGNING_KEY", "GOOGLE_SECRET_ARN is not set")
                    .and_then(|raw| env.signing_key("STATE_SIGNING_KEY", &raw));
                match (secret, key) {
                    (Some(secret), Some(key)) => Some(SecretsConfig::Inline {
                        google_client_secret: SecretString::from(secret),
                        state_signing_key: SecretBox::new(Box::new(key)),
                    }),
                    _ => None,
                }
            }
        };

        let table_name = env.optional("TABLE_NAME");
        let kms_key_id = env.optional("KMS_KEY_ID");
        let storage = match (table_name, kms_key_id, env.optional("LOCAL_DATA_DIR")) {
            (Some(table_name), Some(kms_key_id), _) => Some(StorageConfig::Aws { table_name, kms_key_id }),
            (Some(_), None, _) => {
                env.problem("KMS_KEY_ID is required when TABLE_NAME is set");
                None
            }
            (None, Some(_), _) => {
                env.problem("TABLE_NAME is required when KMS_KEY_ID is set");
                None
            }
            (None, None, Some(dir)) => {
                let master_key = env.optional("LOCAL_MASTER_KEY").and_then(|raw| {
                    match base64::engine::general_purpose::STANDARD.decode(raw.trim()) {
                        Ok(bytes) if bytes.len() == 32 => {
                            let mut key = [0u8; 32];
                            key.copy_from_slice(&bytes);
                            Some(SecretBoxBytes(key))
                        }
                        _ => {
                            env.problem("LOCAL_MASTER_KEY must be 32 bytes, base64-encoded");
                            None
                        }
                    }
                });
                Some(StorageConfig::Embedded { data_dir: PathBuf::from(dir), master_key })
            }
            (None, None, None) => {
                env.problem("TABLE_NAME and KMS_KEY_ID are required (or LOCAL_DATA_DIR for the embedded store)");
                None
            }
        };

        let allowed_return_to = env.required("ALLOWED_RETURN_TO").and_then(|raw| {
            AllowedReturnTo::parse(&raw).map_err(|e| env.problem(&format!("ALLOWED_RETURN_TO: {e}"))).ok()
        });
        let tenant_claim = env.optional("TENANT_CLAIM").unwrap_or_else(|| "tenant_id".to_owned());
        let sync = SyncConfig {
            event_source: env.optional("APPOINTMENT_EVENT_SOURCE").unwrap_or_else(|| "app.appointments".to_owned()),
            event_title: env.optional("EVENT_TITLE").unwrap_or_else(|| "Appointment".to_owned()),
            allow_event_titles: env.flag("ALLOW_EVENT_TITLES"),
        };
        let meet = MeetConfig {
            allowed_hosts: env
                .optional("ALLOWED_MEETING_HOSTS")
                .unwrap_or_else(|| DEFAULT_MEETING_HOSTS.to_owned())
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            send_updates: match env.optional("MEET_SEND_UPDATES").as_deref() {
                None | Some("none") => crate::ports::SendUpdates::None,
                Some("all") => crate::ports::SendUpdates::All,
                Some("externalOnly") => crate::ports::SendUpdates::ExternalOnly,
                Some(_) => {
                    env.problem("MEET_SEND_UPDATES must be all, externalOnly or none");
                    crate::ports::SendUpdates::None
                }
            },
        };

        if !env.problems.is_empty() {
            return Err(ConfigError { problems: env.problems });
        }
        // Every `None` above pushed a problem, so these cannot fail past this point.
        let (Some(client_id), Some(redirect_uri), Some(auth_url), Some(token_url), Some(revoke_url)) =
            (client_id, redirect_uri, auth_url, token_url, revoke_url)
        else {
            unreachable!("missing values are reported as problems");
        };
        let (
            Some(userinfo_url),
            Some(calendar_api_url),
            Some(jwks_url),
            Some(secrets),
            Some(storage),
            Some(allowed_return_to),
        ) = (userinfo_url, calendar_api_url, jwks_url, secrets, storage, allowed_return_to)
        else {
            unreachable!("missing values are reported as problems");
        };
        Ok(Config {
            google: GoogleConfig {
                client_id,
                redirect_uri,
                auth_url,
                token_url,
                revoke_url,
                userinfo_url,
                calendar_api_url,
                issuer,
                jwks_url,
                scopes,
                http_timeout,
                retry_budget,
            },
            secrets,
            storage,
            allowed_return_to,
            tenant_claim,
            sync,
            meet,
        })
    }
}

struct Reader<'a, F: Fn(&str) -> Option<String>> {
    lookup: &'a F,
    problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    fn problem(&mut self, text: &str) {
        self.problems.push(text.to_owned());
    }

    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn required(&mut self, name: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems.push(format!("{name} is required"));
        }
        value
    }

    fn required_because(&mut self, name: &str, why: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems.push(format!("{name} is required ({why})"));
        }
        value
    }

    fn parse_url(&mut self, name: &str, raw: &str) -> Option<Url> {
        match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => {
                Some(Url::parse(raw.trim_end_matches('/')).unwrap_or(url))
            }
            _ => {
                self.problems.push(format!("{name} must be an absolute http(s) URL"));
                None
            }
        }
    }

    fn required_url(&mut self, name: &str) -> Option<Url> {
        let raw = self.required(name)?;
        self.parse_url(name, &raw)
    }

    fn url_or(&mut self, name: &str, default: &str) -> Option<Url> {
        let raw = self.optional(name).unwrap_or_else(|| default.to_owned());
        self.parse_url(name, &raw)
    }

    fn number_or(&mut self, name: &str, default: u64) -> u64 {
        match self.optional(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problems.push(format!("{name} must be a whole number"));
                default
            }),
        }
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.optional(name).map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            Some(_) => {
                self.problems.push(format!("{name} must be true or false"));
                false
            }
        }
    }

    fn signing_key(&mut self, name: &str, raw: &str) -> Option<Vec<u8>> {
        match base64::engine::general_purpose::STANDARD.decode(raw) {
            Ok(bytes) if bytes.len() >= MIN_SIGNING_KEY_BYTES => Some(bytes),
            _ => {
                self.problems
                    .push(format!("{name} must be at least {MIN_SIGNING_KEY_BYTES} random bytes, base64-encoded"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    #[test]
    fn names_every_missing_variable_at_once() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        let text = err.to_string();
        for name in [
            "GOOGLE_CLIENT_ID",
            "GOOGLE_REDIRECT_URI",
            "GOOGLE_CLIENT_SECRET",
            "STATE_SIGNING_KEY",
            "TABLE_NAME",
            "ALLOWED_RETURN_TO",
        ] {
            assert!(text.contains(name), "{name} not named in: {text}");
        }
    }

    #[test]
    fn google_endpoints_default_to_google_and_can_all_be_overridden() {
        let base = [
            ("GOOGLE_CLIENT_ID", "cid"),
            ("GOOGLE_REDIRECT_URI", "https://api.example/connections/google/callback"),
            ("GOOGLE_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
            ("TABLE_NAME", "t"),
            ("KMS_KEY_ID", "k"),
            ("ALLOWED_RETURN_TO", "https://app.example/done"),
        ];
        let config = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.google.token_url.as_str(), DEFAULT_TOKEN_URL);
        assert_eq!(config.google.issuer, DEFAULT_ISSUER);
        assert_eq!(config.tenant_claim, "tenant_id");
        assert_eq!(config.google.launch_url().as_str(), "https://api.example/connections/google/launch");

        let mut vars = base.to_vec();
        vars.extend([
            ("GOOGLE_AUTH_URL", "http://127.0.0.1:9/o/oauth2/v2/auth"),
            ("GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token"),
            ("GOOGLE_REVOKE_URL", "http://127.0.0.1:9/revoke"),
            ("GOOGLE_USERINFO_URL", "http://127.0.0.1:9/v1/userinfo"),
            ("GOOGLE_CALENDAR_API_URL", "http://127.0.0.1:9/calendar/v3/"),
            ("GOOGLE_JWKS_URL", "http://127.0.0.1:9/oauth2/v3/certs"),
            ("GOOGLE_ISSUER", "http://127.0.0.1:9"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(config.google.token_url.as_str(), "http://127.0.0.1:9/token");
        assert_eq!(config.google.calendar_api_url.as_str(), "http://127.0.0.1:9/calendar/v3");
        assert_eq!(config.google.issuer, "http://127.0.0.1:9");
    }

    #[test]
    fn local_storage_and_inline_secrets() {
        let config = Config::from_lookup(lookup(&[
            ("GOOGLE_CLIENT_ID", "cid"),
            ("GOOGLE_CLIENT_SECRET", "shh"),
            ("STATE_SIGNING_KEY", KEY),
            ("GOOGLE_REDIRECT_URI", "http://127.0.0.1:8787/connections/google/callback"),
            ("LOCAL_DATA_DIR", "/tmp/x"),
            ("ALLOWED_RETURN_TO", "myapp://integrations"),
        ]))
        .unwrap();
        assert!(matches!(config.storage, StorageConfig::Embedded { .. }));
        assert!(matches!(config.secrets, SecretsConfig::Inline { .. }));
        assert!(!format!("{config:?}").contains("shh"), "secrets leak through Debug");
    }

    #[test]
    fn rejects_short_signing_keys_and_half_aws_storage() {
        let err = Config::from_lookup(lookup(&[
            ("GOOGLE_CLIENT_ID", "cid"),
            ("GOOGLE_CLIENT_SECRET", "shh"),
            ("STATE_SIGNING_KEY", "c2hvcnQ="),
            ("GOOGLE_REDIRECT_URI", "https://api.example/connections/google/callback"),
            ("TABLE_NAME", "t"),
            ("ALLOWED_RETURN_TO", "https://app.example"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("STATE_SIGNING_KEY must be at least 32"), "{err}");
        assert!(err.contains("KMS_KEY_ID is required when TABLE_NAME is set"), "{err}");
    }
}
