//! The dependencies every handler receives, built once per container.
//!
//! `App` holds the ports as trait objects plus the settings the use cases need. `from_config`
//! picks the adapters from configuration: DynamoDB + KMS (+ Secrets Manager) in AWS or against
//! moto, or the embedded store + local key for the local stack. It makes no network call:
//! AWS credentials, secrets and Google's keys are all fetched lazily on first use.

use std::path::Path;
use std::sync::Arc;

use crate::adapters::dynamodb::DynamoDbStore;
use crate::adapters::embedded_store::EmbeddedStore;
use crate::adapters::google_calendar::GoogleCalendarClient;
use crate::adapters::google_oauth::{GoogleOAuthClient, http_client};
use crate::adapters::kms::KmsKeyProvider;
use crate::adapters::local_key::LocalKeyProvider;
use crate::adapters::secrets_manager::SecretsManagerSource;
use crate::config::{Config, GoogleConfig, SecretsConfig, StorageConfig};
use crate::domain::AllowedReturnTo;
use crate::ports::{
    Clock, ConnectionStore, FlowStore, GoogleCalendar, GoogleOAuth, KeyProvider, MeetingStore, SecretSource, SyncStore,
    SystemClock,
};
use crate::retry::RetryPolicy;
use crate::secrets::{InlineSecrets, Secrets};
use crate::vault::Vault;

/// The embedded store's file inside `LOCAL_DATA_DIR`.
pub const EMBEDDED_STORE_FILE: &str = "calbridge.redb";

/// Settings the use cases read (the non-secret part of [`Config`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub google: GoogleConfig,
    pub allowed_return_to: AllowedReturnTo,
    pub tenant_claim: String,
    pub sync: crate::config::SyncConfig,
    pub meet: crate::config::MeetConfig,
}

pub struct App {
    pub settings: Settings,
    pub connections: Arc<dyn ConnectionStore>,
    pub flows: Arc<dyn FlowStore>,
    pub syncs: Arc<dyn SyncStore>,
    pub meetings: Arc<dyn MeetingStore>,
    pub vault: Arc<Vault>,
    pub google: Arc<dyn GoogleOAuth>,
    pub calendar: Arc<dyn GoogleCalendar>,
    /// How Google API calls are retried.
    pub retry: RetryPolicy,
    pub secrets: Arc<Secrets>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the embedded store")]
    EmbeddedStore(#[source] crate::ports::StoreError),
    #[error("cannot load or create the local master key")]
    LocalKey(#[source] std::io::Error),
}

/// Every record family of one backing store, as the ports the use cases take.
pub struct Stores {
    pub connections: Arc<dyn ConnectionStore>,
    pub flows: Arc<dyn FlowStore>,
    pub syncs: Arc<dyn SyncStore>,
    pub meetings: Arc<dyn MeetingStore>,
}

impl Stores {
    pub fn of<S: ConnectionStore + FlowStore + SyncStore + MeetingStore + 'static>(store: Arc<S>) -> Self {
        Self { connections: store.clone(), flows: store.clone(), syncs: store.clone(), meetings: store }
    }
}

impl App {
    /// Builds the production wiring described by `config`.
    pub async fn from_config(config: Config) -> Result<Self, StartupError> {
        let aws = match (&config.storage, &config.secrets) {
            (StorageConfig::Aws { .. }, _) | (_, SecretsConfig::SecretsManager { .. }) => {
                Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
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
        let secret_source: Arc<dyn SecretSource> = match config.secrets {
            SecretsConfig::SecretsManager { secret_id } => {
                let aws = aws.as_ref().expect("AWS config is loaded for Secrets Manager");
                Arc::new(SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(aws), secret_id))
            }
            SecretsConfig::Inline { google_client_secret, state_signing_key } => {
                Arc::new(InlineSecrets::new(google_client_secret, state_signing_key))
            }
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let secrets = Arc::new(Secrets::new(secret_source));
        let http = http_client(config.google.http_timeout);
        let google =
            Arc::new(GoogleOAuthClient::new(config.google.clone(), http.clone(), secrets.clone(), clock.clone()));
        let calendar = Arc::new(GoogleCalendarClient::new(config.google.calendar_api_url.clone(), http));
        let retry = RetryPolicy { budget: config.google.retry_budget, ..RetryPolicy::default() };
        Ok(App {
            settings: Settings {
                google: config.google,
                allowed_return_to: config.allowed_return_to,
                tenant_claim: config.tenant_claim,
                sync: config.sync,
                meet: config.meet,
            },
            connections: stores.connections,
            flows: stores.flows,
            syncs: stores.syncs,
            meetings: stores.meetings,
            vault: Arc::new(Vault::new(keys)),
            google,
            calendar,
            retry,
            secrets,
            clock,
        })
    }
}
