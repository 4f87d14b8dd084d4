//! Everything the emulator remembers, in memory behind one mutex.
//!
//! Contract: handlers lock [`Emulator::store`], read and change the [`Store`], and
//! unlock before any `.await`, so a slow fault never blocks other requests. The
//! store holds the OAuth side (apps, users, grants, codes, tokens, revocations),
//! the API side (meetings, the ZAKs inside issued start URLs, per-user daily
//! write counts) and the harness side (fault queue, call log, sent webhooks).
//! A grant is one user's authorization of one app; every token belongs to one
//! grant, and revoking (or deauthorizing) revokes the whole grant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value};

use crate::config::{ClientConfig, EmulatorConfig, UserConfig};
use crate::faults::{Endpoint, FaultQueue};
use crate::random;

pub(crate) type SharedEmulator = Arc<Emulator>;

/// The configuration an emulator was started with and its mutable store.
pub(crate) struct Emulator {
    pub config: EmulatorConfig,
    store: Mutex<Store>,
}

impl Emulator {
    pub fn new(config: EmulatorConfig) -> Self {
        let store = Store::seeded(&config);
        Emulator { config, store: Mutex::new(store) }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves data a test may still want to
        // inspect; an emulator is better off serving it than dying.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Back to the configured seed: apps and users as configured; grants,
    /// tokens, meetings, faults, the call log and webhooks emptied.
    pub fn reset(&self) {
        *self.store() = Store::seeded(&self.config);
    }
}

pub(crate) struct Store {
    pub clients: BTreeMap<String, ClientConfig>,
    /// By email.
    pub users: BTreeMap<String, User>,
    /// Indexed by [`GrantId`].
    pub grants: Vec<Grant>,
    pub codes: Vec<AuthorizationCode>,
    pub access_tokens: Vec<AccessToken>,
    pub refresh_tokens: Vec<RefreshToken>,
    pub revocations: Vec<Revocation>,
    pub meetings: Vec<Meeting>,
    pub zaks: Vec<Zak>,
    /// Meeting creates + updates per (user id, UTC day).
    pub daily_meeting_writes: BTreeMap<(String, Date), u32>,
    pub faults: FaultQueue,
    pub call_counts: BTreeMap<&'static str, u64>,
    pub call_log: Vec<CallRecord>,
    pub webhooks: Vec<Value>,
}

pub(crate) struct User {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub timezone: String,
    pub r#type: u8,
    pub pmi: i64,
    pub created_at: Timestamp,
}

pub(crate) type GrantId = usize;

/// One user's authorization of one app.
pub(crate) struct Grant {
    pub user: String,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub revoked: bool,
}

pub(crate) struct AuthorizationCode {
    pub code: String,
    pub client_id: String,
    pub user: String,
    pub grant: GrantId,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at: Timestamp,
    pub used: bool,
    /// The PKCE verifier that redeemed this code, for `GET /_emulator/tokens`.
    pub redeemed_with_verifier: Option<String>,
    /// Tokens minted from this code, revoked if the code is replayed.
    pub minted: Vec<String>,
}

pub(crate) struct AccessToken {
    pub token: String,
    pub user: String,
    pub client_id: String,
    pub grant: GrantId,
    pub scopes: BTreeSet<String>,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

pub(crate) struct RefreshToken {
    pub token: String,
    pub user: String,
    pub client_id: String,
    pub grant: GrantId,
    pub revoked: bool,
    /// Set when a refresh rotated this token out: the token that replaced it.
    pub rotated_to: Option<String>,
}

pub(crate) struct Revocation {
    /// `revoke` (POST /oauth/revoke), `deauthorize` (app_deauthorized), `code_replay`.
    pub cause: &'static str,
    pub user: String,
    pub client_id: String,
    pub at: Timestamp,
}

/// A meeting as the API returns it (Zoom's field names), minus the per-call
/// `start_url`; `deleted` meetings stay so tests can inspect them.
pub(crate) struct Meeting {
    pub id: i64,
    pub host_email: String,
    pub resource: Map<String, Value>,
    pub deleted: bool,
}

/// The Zoom Access Key inside one issued `start_url`.
pub(crate) struct Zak {
    pub zak: String,
    pub meeting_id: i64,
    pub user: String,
    pub expires_at: Timestamp,
}

/// One request outside `/_emulator`, as it reached the emulator.
pub(crate) struct CallRecord {
    pub method: String,
    pub path: String,
    pub at: Timestamp,
}

/// Who is calling the API, and with what consent.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub user: String,
    pub scopes: BTreeSet<String>,
}

/// A seed or control request that would leave the store inconsistent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeedError {
    #[error("user email must not be empty")]
    EmptyEmail,
    #[error("user id {0} is already used by another user")]
    DuplicateUserId(String),
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    #[error(
        "client_id, client_secret and webhook_secret_token must not be empty and at least one redirect URI is required"
    )]
    IncompleteClient,
}

impl Store {
    fn seeded(config: &EmulatorConfig) -> Self {
        let mut store = Store {
            clients: BTreeMap::new(),
            users: BTreeMap::new(),
            grants: Vec::new(),
            codes: Vec::new(),
            access_tokens: Vec::new(),
            refresh_tokens: Vec::new(),
            revocations: Vec::new(),
            meetings: Vec::new(),
            zaks: Vec::new(),
            daily_meeting_writes: BTreeMap::new(),
            faults: FaultQueue::default(),
            call_counts: BTreeMap::new(),
            call_log: Vec::new(),
            webhooks: Vec::new(),
        };
        for client in &config.clients {
            if let Err(error) = store.upsert_client(client.clone()) {
                tracing::warn!(%error, client_id = %client.client_id, "skipping configured client");
            }
        }
        for user in &config.users {
            if let Err(error) = store.add_user(user.clone()) {
                tracing::warn!(%error, email = %user.email, "skipping configured user");
            }
        }
        store
    }

    pub fn upsert_client(&mut self, client: ClientConfig) -> Result<(), SeedError> {
        if client.client_id.is_empty()
            || client.client_secret.is_empty()
            || client.webhook_secret_token.is_empty()
            || client.redirect_uris.is_empty()
        {
            return Err(SeedError::IncompleteClient);
        }
        self.clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    /// Adds (or replaces, by email) a user.
    pub fn add_user(&mut self, config: UserConfig) -> Result<&User, SeedError> {
        let email = config.email.trim().to_owned();
        if email.is_empty() {
            return Err(SeedError::EmptyEmail);
        }
        if jiff::tz::TimeZone::get(&config.timezone).is_err() {
            return Err(SeedError::UnknownTimeZone(config.timezone));
        }
        let id = config.id.unwrap_or_else(random::zoom_id);
        if self.users.values().any(|user| user.id == id && user.email != email) {
            return Err(SeedError::DuplicateUserId(id));
        }
        let local = email.split('@').next().unwrap_or(&email).to_owned();
        let user = User {
            id,
            account_id: config.account_id.unwrap_or_else(random::zoom_id),
            first_name: config.first_name.unwrap_or(local),
            last_name: config.last_name.unwrap_or_default(),
            timezone: config.timezone,
            r#type: config.r#type,
            pmi: random::meeting_id(),
            created_at: Timestamp::now(),
            email: email.clone(),
        };
        self.users.insert(email.clone(), user);
        Ok(&self.users[&email])
    }

    /// The user an id, an email or `me` (for `caller`) names.
    pub fn user_by_path_id(&self, caller: &str, path_id: &str) -> Option<&User> {
        if path_id == "me" {
            return self.users.get(caller);
        }
        self.users.values().find(|user| user.id == path_id || user.email.eq_ignore_ascii_case(path_id))
    }

    pub fn count_call(&mut self, endpoint: Endpoint) {
        *self.call_counts.entry(endpoint.name()).or_default() += 1;
    }

    pub fn log_call(&mut self, method: &str, path: &str) {
        self.call_log.push(CallRecord { method: method.to_owned(), path: path.to_owned(), at: Timestamp::now() });
    }

    /// The live (unrevoked) grant of `user` to `client_id`.
    pub fn active_grant(&self, user: &str, client_id: &str) -> Option<GrantId> {
        self.grants.iter().position(|grant| !grant.revoked && grant.user == user && grant.client_id == client_id)
    }

    /// Revokes a grant and every token issued under it.
    pub fn revoke_grant(&mut self, grant: GrantId, cause: &'static str) {
        self.grants[grant].revoked = true;
        for token in self.access_tokens.iter_mut().filter(|t| t.grant == grant) {
            token.revoked = true;
        }
        for token in self.refresh_tokens.iter_mut().filter(|t| t.grant == grant) {
            token.revoked = true;
        }
        let grant = &self.grants[grant];
        self.revocations.push(Revocation {
            cause,
            user: grant.user.clone(),
            client_id: grant.client_id.clone(),
            at: Timestamp::now(),
        });
    }

    /// The caller behind a Bearer access token, if the token is known, unexpired,
    /// unrevoked and its grant is still live.
    pub fn authenticate(&self, access_token: &str, now: Timestamp) -> Option<Caller> {
        let token = self.access_tokens.iter().find(|candidate| candidate.token == access_token)?;
        let live = !token.revoked && !self.grants[token.grant].revoked && now < token.expires_at;
        live.then(|| Caller { user: token.user.clone(), scopes: token.scopes.clone() })
    }

    pub fn meeting(&self, id: i64) -> Option<&Meeting> {
        self.meetings.iter().find(|meeting| meeting.id == id)
    }

    pub fn meeting_mut(&mut self, id: i64) -> Option<&mut Meeting> {
        self.meetings.iter_mut().find(|meeting| meeting.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_found_by_me_id_or_email() {
        let emulator = Emulator::new(EmulatorConfig::default());
        let store = emulator.store();
        let demo = &store.users["demo@example.com"];
        assert_eq!(store.user_by_path_id("demo@example.com", "me").unwrap().id, demo.id);
        assert_eq!(store.user_by_path_id("alex@example.com", &demo.id).unwrap().email, "demo@example.com");
        assert_eq!(store.user_by_path_id("alex@example.com", "DEMO@example.com").unwrap().id, demo.id);
        assert!(store.user_by_path_id("demo@example.com", "nobody").is_none());
    }

    #[test]
    fn an_unknown_time_zone_is_refused() {
        let emulator = Emulator::new(EmulatorConfig::default());
        let mut store = emulator.store();
        let mut user = EmulatorConfig::default().users[0].clone();
        user.email = "sam@example.com".into();
        user.id = None;
        user.timezone = "Mars/Olympus".into();
        assert!(matches!(store.add_user(user), Err(SeedError::UnknownTimeZone(_))));
    }
}
