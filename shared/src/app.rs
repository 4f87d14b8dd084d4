//! The dependencies every handler receives, built once per container.
//!
//! `App` holds the ports as trait objects plus the settings the use cases need, and the OAuth
//! providers this deployment offers, by key ([`App::oauth`]). `from_config` picks the adapters
//! from configuration: DynamoDB + KMS (+ Secrets Manager) in AWS or against moto, or the
//! embedded store + local key for the local stack. It makes no network call: AWS credentials,
//! secrets and providers' keys are all fetched lazily on first use.

use std::collections::BTreeMap;
#[cfg(feature = "embedded-store")]
use std::path::Path;
use std::sync::Arc;

use url::Url;

use crate::adapters::dynamodb::DynamoDbStore;
#[cfg(feature = "embedded-store")]
use crate::adapters::embedded_store::EmbeddedStore;
use crate::adapters::google::calendar::GoogleCalendarClient;
use crate::adapters::google::gmail::GmailClient;
use crate::adapters::google::http_client;
use crate::adapters::google::oauth::GoogleOAuthClient;
use crate::adapters::inline_secrets::InlineSecrets;
use crate::adapters::kms::KmsKeyProvider;
#[cfg(feature = "embedded-store")]
use crate::adapters::local_key::LocalKeyProvider;
use crate::adapters::secrets_manager::SecretsManagerSource;
use crate::adapters::zoom::meetings::ZoomMeetingsClient;
use crate::adapters::zoom::oauth::ZoomOAuthClient;
use crate::config::{Config, GmailConfig, GoogleConfig, SecretsConfig, StorageConfig, ZoomConfig};
use crate::crypto::vault::Vault;
use crate::domain::{AllowedReturnTo, Provider, ScopeSet, UnknownProvider};
use crate::ports::{
    BookingLinkStore, CallBudget, Clock, ConnectionStore, FlowStore, GmailSender, GoogleCalendar, KeyProvider,
    MeetingStore, OAuthClient, Secrets, SendStore, SyncStore, SystemClock, ZoomMeetings,
};
use crate::usecases::retry::RetryPolicy;

/// The embedded store's file inside `LOCAL_DATA_DIR`.
pub const EMBEDDED_STORE_FILE: &str = "calbridge.redb";

/// Settings the use cases read (the non-secret part of [`Config`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub allowed_return_to: AllowedReturnTo,
    /// Which claims say who is calling.
    pub identity: crate::http::Identity,
    pub sync: crate::config::SyncConfig,
    pub meet: crate::config::MeetConfig,
    /// Calendar API calls allowed per user and minute ([`App::budget`]).
    pub google_calls_per_user_minute: u32,
    /// The API's public base URL, which booking-link URLs are built on.
    pub public_api_url: Url,
    /// The Zoom app's client id, when Zoom is offered: a deauthorization webhook naming
    /// another app is not ours to act on.
    pub zoom_client_id: Option<String>,
}

/// One provider a user can connect: its OAuth client and the flow's settings for it.
pub struct OAuthProvider {
    pub client: Arc<dyn OAuthClient>,
    /// Where the browser starts the consent flow (`/connections/{provider}/launch`).
    pub launch_url: Url,
    /// What a grant must cover to be stored.
    pub required_scopes: ScopeSet,
    /// The `iss` the provider names itself with in the redirect (RFC 9207), if it does.
    pub issuer: Option<String>,
    /// The provider's name as people write it, for messages.
    pub display_name: &'static str,
    /// The origin of the provider's consent page (`https://accounts.google.com`): where the
    /// launch page's form may lead.
    pub consent_origin: String,
    /// The providers whose connections hold grants of the same OAuth client, this one
    /// included: revoking one of their grants at the provider revokes the account's grant for
    /// all of them (Google and Gmail sharing a client).
    pub grant_shared_with: Vec<Provider>,
}

impl OAuthProvider {
    /// Google's settings, from its configuration section.
    pub fn google(config: &GoogleConfig, client: Arc<dyn OAuthClient>) -> Self {
        Self {
            client,
            launch_url: config.launch_url(),
            required_scopes: config.required_scopes(),
            issuer: Some(config.issuer.clone()),
            display_name: "Google",
            consent_origin: config.auth_url.origin().ascii_serialization(),
            grant_shared_with: vec![Provider::Google],
        }
    }

    /// Gmail's settings: Google's flow with Gmail's client, redirect and scopes.
    pub fn gmail(google: &GoogleConfig, gmail: &GmailConfig, client: Arc<dyn OAuthClient>) -> Self {
        let section = gmail.oauth_section(google);
        Self {
            display_name: "Gmail",
            grant_shared_with: if gmail.separate_client {
                vec![Provider::Gmail]
            } else {
                vec![Provider::Gmail, Provider::Google]
            },
            ..Self::google(&section, client)
        }
    }

    /// Zoom's settings, from its configuration section. Zoom names no issuer in its redirect.
    pub fn zoom(config: &ZoomConfig, client: Arc<dyn OAuthClient>) -> Self {
        Self {
            client,
            launch_url: config.launch_url(),
            required_scopes: config.required_scopes(),
            issuer: None,
            display_name: "Zoom",
            consent_origin: config.auth_url.origin().ascii_serialization(),
            grant_shared_with: vec![Provider::Zoom],
        }
    }
}

pub struct App {
    pub settings: Settings,
    /// The providers this deployment offers, by key.
    pub providers: BTreeMap<Provider, OAuthProvider>,
    pub connections: Arc<dyn ConnectionStore>,
    pub flows: Arc<dyn FlowStore>,
    pub syncs: Arc<dyn SyncStore>,
    pub meetings: Arc<dyn MeetingStore>,
    /// Calendar API calls spent per user and minute, shared by every container.
    pub budget: Arc<dyn CallBudget>,
    pub booking_links: Arc<dyn BookingLinkStore>,
    pub vault: Arc<Vault>,
    pub calendar: Arc<dyn GoogleCalendar>,
    /// Zoom's meetings API, when this deployment offers Zoom.
    pub zoom_meetings: Option<Arc<dyn ZoomMeetings>>,
    /// Gmail's send (used for [`Provider::Gmail`] connections only).
    pub gmail: Arc<dyn GmailSender>,
    /// Idempotency-Key records of sent mail.
    pub sends: Arc<dyn SendStore>,
    /// How Google API calls are retried.
    pub retry: RetryPolicy,
    pub secrets: Arc<Secrets>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the embedded store")]
    EmbeddedStore(#[source] crate::ports::StoreError),
    #[error(
        "LOCAL_DATA_DIR asks for the embedded store, which this binary is built without (the function binaries \
         run on DynamoDB: set TABLE_NAME and KMS_KEY_ID, or use calbridge-dev)"
    )]
    NoEmbeddedStore,
    #[error("cannot load or create the local master key")]
    LocalKey(#[source] std::io::Error),
}

/// Every record family of one backing store, as the ports the use cases take.
pub struct Stores {
    pub connections: Arc<dyn ConnectionStore>,
    pub flows: Arc<dyn FlowStore>,
    pub syncs: Arc<dyn SyncStore>,
    pub meetings: Arc<dyn MeetingStore>,
    pub budget: Arc<dyn CallBudget>,
    pub booking_links: Arc<dyn BookingLinkStore>,
    pub sends: Arc<dyn SendStore>,
}

impl Stores {
    pub fn of<
        S: ConnectionStore + FlowStore + SyncStore + MeetingStore + CallBudget + BookingLinkStore + SendStore + 'static,
    >(
        store: Arc<S>,
    ) -> Self {
        Self {
            connections: store.clone(),
            flows: store.clone(),
            syncs: store.clone(),
            meetings: store.clone(),
            budget: store.clone(),
            booking_links: store.clone(),
            sends: store,
        }
    }
}

impl App {
    /// The provider `provider` if this deployment offers it; an unconfigured provider is as
    /// unknown as one that does not exist.
    pub fn oauth(&self, provider: Provider) -> Result<&OAuthProvider, UnknownProvider> {
        self.providers.get(&provider).ok_or(UnknownProvider)
    }

    /// Builds the production wiring described by `config`.
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        let aws = match (&config.storage, &config.secrets) {
            (StorageConfig::Aws { .. }, _) | (_, SecretsConfig::SecretsManager { .. }) => {
                Some(crate::adapters::aws::sdk_config(&config.aws_timeouts))
            }
            _ => None,
        };
        let (stores, keys): (Stores, Arc<dyn KeyProvider>) = match &config.storage {
            StorageConfig::Aws { table_name, kms_key_id } => {
                let aws = aws.as_ref().expect("AWS config is loaded for AWS storage");
                let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(aws), table_name.clone());
                let keys = KmsKeyProvider::new(aws_sdk_kms::Client::new(aws), kms_key_id.clone());
                (Stores::of(Arc::new(store)), Arc::new(keys))
            }
            #[cfg(not(feature = "embedded-store"))]
            StorageConfig::Embedded { .. } => return Err(StartupError::NoEmbeddedStore),
            #[cfg(feature = "embedded-store")]
            StorageConfig::Embedded { data_dir, master_key } => {
                let store =
                    EmbeddedStore::open(&data_dir.join(EMBEDDED_STORE_FILE)).map_err(StartupError::EmbeddedStore)?;
                let keys = match master_key {
                    Some(key) => LocalKeyProvider::new(key.0),
                    None => LocalKeyProvider::load_or_create(Path::new(data_dir)).map_err(StartupError::LocalKey)?,
                };
                (Stores::of(Arc::new(store)), Arc::new(keys))
            }
        };
        let providers = config.client_secret_providers();
        let secrets = match config.secrets {
            SecretsConfig::SecretsManager { secret_id, ttl } => {
                let aws = aws.as_ref().expect("AWS config is loaded for Secrets Manager");
                let client = aws_sdk_secretsmanager::Client::new(aws);
                Secrets::with_ttl(Arc::new(SecretsManagerSource::new(client, secret_id, &providers)), ttl)
            }
            SecretsConfig::Inline {
                client_secrets,
                webhook_secret_tokens,
                state_signing_key,
                booking_signing_keys,
            } => Secrets::new(Arc::new(InlineSecrets::new(
                client_secrets,
                webhook_secret_tokens,
                state_signing_key,
                booking_signing_keys,
            ))),
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let secrets = Arc::new(secrets);
        // Google's section also configures the Calendar port. Configuration accepts no
        // deployment without it yet: Google is the only provider with an OAuth adapter.
        let google = config.google.clone().expect("Config::from_lookup requires Google's section");
        let http = http_client(google.http_timeout);
        let mut oauth = BTreeMap::new();
        if let Some(section) = &config.google {
            let client =
                Arc::new(GoogleOAuthClient::new(section.clone(), http.clone(), secrets.clone(), clock.clone()));
            oauth.insert(Provider::Google, OAuthProvider::google(section, client));
            if let Some(gmail) = &config.gmail {
                let secret_of = if gmail.separate_client { Provider::Gmail } else { Provider::Google };
                let adapter =
                    GoogleOAuthClient::new(gmail.oauth_section(section), http.clone(), secrets.clone(), clock.clone())
                        .with_secret_of(secret_of);
                oauth.insert(Provider::Gmail, OAuthProvider::gmail(section, gmail, Arc::new(adapter)));
                // A shared client's Calendar grants are Gmail's too.
                if !gmail.separate_client
                    && let Some(google) = oauth.get_mut(&Provider::Google)
                {
                    google.grant_shared_with.push(Provider::Gmail);
                }
            }
        }
        let mut zoom_meetings: Option<Arc<dyn ZoomMeetings>> = None;
        if let Some(section) = &config.zoom {
            let http = http_client(section.http_timeout);
            let client = Arc::new(ZoomOAuthClient::new(section.clone(), http.clone(), secrets.clone(), clock.clone()));
            oauth.insert(Provider::Zoom, OAuthProvider::zoom(section, client));
            zoom_meetings = Some(Arc::new(ZoomMeetingsClient::new(section.api_url.clone(), http)));
        }
        let gmail_api = config.gmail.as_ref().map_or_else(
            || Url::parse(crate::config::DEFAULT_GMAIL_API_URL).expect("the default is a URL"),
            |gmail| gmail.api_url.clone(),
        );
        let gmail = Arc::new(GmailClient::new(gmail_api, http.clone()));
        let calendar = Arc::new(GoogleCalendarClient::new(google.calendar_api_url.clone(), http));
        let retry = RetryPolicy { budget: google.retry_budget, ..RetryPolicy::default() };
        Ok(App {
            providers: oauth,
            settings: Settings {
                allowed_return_to: config.allowed_return_to,
                identity: crate::http::Identity {
                    tenant_claim: config.tenant_claim,
                    service_scope: config.service_scope,
                    reserved_user: config.meet.organisation_user.clone(),
                },
                sync: config.sync,
                meet: config.meet,
                google_calls_per_user_minute: google.calls_per_user_minute,
                public_api_url: config.public_api_url,
                zoom_client_id: config.zoom.as_ref().map(|zoom| zoom.client_id.clone()),
            },
            connections: stores.connections,
            flows: stores.flows,
            syncs: stores.syncs,
            meetings: stores.meetings,
            budget: stores.budget,
            booking_links: stores.booking_links,
            sends: stores.sends,
            gmail,
            vault: Arc::new(Vault::new(keys)),
            calendar,
            zoom_meetings,
            retry,
            secrets,
            clock,
        })
    }
}
