//! Every environment variable calbridge reads is read here, once, into a typed [`Config`].
//!
//! Parsing fails fast and names *every* missing or invalid variable in one error, so a
//! misconfigured deployment is fixed in one round trip. The Google endpoints default to
//! Google's real ones; pointing them (all of them, through these variables alone) at another
//! Google-compatible server, such as the bundled emulator, is the only difference between
//! production and the local stack.

mod aws;
mod gmail;
mod google;
mod reader;
mod zoom;

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use secrecy::{SecretBox, SecretString};
use url::Url;

use crate::crypto::booking_token::BookingSigningKeys;
use crate::domain::{AllowedReturnTo, Provider};
use reader::Reader;

pub use aws::AwsTimeouts;
pub use gmail::{DEFAULT_GMAIL_API_URL, DEFAULT_GMAIL_SCOPES, GMAIL_SEND_SCOPE, GmailConfig};
pub use google::{DEFAULT_SCOPES, GoogleConfig};
pub use zoom::{DEFAULT_ZOOM_SCOPES, ZoomConfig};

/// The variable naming the app's Secrets Manager secret.
pub const SECRET_ARN_VARIABLE: &str = "SECRET_ARN";
/// Its former name, still accepted (deprecated: it holds every provider's secrets, not Google's).
pub const DEPRECATED_SECRET_ARN_VARIABLE: &str = "GOOGLE_SECRET_ARN";

pub(crate) const MIN_SIGNING_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

#[derive(Debug)]
pub struct Config {
    /// Google's section, when Google is enabled (its client id is set).
    pub google: Option<GoogleConfig>,
    /// Zoom's section, when Zoom is enabled (`ZOOM_CLIENT_ID` is set).
    pub zoom: Option<ZoomConfig>,
    /// Gmail's section, offered with Google's (see [`GmailConfig`]).
    pub gmail: Option<GmailConfig>,
    pub secrets: SecretsConfig,
    pub storage: StorageConfig,
    /// Time limits of the AWS SDK calls (`AWS_*_TIMEOUT_MS`).
    pub aws_timeouts: AwsTimeouts,
    pub allowed_return_to: AllowedReturnTo,
    /// The JWT claim that carries the tenant id (`sub` carries the user id).
    pub tenant_claim: String,
    /// The scope (in `scope` or `scp`) that makes a token the app's service.
    pub service_scope: String,
    pub sync: SyncConfig,
    pub meet: MeetConfig,
    /// The API's public base URL (`PUBLIC_API_URL`, else derived from the Google redirect URI):
    /// booking-link URLs are built on it.
    pub public_api_url: Url,
}

/// How session meetings are created and which links may be attached.
#[derive(Debug, Clone)]
pub struct MeetConfig {
    /// Hosts an attached meeting link may point at: exact names, or `*.example.com` for any
    /// subdomain of example.com.
    pub allowed_hosts: Vec<String>,
    /// `sendUpdates` for invitations to attendees: `all`, `externalOnly` or `none`.
    pub send_updates: crate::ports::SendUpdates,
    /// Whether users (not only the service) may create meetings for sessions they host
    /// (`ALLOW_USER_MEETINGS`, for apps whose every user is staff).
    pub allow_user_meetings: bool,
    /// What a create without `provider` or `existing_url` makes (`DEFAULT_MEETING_PROVIDER`,
    /// `google_meet` unless set; `zoom` needs Zoom configured).
    pub default_provider: crate::domain::MeetingProvider,
    /// Whether a request's `title` becomes the Zoom meeting's topic (`ALLOW_MEETING_TITLES`);
    /// off, every Zoom meeting is called "Session", so no client's name or reason for a visit
    /// reaches Zoom.
    pub allow_titles: bool,
    /// Whether Zoom meetings open with a waiting room (`ZOOM_WAITING_ROOM`, default on).
    pub zoom_waiting_room: bool,
    /// The reserved user whose Zoom connection is each tenant's organisation connection
    /// (`ORGANISATION_ZOOM_USER_ID`): the service connects it once for the tenant, and hosts
    /// without a Zoom connection of their own get their meetings made with it. Unset: no
    /// fallback. No user may call calbridge as this user.
    pub organisation_user: Option<crate::domain::UserId>,
}

/// The scope that marks the app's service unless `SERVICE_SCOPE` says otherwise.
pub const DEFAULT_SERVICE_SCOPE: &str = "calbridge/service";

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

/// The variable that enables a provider: its OAuth client id (`GOOGLE_CLIENT_ID`).
pub fn client_id_variable(provider: Provider) -> String {
    format!("{}_CLIENT_ID", provider.as_str().to_ascii_uppercase())
}

impl Config {
    /// The providers this deployment offers.
    pub fn providers(&self) -> Vec<Provider> {
        let google = self.google.iter().map(|_| Provider::Google);
        let gmail = self.gmail.iter().map(|_| Provider::Gmail);
        google.chain(gmail).chain(self.zoom.iter().map(|_| Provider::Zoom)).collect()
    }

    /// The providers with a client secret of their own in the stored secret: Gmail only with
    /// a separate mail client (else it uses Google's).
    pub fn client_secret_providers(&self) -> Vec<Provider> {
        let own = |p: &Provider| *p != Provider::Gmail || self.gmail.as_ref().is_some_and(|g| g.separate_client);
        self.providers().into_iter().filter(own).collect()
    }
}

/// Where the providers' client secrets and the OAuth state-signing key come from.
pub enum SecretsConfig {
    /// Lambda: one Secrets Manager secret, fetched on first use and again after `ttl`
    /// (`SECRETS_CACHE_TTL_SECONDS`, default 300, at least 1).
    SecretsManager { secret_id: String, ttl: std::time::Duration },
    /// Local runs and tests: given directly (`<PROVIDER>_CLIENT_SECRET`, `STATE_SIGNING_KEY`,
    /// `ZOOM_WEBHOOK_SECRET_TOKEN` with Zoom, optionally `BOOKING_SIGNING_KEYS`).
    Inline {
        client_secrets: BTreeMap<Provider, SecretString>,
        webhook_secret_tokens: BTreeMap<Provider, SecretString>,
        state_signing_key: SecretBox<Vec<u8>>,
        booking_signing_keys: Option<BookingSigningKeys>,
    },
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsConfig::SecretsManager { secret_id, ttl } => {
                f.debug_struct("SecretsManager").field("secret_id", secret_id).field("ttl", ttl).finish()
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

        // Google's section is read always: the calendar side (availability, sync, Meet) is
        // Google's, so this build offers Zoom alongside Google only, when its client id is set,
        // and a deployment without either is told what to set.
        let google: Option<GoogleConfig> = google::read(&mut env);
        let zoom = env.optional(&client_id_variable(Provider::Zoom)).is_some().then(|| zoom::read(&mut env));
        let gmail = google.as_ref().and_then(|google| gmail::read(&mut env, google));
        // The providers whose sections were read and that have a client of their own: each
        // needs its client secret too.
        let separate_mail_client = gmail.as_ref().is_some_and(|g| g.separate_client);
        let providers: Vec<Provider> = std::iter::once(Provider::Google)
            .chain(separate_mail_client.then_some(Provider::Gmail))
            .chain(zoom.iter().map(|_| Provider::Zoom))
            .collect();
        let sections_ok = google.is_some() && !matches!(zoom, Some(None));
        let zoom: Option<ZoomConfig> = zoom.flatten();

        let secret_arn = match (env.optional(SECRET_ARN_VARIABLE), env.optional(DEPRECATED_SECRET_ARN_VARIABLE)) {
            (Some(arn), Some(old)) if arn != old => {
                env.problem("SECRET_ARN and GOOGLE_SECRET_ARN (its deprecated name) name different secrets; set SECRET_ARN only");
                None
            }
            (Some(arn), _) => Some(arn),
            (None, Some(old)) => {
                tracing::warn!("GOOGLE_SECRET_ARN is deprecated; name the secret with SECRET_ARN");
                Some(old)
            }
            (None, None) => None,
        };
        let secrets = match secret_arn {
            Some(secret_id) => {
                let ttl = std::time::Duration::from_secs(env.number_or("SECRETS_CACHE_TTL_SECONDS", 300).max(1));
                Some(SecretsConfig::SecretsManager { secret_id, ttl })
            }
            None => {
                let because = "SECRET_ARN is not set";
                let mut client_secrets = BTreeMap::new();
                for &provider in &providers {
                    let name = format!("{}_CLIENT_SECRET", provider.as_str().to_ascii_uppercase());
                    if let Some(secret) = env.required_because(&name, because) {
                        client_secrets.insert(provider, SecretString::from(secret));
                    }
                }
                let webhook_providers: Vec<Provider> =
                    providers.iter().copied().filter(|p| crate::ports::has_webhook_secret(*p)).collect();
                let mut webhook_secret_tokens = BTreeMap::new();
                for &provider in &webhook_providers {
                    let name = format!("{}_WEBHOOK_SECRET_TOKEN", provider.as_str().to_ascii_uppercase());
                    if let Some(secret) = env.required_because(&name, because) {
                        webhook_secret_tokens.insert(provider, SecretString::from(secret));
                    }
                }
                let key = env
                    .required_because("STATE_SIGNING_KEY", because)
                    .and_then(|raw| env.signing_key("STATE_SIGNING_KEY", &raw));
                let booking = env.optional("BOOKING_SIGNING_KEYS").map(|raw| {
                    BookingSigningKeys::parse(&raw).map_err(|e| env.problem(&format!("BOOKING_SIGNING_KEYS: {e}")))
                });
                match (key, booking.transpose()) {
                    (Some(key), Ok(booking_signing_keys))
                        if client_secrets.len() == providers.len()
                            && webhook_secret_tokens.len() == webhook_providers.len() =>
                    {
                        Some(SecretsConfig::Inline {
                            client_secrets,
                            webhook_secret_tokens,
                            state_signing_key: SecretBox::new(Box::new(key)),
                            booking_signing_keys,
                        })
                    }
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

        let aws_timeouts = aws::read(&mut env);

        let allowed_return_to = env.required("ALLOWED_RETURN_TO").and_then(|raw| {
            AllowedReturnTo::parse(&raw).map_err(|e| env.problem(&format!("ALLOWED_RETURN_TO: {e}"))).ok()
        });
        let tenant_claim = env.optional("TENANT_CLAIM").unwrap_or_else(|| "tenant_id".to_owned());
        let service_scope = env.optional("SERVICE_SCOPE").unwrap_or_else(|| DEFAULT_SERVICE_SCOPE.to_owned());
        if service_scope.chars().any(char::is_whitespace) {
            env.problem("SERVICE_SCOPE must be one scope, without spaces");
        }
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
            allow_user_meetings: env.flag("ALLOW_USER_MEETINGS"),
            default_provider: match env.optional("DEFAULT_MEETING_PROVIDER").as_deref() {
                None => crate::domain::MeetingProvider::GoogleMeet,
                Some(raw) => crate::domain::MeetingProvider::parse(raw).unwrap_or_else(|| {
                    env.problem("DEFAULT_MEETING_PROVIDER must be google_meet or zoom");
                    crate::domain::MeetingProvider::GoogleMeet
                }),
            },
            allow_titles: env.flag("ALLOW_MEETING_TITLES"),
            zoom_waiting_room: env.optional("ZOOM_WAITING_ROOM").is_none() || env.flag("ZOOM_WAITING_ROOM"),
            organisation_user: env.optional("ORGANISATION_ZOOM_USER_ID").and_then(|raw| {
                crate::domain::UserId::parse(&raw)
                    .map_err(|e| env.problem(&format!("ORGANISATION_ZOOM_USER_ID: {e}")))
                    .ok()
            }),
        };
        if zoom.is_none() {
            if meet.default_provider == crate::domain::MeetingProvider::Zoom {
                env.problem("DEFAULT_MEETING_PROVIDER=zoom needs Zoom configured (ZOOM_CLIENT_ID)");
            }
            if meet.organisation_user.is_some() {
                env.problem("ORGANISATION_ZOOM_USER_ID needs Zoom configured (ZOOM_CLIENT_ID)");
            }
        }

        let public_api_url = match env.optional("PUBLIC_API_URL") {
            Some(raw) => env.parse_url("PUBLIC_API_URL", raw.trim_end_matches('/')),
            None => google.as_ref().map(GoogleConfig::api_base_url),
        };
        if env.optional("BOOKING_SIGNING_KEYS").is_some()
            && matches!(secrets, Some(SecretsConfig::SecretsManager { .. }))
        {
            env.problem("BOOKING_SIGNING_KEYS is for inline secrets; put booking_signing_keys in the secret instead");
        }

        if !env.problems.is_empty() {
            return Err(ConfigError { problems: env.problems });
        }
        // Every `None` above pushed a problem, so these cannot fail past this point.
        let (true, Some(secrets), Some(storage), Some(allowed_return_to), Some(public_api_url)) =
            (sections_ok, secrets, storage, allowed_return_to, public_api_url)
        else {
            unreachable!("missing values are reported as problems");
        };
        Ok(Config {
            google,
            zoom,
            gmail,
            secrets,
            storage,
            aws_timeouts,
            allowed_return_to,
            tenant_claim,
            service_scope,
            sync,
            meet,
            public_api_url,
        })
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
        let google = config.google.as_ref().unwrap();
        assert_eq!(google.token_url.as_str(), google::DEFAULT_TOKEN_URL);
        assert_eq!(google.issuer, google::DEFAULT_ISSUER);
        assert_eq!(config.tenant_claim, "tenant_id");
        assert_eq!(config.service_scope, "calbridge/service");
        assert!(!config.meet.allow_user_meetings);
        assert_eq!(google.launch_url().as_str(), "https://api.example/connections/google/launch");
        assert_eq!(config.public_api_url.as_str(), "https://api.example/");

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
        let google = config.google.unwrap();
        assert_eq!(google.token_url.as_str(), "http://127.0.0.1:9/token");
        assert_eq!(google.calendar_api_url.as_str(), "http://127.0.0.1:9/calendar/v3");
        assert_eq!(google.issuer, "http://127.0.0.1:9");
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

    const AWS_BASE: [(&str, &str); 5] = [
        ("GOOGLE_CLIENT_ID", "cid"),
        ("GOOGLE_REDIRECT_URI", "https://api.example/connections/google/callback"),
        ("TABLE_NAME", "t"),
        ("KMS_KEY_ID", "k"),
        ("ALLOWED_RETURN_TO", "https://app.example/done"),
    ];

    fn secret_id(config: &Config) -> &str {
        match &config.secrets {
            SecretsConfig::SecretsManager { secret_id, .. } => secret_id,
            SecretsConfig::Inline { .. } => panic!("expected the Secrets Manager secret"),
        }
    }

    #[test]
    fn the_secret_is_named_by_secret_arn_or_its_deprecated_alias() {
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:app";
        let mut vars = AWS_BASE.to_vec();
        vars.push(("SECRET_ARN", arn));
        assert_eq!(secret_id(&Config::from_lookup(lookup(&vars)).unwrap()), arn);

        let mut vars = AWS_BASE.to_vec();
        vars.push(("GOOGLE_SECRET_ARN", arn));
        assert_eq!(secret_id(&Config::from_lookup(lookup(&vars)).unwrap()), arn, "the deprecated name still works");

        vars.push(("SECRET_ARN", arn));
        assert_eq!(secret_id(&Config::from_lookup(lookup(&vars)).unwrap()), arn, "both, naming the same secret");

        let mut vars = AWS_BASE.to_vec();
        vars.extend([("SECRET_ARN", arn), ("GOOGLE_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:other")]);
        let err = Config::from_lookup(lookup(&vars)).unwrap_err().to_string();
        assert!(err.contains("name different secrets"), "{err}");

        // Without either, the inline secrets are required, and the message says why.
        let err = Config::from_lookup(lookup(&AWS_BASE)).unwrap_err().to_string();
        assert!(err.contains("GOOGLE_CLIENT_SECRET is required (SECRET_ARN is not set)"), "{err}");
    }

    #[test]
    fn gmail_comes_with_google_on_its_client_unless_a_mail_client_is_named() {
        let mut vars = AWS_BASE.to_vec();
        vars.push(("SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:app"));
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        let gmail = config.gmail.as_ref().expect("Gmail is offered with Google");
        let google = config.google.as_ref().unwrap();
        assert_eq!(gmail.client_id, google.client_id);
        assert!(!gmail.separate_client);
        assert!(gmail.redirect_uri.as_str().ends_with("/connections/gmail/callback"));
        assert_eq!(gmail.redirect_uri.origin(), google.redirect_uri.origin());
        assert_eq!(gmail.api_url.as_str(), gmail::DEFAULT_GMAIL_API_URL);
        assert_eq!(gmail.scopes.join(" "), DEFAULT_GMAIL_SCOPES);
        assert_eq!(config.client_secret_providers(), vec![Provider::Google]);

        vars.extend([
            ("GOOGLE_MAIL_CLIENT_ID", "mail-cid"),
            ("GOOGLE_MAIL_REDIRECT_URI", "https://mail.example/connections/gmail/callback"),
            ("GOOGLE_GMAIL_API_URL", "http://127.0.0.1:9/gmail/v1"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        let gmail = config.gmail.as_ref().unwrap();
        assert!(gmail.separate_client);
        assert_eq!(gmail.client_id, "mail-cid");
        assert_eq!(gmail.redirect_uri.as_str(), "https://mail.example/connections/gmail/callback");
        assert_eq!(gmail.api_url.as_str(), "http://127.0.0.1:9/gmail/v1");
        assert_eq!(config.client_secret_providers(), vec![Provider::Google, Provider::Gmail]);

        vars.push(("GOOGLE_MAIL_REDIRECT_URI", "https://mail.example/connections/google/callback"));
        let bad = vars.iter().filter(|(k, v)| *k != "GOOGLE_MAIL_REDIRECT_URI" || v.contains("/google/")).copied();
        let err = Config::from_lookup(lookup(&bad.collect::<Vec<_>>())).unwrap_err().to_string();
        assert!(err.contains("GOOGLE_MAIL_REDIRECT_URI must end with /connections/gmail/callback"), "{err}");
    }

    #[test]
    fn zoom_is_offered_when_its_client_id_is_set_with_zoom_defaults() {
        let mut vars = AWS_BASE.to_vec();
        vars.extend([
            ("SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:app"),
            ("ZOOM_CLIENT_ID", "zcid"),
            ("ZOOM_REDIRECT_URI", "https://api.example/connections/zoom/callback"),
        ]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(config.providers(), vec![Provider::Google, Provider::Gmail, Provider::Zoom]);
        let zoom = config.zoom.as_ref().unwrap();
        assert_eq!(zoom.client_id, "zcid");
        assert_eq!(zoom.auth_url.as_str(), zoom::DEFAULT_AUTH_URL);
        assert_eq!(zoom.token_url.as_str(), zoom::DEFAULT_TOKEN_URL);
        assert_eq!(zoom.revoke_url.as_str(), zoom::DEFAULT_REVOKE_URL);
        assert_eq!(zoom.api_url.as_str(), zoom::DEFAULT_API_URL);
        assert_eq!(zoom.scopes.join(" "), DEFAULT_ZOOM_SCOPES);
        assert_eq!(zoom.launch_url().as_str(), "https://api.example/connections/zoom/launch");

        vars.extend([
            ("ZOOM_AUTH_URL", "http://127.0.0.1:9/oauth/authorize"),
            ("ZOOM_TOKEN_URL", "http://127.0.0.1:9/oauth/token"),
            ("ZOOM_REVOKE_URL", "http://127.0.0.1:9/oauth/revoke"),
            ("ZOOM_API_URL", "http://127.0.0.1:9/v2/"),
            ("ZOOM_SCOPES", "user:read:user,meeting:write:meeting"),
        ]);
        let zoom = Config::from_lookup(lookup(&vars)).unwrap().zoom.unwrap();
        assert_eq!(zoom.token_url.as_str(), "http://127.0.0.1:9/oauth/token");
        assert_eq!(zoom.api_url.as_str(), "http://127.0.0.1:9/v2");
        assert_eq!(zoom.scopes, ["user:read:user", "meeting:write:meeting"]);

        // Without Zoom's client id, Zoom is not offered.
        assert!(Config::from_lookup(lookup(&vars[..6])).unwrap().zoom.is_none());
    }

    #[test]
    fn zoom_inline_secrets_need_the_client_secret_and_the_webhook_secret_token() {
        let base = [
            ("GOOGLE_CLIENT_ID", "cid"),
            ("GOOGLE_CLIENT_SECRET", "shh"),
            ("STATE_SIGNING_KEY", KEY),
            ("GOOGLE_REDIRECT_URI", "http://127.0.0.1:8787/connections/google/callback"),
            ("LOCAL_DATA_DIR", "/tmp/x"),
            ("ALLOWED_RETURN_TO", "myapp://integrations"),
            ("ZOOM_CLIENT_ID", "zcid"),
            ("ZOOM_REDIRECT_URI", "http://127.0.0.1:8787/connections/zoom/callback"),
        ];
        let err = Config::from_lookup(lookup(&base)).unwrap_err().to_string();
        assert!(err.contains("ZOOM_CLIENT_SECRET is required"), "{err}");
        assert!(err.contains("ZOOM_WEBHOOK_SECRET_TOKEN is required"), "{err}");

        let mut vars = base.to_vec();
        vars.extend([("ZOOM_CLIENT_SECRET", "zoom-shh"), ("ZOOM_WEBHOOK_SECRET_TOKEN", "zoom-hook-shh")]);
        let config = Config::from_lookup(lookup(&vars)).unwrap();
        let SecretsConfig::Inline { client_secrets, webhook_secret_tokens, .. } = &config.secrets else {
            panic!("inline secrets expected");
        };
        assert!(client_secrets.contains_key(&Provider::Zoom));
        assert!(webhook_secret_tokens.contains_key(&Provider::Zoom));
        assert!(!webhook_secret_tokens.contains_key(&Provider::Google));
        let debug = format!("{config:?}");
        assert!(!debug.contains("zoom-shh") && !debug.contains("zoom-hook-shh"), "secrets leak through Debug");
    }

    #[test]
    fn zoom_alone_is_refused_and_a_wrong_zoom_redirect_is_named() {
        let err = Config::from_lookup(lookup(&[
            ("ZOOM_CLIENT_ID", "zcid"),
            ("ZOOM_REDIRECT_URI", "https://api.example/zoom/cb"),
            ("SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:app"),
            ("TABLE_NAME", "t"),
            ("KMS_KEY_ID", "k"),
            ("ALLOWED_RETURN_TO", "https://app.example/done"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("GOOGLE_CLIENT_ID is required"), "{err}");
        assert!(err.contains("ZOOM_REDIRECT_URI must end with /connections/zoom/callback"), "{err}");
    }

    #[test]
    fn aws_timeouts_default_to_attempt_2s_operation_5s_connect_1s_and_can_be_set() {
        let config = Config::from_lookup(lookup(&[AWS_BASE.as_slice(), &[("SECRET_ARN", "arn:x")]].concat())).unwrap();
        let expected = AwsTimeouts {
            connect: std::time::Duration::from_secs(1),
            attempt: std::time::Duration::from_secs(2),
            operation: std::time::Duration::from_secs(5),
        };
        assert_eq!(config.aws_timeouts, expected);
        assert_eq!(AwsTimeouts::default(), expected);

        let mut vars = AWS_BASE.to_vec();
        vars.extend([
            ("SECRET_ARN", "arn:x"),
            ("AWS_CONNECT_TIMEOUT_MS", "50"),
            ("AWS_ATTEMPT_TIMEOUT_MS", "300"),
            ("AWS_OPERATION_TIMEOUT_MS", "900"),
        ]);
        let timeouts = Config::from_lookup(lookup(&vars)).unwrap().aws_timeouts;
        assert_eq!(timeouts.connect.as_millis(), 50);
        assert_eq!(timeouts.attempt.as_millis(), 300);
        assert_eq!(timeouts.operation.as_millis(), 900);
    }

    #[test]
    fn aws_timeouts_that_could_never_fire_or_are_not_numbers_are_rejected() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[("AWS_ATTEMPT_TIMEOUT_MS", "6000")], "AWS_ATTEMPT_TIMEOUT_MS must not exceed AWS_OPERATION_TIMEOUT_MS"),
            (&[("AWS_CONNECT_TIMEOUT_MS", "3100")], "AWS_CONNECT_TIMEOUT_MS must not exceed AWS_ATTEMPT_TIMEOUT_MS"),
            (&[("AWS_OPERATION_TIMEOUT_MS", "0")], "AWS_OPERATION_TIMEOUT_MS must be at least 1"),
            (&[("AWS_ATTEMPT_TIMEOUT_MS", "2s")], "AWS_ATTEMPT_TIMEOUT_MS must be a whole number"),
        ];
        for (extra, message) in cases {
            let vars = [AWS_BASE.as_slice(), &[("SECRET_ARN", "arn:x")], extra].concat();
            let err = Config::from_lookup(lookup(&vars)).unwrap_err().to_string();
            assert!(err.contains(message), "{extra:?}: {err}");
        }
    }
}
