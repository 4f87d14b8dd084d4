//! Everything the emulator remembers, in memory behind one mutex.
//!
//! Contract: handlers lock [`Emulator::store`], read and change the [`Store`], and
//! unlock before any `.await`, so a slow fault never blocks other requests. The
//! store holds the OAuth side (clients, accounts, grants, codes, tokens,
//! revocations), the Calendar side (calendars, events, Meet conferences) and the
//! test harness side (fault queue, call counters, write log). A grant is one
//! account's consent to one client; every token belongs to exactly one grant,
//! and revoking any token revokes its whole grant, as Google does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::config::{AccessRole, AccountConfig, CalendarConfig, EmulatorConfig, OAuthClientConfig};
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

    /// Back to the configured seed: clients, accounts and calendars as configured;
    /// grants, tokens, events, faults, counters and the write log emptied.
    pub fn reset(&self) {
        *self.store() = Store::seeded(&self.config);
    }
}

pub(crate) struct Store {
    pub clients: BTreeMap<String, OAuthClientConfig>,
    pub accounts: BTreeMap<String, Account>,
    pub calendars: BTreeMap<String, Calendar>,
    /// Indexed by [`GrantId`].
    pub grants: Vec<Grant>,
    pub codes: Vec<AuthorizationCode>,
    pub access_tokens: Vec<AccessToken>,
    pub refresh_tokens: Vec<RefreshToken>,
    pub revocations: Vec<Revocation>,
    pub faults: FaultQueue,
    pub calls: BTreeMap<&'static str, u64>,
    pub writes: Vec<WriteRecord>,
    /// Messages `users.messages.send` accepted, oldest first.
    pub sent_mail: Vec<crate::gmail::SentMail>,
    /// Last etag handed out; etags only ever grow so every change yields a new one.
    etag_clock: i64,
}

pub(crate) struct Account {
    pub email: String,
    pub sub: String,
    pub name: String,
    pub calendar_list: Vec<CalendarListEntry>,
}

pub(crate) struct CalendarListEntry {
    pub calendar_id: String,
    pub access_role: AccessRole,
    pub primary: bool,
}

pub(crate) struct Calendar {
    pub id: String,
    pub summary: String,
    pub time_zone: String,
    /// In insertion order; deleted events stay, marked `cancelled`.
    pub events: Vec<StoredEvent>,
    /// Meet conferences by the client's `createRequest.requestId`.
    pub conferences: BTreeMap<String, Conference>,
}

/// An event exactly as the API returns it (Google's field names), so any field a
/// client sends survives a round trip.
pub(crate) struct StoredEvent {
    pub id: String,
    pub resource: Map<String, Value>,
}

impl StoredEvent {
    pub fn is_cancelled(&self) -> bool {
        self.resource.get("status").and_then(Value::as_str) == Some("cancelled")
    }
}

#[derive(Clone)]
pub(crate) struct Conference {
    pub conference_id: String,
    pub fails: bool,
    /// `events.get` calls that will still see `pending`.
    pub polls_remaining: u32,
}

pub(crate) type GrantId = usize;

/// One account's consent to one client. A revoked grant stays (its tokens point
/// at it) and a later consent starts a new one.
pub(crate) struct Grant {
    pub account: String,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub revoked: bool,
}

pub(crate) struct AuthorizationCode {
    pub code: String,
    pub client_id: String,
    pub account: String,
    pub grant: GrantId,
    pub redirect_uri: String,
    pub scopes: BTreeSet<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub issue_refresh_token: bool,
    pub expires_at: Timestamp,
    pub used: bool,
    /// The PKCE verifier that redeemed this code, for `GET /_emulator/tokens`.
    pub redeemed_with_verifier: Option<String>,
    /// Tokens minted from this code, revoked if the code is replayed.
    pub issued_access_token: Option<String>,
    pub issued_refresh_token: Option<String>,
}

pub(crate) struct AccessToken {
    pub token: String,
    pub account: String,
    pub client_id: String,
    pub grant: GrantId,
    pub scopes: BTreeSet<String>,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

pub(crate) struct RefreshToken {
    pub token: String,
    pub account: String,
    pub client_id: String,
    pub grant: GrantId,
    pub scopes: BTreeSet<String>,
    pub revoked: bool,
}

pub(crate) struct Revocation {
    pub token_kind: &'static str,
    pub token: String,
    pub account: String,
    pub client_id: String,
    pub at: Timestamp,
}

/// One event write through the API, kept so tests can check `sendUpdates`.
pub(crate) struct WriteRecord {
    pub endpoint: Endpoint,
    pub calendar_id: String,
    pub event_id: String,
    pub send_updates: Option<String>,
    pub send_notifications: Option<String>,
    pub conference_data_version: u8,
    pub at: Timestamp,
}

/// Who is calling a Bearer-protected endpoint, and with what consent.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub account: String,
    pub scopes: BTreeSet<String>,
}

/// A seed or control request that would leave the store inconsistent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SeedError {
    #[error("account email must not be empty")]
    EmptyEmail,
    #[error("calendar id must not be empty")]
    EmptyCalendarId,
    #[error("account {0} lists more than one primary calendar")]
    SeveralPrimaries(String),
    #[error("account {0} lists calendar {1} twice")]
    DuplicateCalendar(String, String),
    #[error("client_id must not be empty and at least one redirect URI is required")]
    IncompleteClient,
}

impl Store {
    fn seeded(config: &EmulatorConfig) -> Self {
        let mut store = Store {
            clients: BTreeMap::new(),
            accounts: BTreeMap::new(),
            calendars: BTreeMap::new(),
            grants: Vec::new(),
            codes: Vec::new(),
            access_tokens: Vec::new(),
            refresh_tokens: Vec::new(),
            revocations: Vec::new(),
            faults: FaultQueue::default(),
            calls: BTreeMap::new(),
            writes: Vec::new(),
            sent_mail: Vec::new(),
            etag_clock: Timestamp::now().as_microsecond(),
        };
        for client in &config.clients {
            if let Err(error) = store.upsert_client(client.clone()) {
                tracing::warn!(%error, client_id = %client.client_id, "skipping configured client");
            }
        }
        for account in &config.accounts {
            if let Err(error) = store.add_account(account.clone()) {
                tracing::warn!(%error, email = %account.email, "skipping configured account");
            }
        }
        store
    }

    pub fn upsert_client(&mut self, client: OAuthClientConfig) -> Result<(), SeedError> {
        if client.client_id.is_empty() || client.redirect_uris.is_empty() {
            return Err(SeedError::IncompleteClient);
        }
        self.clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    /// Adds (or replaces) an account. Calendars it lists are created when new;
    /// existing calendars are shared, keeping their summary and time zone.
    pub fn add_account(&mut self, mut config: AccountConfig) -> Result<(), SeedError> {
        let email = config.email.trim().to_owned();
        if email.is_empty() {
            return Err(SeedError::EmptyEmail);
        }
        if config.calendars.iter().filter(|c| c.primary).count() > 1 {
            return Err(SeedError::SeveralPrimaries(email));
        }
        if !config.calendars.iter().any(|c| c.primary) {
            config.calendars.insert(
                0,
                CalendarConfig {
                    id: email.clone(),
                    summary: Some(email.clone()),
                    time_zone: "UTC".to_owned(),
                    access_role: AccessRole::Owner,
                    primary: true,
                },
            );
        }
        let mut seen = BTreeSet::new();
        for calendar in &config.calendars {
            if calendar.id.is_empty() {
                return Err(SeedError::EmptyCalendarId);
            }
            if !seen.insert(calendar.id.as_str()) {
                return Err(SeedError::DuplicateCalendar(email, calendar.id.clone()));
            }
        }

        let mut calendar_list = Vec::new();
        for calendar in config.calendars {
            self.calendars.entry(calendar.id.clone()).or_insert_with(|| Calendar {
                id: calendar.id.clone(),
                summary: calendar.summary.clone().unwrap_or_else(|| calendar.id.clone()),
                time_zone: calendar.time_zone.clone(),
                events: Vec::new(),
                conferences: BTreeMap::new(),
            });
            calendar_list.push(CalendarListEntry {
                calendar_id: calendar.id,
                access_role: calendar.access_role,
                primary: calendar.primary,
            });
        }
        let name = config.name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
        let sub = config.sub.unwrap_or_else(random::subject);
        self.accounts.insert(email.clone(), Account { email, sub, name, calendar_list });
        Ok(())
    }

    pub fn record_call(&mut self, endpoint: Endpoint) {
        *self.calls.entry(endpoint.name()).or_default() += 1;
    }

    /// A fresh etag, strictly greater than every earlier one, shaped like Google's
    /// (a quoted microsecond count).
    pub fn next_etag(&mut self) -> String {
        let now = Timestamp::now().as_microsecond();
        self.etag_clock = now.max(self.etag_clock + 1);
        format!("\"{}\"", self.etag_clock)
    }

    pub fn current_etag(&self) -> String {
        format!("\"{}\"", self.etag_clock)
    }

    pub fn primary_calendar_id(&self, account: &str) -> Option<&str> {
        self.accounts
            .get(account)?
            .calendar_list
            .iter()
            .find(|entry| entry.primary)
            .map(|entry| entry.calendar_id.as_str())
    }

    /// `primary` names the caller's primary calendar; any other id is taken as is.
    pub fn resolve_calendar_id(&self, account: &str, raw: &str) -> String {
        match (raw, self.primary_calendar_id(account)) {
            ("primary", Some(primary)) => primary.to_owned(),
            _ => raw.to_owned(),
        }
    }

    pub fn access_role(&self, account: &str, calendar_id: &str) -> Option<AccessRole> {
        self.accounts
            .get(account)?
            .calendar_list
            .iter()
            .find(|entry| entry.calendar_id == calendar_id)
            .map(|entry| entry.access_role)
    }

    /// The live (unrevoked) grant of `account` to `client_id`.
    pub fn active_grant(&self, account: &str, client_id: &str) -> Option<GrantId> {
        self.grants.iter().position(|grant| !grant.revoked && grant.account == account && grant.client_id == client_id)
    }

    /// Revokes a grant and every token issued under it.
    pub fn revoke_grant(&mut self, grant: GrantId) {
        self.grants[grant].revoked = true;
        for token in self.access_tokens.iter_mut().filter(|t| t.grant == grant) {
            token.revoked = true;
        }
        for token in self.refresh_tokens.iter_mut().filter(|t| t.grant == grant) {
            token.revoked = true;
        }
    }

    /// The caller behind a Bearer access token, if the token is known, unexpired,
    /// unrevoked and its grant is still live.
    pub fn authenticate(&self, access_token: &str, now: Timestamp) -> Option<Caller> {
        let token = self.access_tokens.iter().find(|candidate| candidate.token == access_token)?;
        let live = !token.revoked && !self.grants[token.grant].revoked && now < token.expires_at;
        live.then(|| Caller { account: token.account.clone(), scopes: token.scopes.clone() })
    }
}

impl Calendar {
    pub fn event(&self, event_id: &str) -> Option<&StoredEvent> {
        self.events.iter().find(|event| event.id == event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_seed_gives_each_account_its_own_primary_calendar() {
        let emulator = Emulator::new(EmulatorConfig::default());
        let store = emulator.store();
        assert_eq!(store.primary_calendar_id("demo@example.com"), Some("demo@example.com"));
        assert_eq!(store.resolve_calendar_id("alex@example.com", "primary"), "alex@example.com");
        assert_eq!(store.access_role("demo@example.com", "alex@example.com"), None);
        assert_eq!(store.accounts["demo@example.com"].sub, "100000000000000000001");
    }

    #[test]
    fn an_account_without_a_primary_gets_one_named_after_its_email() {
        let emulator = Emulator::new(EmulatorConfig::default());
        let mut store = emulator.store();
        store
            .add_account(AccountConfig {
                email: "sam@example.com".into(),
                sub: None,
                name: None,
                calendars: vec![CalendarConfig {
                    id: "demo@example.com".into(),
                    summary: None,
                    time_zone: "UTC".into(),
                    access_role: AccessRole::FreeBusyReader,
                    primary: false,
                }],
            })
            .unwrap();
        assert_eq!(store.primary_calendar_id("sam@example.com"), Some("sam@example.com"));
        assert_eq!(store.access_role("sam@example.com", "demo@example.com"), Some(AccessRole::FreeBusyReader));
    }

    #[test]
    fn etags_strictly_increase() {
        let emulator = Emulator::new(EmulatorConfig::default());
        let mut store = emulator.store();
        let first = store.next_etag();
        let second = store.next_etag();
        assert_ne!(first, second);
    }
}
