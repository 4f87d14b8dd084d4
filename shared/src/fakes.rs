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

use crate::domain::ScopeSet;
use crate::ports::{Clock, GoogleAccount, GoogleOAuth, GoogleOAuthError, TokenGrant};

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap();
        *now = *now + by;
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
    /// access token -> account
    access: HashMap<String, GoogleAccount>,
    /// refresh token -> (account, scopes, revoked)
    refresh: HashMap<String, (GoogleAccount, ScopeSet, bool)>,
    revoked: Vec<String>,
    issued_tokens: Vec<String>,
}

/// A fake Google OAuth server.
pub struct FakeGoogle {
    auth_base: Url,
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
            state: Mutex::new(FakeState::default()),
            exchanges: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
            revocations: AtomicUsize::new(0),
            fail_revocation: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl FakeGoogle {
    /// The user approves the consent page at `authorization_url`: returns the code Google
    /// would append to the redirect.
    pub fn approve(&self, authorization_url: &Url, consent: FakeConsent) -> String {
        let challenge = authorization_url
            .query_pairs()
            .find(|(k, _)| k == "code_challenge")
            .map(|(_, v)| v.into_owned())
            .expect("calbridge always sends a PKCE challenge");
        let code = format!("4/fake-code-{}", crate::random::token());
        self.state.lock().unwrap().codes.insert(
            code.clone(),
            IssuedCode {
                challenge,
                consent,
                used: false,
            },
        );
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

    fn mint(
        &self,
        state: &mut FakeState,
        account: &GoogleAccount,
        scopes: &ScopeSet,
        refresh: bool,
    ) -> TokenGrant {
        let access = format!("ya29.fake-{}", crate::random::token());
        state.access.insert(access.clone(), account.clone());
        state.issued_tokens.push(access.clone());
        let refresh_token = refresh.then(|| {
            let token = format!("1//fake-{}", crate::random::token());
            state
                .refresh
                .insert(token.clone(), (account.clone(), scopes.clone(), false));
            state.issued_tokens.push(token.clone());
            RefreshToken::new(token)
        });
        TokenGrant {
            access_token: AccessToken::new(access),
            refresh_token,
            expires_at: Some(Timestamp::now() + SignedDuration::from_hours(1)),
            granted_scopes: Some(scopes.clone()),
            id_token: None,
        }
    }
}

#[async_trait]
impl GoogleOAuth for FakeGoogle {
    fn authorization_url(
        &self,
        state: &str,
        pkce_challenge: PkceCodeChallenge,
        login_hint: Option<&str>,
    ) -> Url {
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
        let issued = state
            .codes
            .get_mut(code.secret())
            .ok_or(GoogleOAuthError::InvalidGrant)?;
        let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.secret().as_bytes()));
        if issued.used || computed != issued.challenge {
            return Err(GoogleOAuthError::InvalidGrant);
        }
        issued.used = true;
        let consent = issued.consent.clone();
        Ok(self.mint(
            &mut state,
            &consent.account,
            &consent.granted_scopes,
            consent.issue_refresh_token,
        ))
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, GoogleOAuthError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let (account, scopes, revoked) = state
            .refresh
            .get(refresh_token.secret())
            .cloned()
            .ok_or(GoogleOAuthError::InvalidGrant)?;
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
