//! An `App` on fakes, for handler tests and benchmarks.

use std::sync::Arc;

use jiff::Timestamp;

use super::{FakeCalendar, FakeGoogle, ManualClock};

/// An [`App`](crate::app::App) on fakes: in-memory embedded store, local key, fake Google
/// OAuth and Calendar, a manual clock, fast retries. What handler tests and benchmarks run on.
pub struct TestApp {
    pub app: crate::app::App,
    pub google: Arc<FakeGoogle>,
    pub calendar: Arc<FakeCalendar>,
    pub clock: Arc<ManualClock>,
    pub store: crate::adapters::embedded_store::EmbeddedStore,
    pub gmail: Arc<super::FakeGmail>,
}

/// The configuration [`test_app`] runs with: API at `https://api.calbridge.example`, return
/// URLs `https://app.example.com/integrations/google` (default) and `myapp://integrations`.
pub const TEST_CONFIG: &[(&str, &str)] = &[
    ("GOOGLE_CLIENT_ID", "client-1"),
    ("GOOGLE_CLIENT_SECRET", "client-secret-value"),
    ("STATE_SIGNING_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
    ("GOOGLE_REDIRECT_URI", "https://api.calbridge.example/connections/google/callback"),
    ("LOCAL_DATA_DIR", "/nonexistent/unused"),
    ("ALLOWED_RETURN_TO", "https://app.example.com/integrations/google,myapp://integrations"),
    ("BOOKING_SIGNING_KEYS", "test-k1:Ym9va2luZy1saW5rLXRlc3Qta2V5LW9mLTMyLWJ5dGVz"),
];

pub fn test_app() -> TestApp {
    let config = crate::config::Config::from_lookup(|name| {
        TEST_CONFIG.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    })
    .expect("the test configuration is valid");
    let store = crate::adapters::embedded_store::EmbeddedStore::in_memory();
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let google = Arc::new(FakeGoogle::with_clock(clock.clone()));
    let calendar = Arc::new(FakeCalendar::new(google.clone()));
    let gmail = Arc::new(super::FakeGmail::default());
    let crate::config::SecretsConfig::Inline {
        client_secrets,
        webhook_secret_tokens,
        state_signing_key,
        booking_signing_keys,
    } = config.secrets
    else {
        unreachable!("the test configuration has inline secrets")
    };
    let secrets = crate::adapters::inline_secrets::InlineSecrets::new(
        client_secrets,
        webhook_secret_tokens,
        state_signing_key,
        booking_signing_keys,
    );
    let google_config = config.google.expect("the test configuration enables Google");
    // Gmail through the same fake Google and client, as a deployment without a separate mail
    // client has it: one grant at Google for both kinds.
    let gmail_config = config.gmail.expect("Gmail is offered with Google");
    let mut calendar_provider = crate::app::OAuthProvider::google(&google_config, google.clone());
    calendar_provider.grant_shared_with.push(crate::domain::Provider::Gmail);
    let app = crate::app::App {
        providers: std::collections::BTreeMap::from([
            (crate::domain::Provider::Google, calendar_provider),
            (
                crate::domain::Provider::Gmail,
                crate::app::OAuthProvider::gmail(&google_config, &gmail_config, google.clone()),
            ),
        ]),
        settings: crate::app::Settings {
            allowed_return_to: config.allowed_return_to,
            identity: crate::http::Identity {
                tenant_claim: config.tenant_claim,
                service_scope: config.service_scope,
                reserved_user: config.meet.organisation_user.clone(),
            },
            sync: config.sync,
            meet: config.meet,
            google_calls_per_user_minute: google_config.calls_per_user_minute,
            public_api_url: config.public_api_url,
            zoom_client_id: None,
        },
        connections: Arc::new(store.clone()),
        flows: Arc::new(store.clone()),
        syncs: Arc::new(store.clone()),
        meetings: Arc::new(store.clone()),
        budget: Arc::new(store.clone()),
        booking_links: Arc::new(store.clone()),
        sends: Arc::new(store.clone()),
        gmail: gmail.clone(),
        vault: Arc::new(crate::crypto::vault::Vault::new(Arc::new(crate::adapters::local_key::LocalKeyProvider::new(
            [3u8; 32],
        )))),
        calendar: calendar.clone(),
        zoom_meetings: None,
        retry: crate::usecases::retry::RetryPolicy {
            base: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(5),
            budget: std::time::Duration::from_millis(100),
        },
        secrets: Arc::new(crate::ports::Secrets::new(Arc::new(secrets))),
        clock: clock.clone(),
    };
    TestApp { app, google, calendar, clock, store, gmail }
}
