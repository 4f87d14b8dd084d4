//! In-process fakes of the ports that have no offline adapter: a clock that tests move by
//! hand and a Google OAuth server that behaves like Google where calbridge depends on it
//! (PKCE S256 checked, single-use codes, granular consent, revocation) and records calls.
//! (The store and key ports need no fake: the embedded store in memory and the local key are
//! real implementations with the same contract tests as DynamoDB and KMS.)
//!
//! Used by handler and use-case tests; compiled into the library so integration tests and the
//! benchmarks can share them. Nothing in production wiring refers to this module.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use oauth2::{AccessToken, AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RefreshToken};
use sha2::{Digest, Sha256};
use url::Url;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::domain::{Interval, ScopeSet};
use crate::ports::{
    CalendarBusy, CalendarEntry, Clock, ConferenceState, EventWrite, GoogleAccount, GoogleApiError, GoogleCalendar,
    GoogleEvent, GoogleOAuth, GoogleOAuthError, SendUpdates, TokenGrant,
};

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// What the fake Google grants for one approved consent.
#[derive(Debug, Clone)]
pub struct FakeConsent {
    pub account: GoogleAccount,
    pub granted_scopes: ScopeSet,
    pub issue_refresh_token: bool,
}

struct IssuedCode {
    challenge: String,
    consent: FakeConsent,
    used: bool,
}

#[derive(Default)]
struct FakeState {
    codes: HashMap<String, IssuedCode>,
    /// access token -> account (removed when the token is expired by the test)
    access: HashMap<String, GoogleAccount>,
    /// When set, the next refresh answers this instead.
    refresh_fault: Option<GoogleOAuthError>,
    /// refresh token -> (account, scopes, revoked)
    refresh: HashMap<String, (GoogleAccount, ScopeSet, bool)>,
    revoked: Vec<String>,
    issued_tokens: Vec<String>,
}

/// A fake Google OAuth server.
pub struct FakeGoogle {
    auth_base: Url,
    /// Expiry of issued access tokens is computed on this clock, as the real adapter does.
    clock: Arc<dyn Clock>,
    state: Mutex<FakeState>,
    pub exchanges: AtomicUsize,
    pub refreshes: AtomicUsize,
    pub revocations: AtomicUsize,
    /// When set, `revoke` fails as if Google were down.
    pub fail_revocation: std::sync::atomic::AtomicBool,
}

impl Default for FakeGoogle {
    fn default() -> Self {
        Self {
            auth_base: Url::parse("https://accounts.fake-google.test/o/oauth2/v2/auth").unwrap(),
            clock: Arc::new(crate::ports::SystemClock),
            state: Mutex::new(FakeState::default()),
            exchanges: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
            revocations: AtomicUsize::new(0),
            fail_revocation: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl FakeGoogle {
    /// A fake whose token lifetimes follow `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..Self::default() }
    }

    /// The user approves the consent page at `authorization_url`: returns the code Google
    /// would append to the redirect.
    pub fn approve(&self, authorization_url: &Url, consent: FakeConsent) -> String {
        let challenge = authorization_url
            .query_pairs()
            .find(|(k, _)| k == "code_challenge")
            .map(|(_, v)| v.into_owned())
            .expect("calbridge always sends a PKCE challenge");
        let code = format!("4/fake-code-{}", crate::random::token());
        self.state.lock().unwrap().codes.insert(code.clone(), IssuedCode { challenge, consent, used: false });
        code
    }

    /// Every token value this fake issued (to scan logs and storage for them).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().issued_tokens.clone()
    }

    /// Refresh tokens revoked so far.
    pub fn revoked(&self) -> Vec<String> {
        self.state.lock().unwrap().revoked.clone()
    }

    /// The account an access token was issued to, if it is still valid.
    pub fn account_for(&self, access_token: &AccessToken) -> Option<GoogleAccount> {
        self.state.lock().unwrap().access.get(access_token.secret()).cloned()
    }

    /// Invalidates every access token issued so far (Google will answer 401 for them).
    pub fn expire_access_tokens(&self) {
        self.state.lock().unwrap().access.clear();
    }

    /// Makes the next refresh fail with `error`.
    pub fn fail_next_refresh(&self, error: GoogleOAuthError) {
        self.state.lock().unwrap().refresh_fault = Some(error);
    }

    fn mint(&self, state: &mut FakeState, account: &GoogleAccount, scopes: &ScopeSet, refresh: bool) -> TokenGrant {
        let access = format!("ya29.fake-{}", crate::random::token());
        state.access.insert(access.clone(), account.clone());
        state.issued_tokens.push(access.clone());
        let refresh_token = refresh.then(|| {
            let token = format!("1//fake-{}", crate::random::token());
            state.refresh.insert(token.clone(), (account.clone(), scopes.clone(), false));
            state.issued_tokens.push(token.clone());
            RefreshToken::new(token)
        });
        TokenGrant {
            access_token: AccessToken::new(access),
            refresh_token,
            expires_at: Some(self.clock.now() + SignedDuration::from_hours(1)),
            granted_scopes: Some(scopes.clone()),
            id_token: None,
        }
    }
}

#[async_trait]
impl GoogleOAuth for FakeGoogle {
    fn authorization_url(&self, state: &str, pkce_challenge: PkceCodeChallenge, login_hint: Option<&str>) -> Url {
        let mut url = self.auth_base.clone();
        url.query_pairs_mut()
            .append_pair("state", state)
            .append_pair("code_challenge", pkce_challenge.as_str())
            .append_pair("code_challenge_method", pkce_challenge.method().as_str());
        if let Some(hint) = login_hint {
            url.query_pairs_mut().append_pair("login_hint", hint);
        }
        url
    }

    async fn exchange_code(
        &self,
        code: AuthorizationCode,
        verifier: PkceCodeVerifier,
    ) -> Result<TokenGrant, GoogleOAuthError> {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let issued = state.codes.get_mut(code.secret()).ok_or(GoogleOAuthError::InvalidGrant)?;
        let computed =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()));
        if issued.used || computed != issued.challenge {
            return Err(GoogleOAuthError::InvalidGrant);
        }
        issued.used = true;
        let consent = issued.consent.clone();
        Ok(self.mint(&mut state, &consent.account, &consent.granted_scopes, consent.issue_refresh_token))
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, GoogleOAuthError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        if let Some(error) = state.refresh_fault.take() {
            return Err(error);
        }
        let (account, scopes, revoked) =
            state.refresh.get(refresh_token.secret()).cloned().ok_or(GoogleOAuthError::InvalidGrant)?;
        if revoked {
            return Err(GoogleOAuthError::InvalidGrant);
        }
        Ok(self.mint(&mut state, &account, &scopes, false))
    }

    async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), GoogleOAuthError> {
        self.revocations.fetch_add(1, Ordering::SeqCst);
        if self.fail_revocation.load(Ordering::SeqCst) {
            return Err(GoogleOAuthError::Unavailable("fake google is down".into()));
        }
        let mut state = self.state.lock().unwrap();
        match state.refresh.get_mut(refresh_token.secret()) {
            Some(entry) if !entry.2 => {
                entry.2 = true;
                state.revoked.push(refresh_token.secret().clone());
                Ok(())
            }
            _ => Err(GoogleOAuthError::InvalidGrant),
        }
    }

    async fn identify(&self, grant: &TokenGrant) -> Result<GoogleAccount, GoogleOAuthError> {
        self.state
            .lock()
            .unwrap()
            .access
            .get(grant.access_token.secret())
            .cloned()
            .ok_or_else(|| GoogleOAuthError::InvalidIdentity("unknown access token".into()))
    }
}

/// A fake Google Calendar: per-account calendar lists and busy times, per-calendar read
/// errors, and a queue of failures to answer with. Tokens are checked against a [`FakeGoogle`].
pub struct FakeCalendar {
    google: Arc<FakeGoogle>,
    state: Mutex<CalendarState>,
    pub list_calls: AtomicUsize,
    pub freebusy_calls: AtomicUsize,
}

#[derive(Default)]
struct CalendarState {
    /// account subject -> calendar list
    calendars: HashMap<String, Vec<CalendarEntry>>,
    /// (account subject, calendar id) -> busy
    busy: HashMap<(String, String), Vec<Interval>>,
    unreadable: Vec<String>,
    failures: VecDeque<GoogleApiError>,
    /// (calendar id as requested, event id) -> event
    events: BTreeMap<(String, String), GoogleEvent>,
    /// When set, the next insert is applied and then answered with this error.
    lose_next_insert_response: bool,
    conference_counter: u32,
    /// How many reads a new conference stays `pending` for.
    conference_pending_reads: u32,
    /// (calendar, event) -> reads left while pending, and the conference it becomes
    pending: BTreeMap<(String, String), (u32, ConferenceState)>,
    fail_next_conference: bool,
}

impl FakeCalendar {
    pub fn new(google: Arc<FakeGoogle>) -> Self {
        Self {
            google,
            state: Mutex::new(CalendarState::default()),
            list_calls: AtomicUsize::new(0),
            freebusy_calls: AtomicUsize::new(0),
        }
    }

    pub fn set_calendars(&self, subject: &str, calendars: Vec<CalendarEntry>) {
        self.state.lock().unwrap().calendars.insert(subject.to_owned(), calendars);
    }

    pub fn add_busy(&self, subject: &str, calendar_id: &str, busy: Interval) {
        let mut state = self.state.lock().unwrap();
        state.busy.entry((subject.to_owned(), calendar_id.to_owned())).or_default().push(busy);
    }

    /// FreeBusy will report this calendar with an error.
    pub fn make_unreadable(&self, calendar_id: &str) {
        self.state.lock().unwrap().unreadable.push(calendar_id.to_owned());
    }

    /// Every event stored for a calendar, including cancelled ones.
    pub fn events(&self, calendar_id: &str) -> Vec<GoogleEvent> {
        let state = self.state.lock().unwrap();
        state.events.iter().filter(|((c, _), _)| c == calendar_id).map(|(_, e)| e.clone()).collect()
    }

    /// The next insert is applied but its response is lost (the caller sees a transport error).
    pub fn lose_next_insert_response(&self) {
        self.state.lock().unwrap().lose_next_insert_response = true;
    }

    /// New conferences stay `pending` for this many reads.
    pub fn set_conference_pending_reads(&self, reads: u32) {
        self.state.lock().unwrap().conference_pending_reads = reads;
    }

    /// The next conference ends in `failure`.
    pub fn fail_next_conference(&self) {
        self.state.lock().unwrap().fail_next_conference = true;
    }

    /// Forgets queued failures.
    pub fn clear_failures(&self) {
        self.state.lock().unwrap().failures.clear();
    }

    /// The next calls fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = GoogleApiError>) {
        self.state.lock().unwrap().failures.extend(errors);
    }

    /// `primary` means the account's primary calendar, as at Google.
    fn resolve(state: &CalendarState, subject: &str, calendar_id: &str) -> String {
        if calendar_id != "primary" {
            return calendar_id.to_owned();
        }
        state
            .calendars
            .get(subject)
            .and_then(|list| list.iter().find(|c| c.primary))
            .map_or_else(|| format!("primary-of-{subject}"), |c| c.id.clone())
    }

    fn authorize(&self, token: &AccessToken) -> Result<String, GoogleApiError> {
        if let Some(error) = self.state.lock().unwrap().failures.pop_front() {
            return Err(error);
        }
        self.google.account_for(token).map(|a| a.subject).ok_or(GoogleApiError::Unauthorized)
    }
}

#[async_trait]
impl GoogleCalendar for FakeCalendar {
    async fn insert_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event: &EventWrite,
        _send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError> {
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let id = event.id.clone().unwrap_or_else(|| format!("fakeevent{}", state.events.len()));
        let key = (Self::resolve(&state, &subject, calendar_id), id.clone());
        if state.events.contains_key(&key) {
            return Err(GoogleApiError::Conflict { reason: "duplicate".into() });
        }
        let conference = match event.conference_request_id {
            None => None,
            Some(_) if std::mem::take(&mut state.fail_next_conference) => Some(ConferenceState::Failed),
            Some(_) => {
                state.conference_counter += 1;
                let conference_id = format!("fak-meet-{:03}", state.conference_counter);
                let ready =
                    ConferenceState::Ready { uri: format!("https://meet.google.com/{conference_id}"), conference_id };
                if state.conference_pending_reads > 0 {
                    let reads = state.conference_pending_reads;
                    state.pending.insert(key.clone(), (reads, ready));
                    Some(ConferenceState::Pending)
                } else {
                    Some(ready)
                }
            }
        };
        let stored = GoogleEvent {
            id,
            status: event.status.clone().unwrap_or_else(|| "confirmed".into()),
            start: Some(event.start),
            end: Some(event.end),
            summary: Some(event.summary.clone()),
            private_properties: event.private_properties.clone(),
            conference,
        };
        state.events.insert(key, stored.clone());
        if std::mem::take(&mut state.lose_next_insert_response) {
            return Err(GoogleApiError::Unavailable("connection closed before the response".into()));
        }
        Ok(stored)
    }

    async fn get_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<GoogleEvent, GoogleApiError> {
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let key = (Self::resolve(&state, &subject, calendar_id), event_id.to_owned());
        if let Some((reads, ready)) = state.pending.get_mut(&key) {
            *reads -= 1;
            if *reads == 0 {
                let ready = ready.clone();
                state.pending.remove(&key);
                if let Some(event) = state.events.get_mut(&key) {
                    event.conference = Some(ready);
                }
            }
        }
        state.events.get(&key).cloned().ok_or(GoogleApiError::NotFound)
    }

    async fn patch_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        event: &EventWrite,
        _send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError> {
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let key = (Self::resolve(&state, &subject, calendar_id), event_id.to_owned());
        let stored = state.events.get_mut(&key).ok_or(GoogleApiError::NotFound)?;
        stored.start = Some(event.start);
        stored.end = Some(event.end);
        stored.summary = Some(event.summary.clone());
        stored.private_properties = event.private_properties.clone();
        if let Some(status) = &event.status {
            stored.status = status.clone();
        }
        Ok(stored.clone())
    }

    async fn delete_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        _send_updates: SendUpdates,
    ) -> Result<(), GoogleApiError> {
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let key = (Self::resolve(&state, &subject, calendar_id), event_id.to_owned());
        let stored = state.events.get_mut(&key).ok_or(GoogleApiError::NotFound)?;
        if stored.status == "cancelled" {
            return Err(GoogleApiError::Gone);
        }
        stored.status = "cancelled".into();
        Ok(())
    }

    async fn list_calendars(&self, access_token: &AccessToken) -> Result<Vec<CalendarEntry>, GoogleApiError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        Ok(self.state.lock().unwrap().calendars.get(&subject).cloned().unwrap_or_default())
    }

    async fn free_busy(
        &self,
        access_token: &AccessToken,
        window: Interval,
        calendar_ids: &[String],
    ) -> Result<BTreeMap<String, CalendarBusy>, GoogleApiError> {
        self.freebusy_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        let state = self.state.lock().unwrap();
        let primary =
            state.calendars.get(&subject).and_then(|list| list.iter().find(|c| c.primary)).map(|c| c.id.clone());
        Ok(calendar_ids
            .iter()
            .map(|requested| {
                let id = if requested == "primary" { primary.clone().unwrap_or_default() } else { requested.clone() };
                let known = state.calendars.get(&subject).is_some_and(|list| list.iter().any(|c| c.id == id));
                let answer = if !known || state.unreadable.contains(&id) {
                    CalendarBusy::Unreadable { reason: if known { "backendError".into() } else { "notFound".into() } }
                } else {
                    let busy = state.busy.get(&(subject.clone(), id)).cloned().unwrap_or_default();
                    CalendarBusy::Busy(
                        busy.into_iter()
                            .filter(|b| b.overlaps(&window))
                            .map(|b| Interval { start: b.start.max(window.start), end: b.end.min(window.end) })
                            .collect(),
                    )
                };
                (requested.clone(), answer)
            })
            .collect())
    }
}

/// An [`App`](crate::app::App) on fakes: in-memory embedded store, local key, fake Google
/// OAuth and Calendar, a manual clock, fast retries. What handler tests and benchmarks run on.
pub struct TestApp {
    pub app: crate::app::App,
    pub google: Arc<FakeGoogle>,
    pub calendar: Arc<FakeCalendar>,
    pub clock: Arc<ManualClock>,
    pub store: crate::adapters::embedded_store::EmbeddedStore,
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
    let crate::config::SecretsConfig::Inline { google_client_secret, state_signing_key } = config.secrets else {
        unreachable!("the test configuration has inline secrets")
    };
    let secrets = crate::secrets::InlineSecrets::new(google_client_secret, state_signing_key);
    let app = crate::app::App {
        settings: crate::app::Settings {
            google: config.google,
            allowed_return_to: config.allowed_return_to,
            tenant_claim: config.tenant_claim,
            sync: config.sync,
            meet: config.meet,
        },
        connections: Arc::new(store.clone()),
        flows: Arc::new(store.clone()),
        syncs: Arc::new(store.clone()),
        meetings: Arc::new(store.clone()),
        vault: Arc::new(crate::vault::Vault::new(Arc::new(crate::adapters::local_key::LocalKeyProvider::new(
            [3u8; 32],
        )))),
        google: google.clone(),
        calendar: calendar.clone(),
        retry: crate::retry::RetryPolicy {
            base: std::time::Duration::from_millis(1),
            cap: std::time::Duration::from_millis(5),
            budget: std::time::Duration::from_millis(100),
        },
        secrets: Arc::new(crate::secrets::Secrets::new(Arc::new(secrets))),
        clock: clock.clone(),
    };
    TestApp { app, google, calendar, clock, store }
}
