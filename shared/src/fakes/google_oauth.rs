//! A fake Google OAuth server: PKCE S256 checked, single-use codes, granular consent,
//! revocation, and counters of every call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use jiff::SignedDuration;
use oauth2::{AccessToken, AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RefreshToken};
use sha2::{Digest, Sha256};
use url::Url;

use crate::domain::ScopeSet;
use crate::ports::{Clock, OAuthClient, OAuthError, ProviderAccount, TokenGrant};

/// What the fake Google grants for one approved consent.
#[derive(Debug, Clone)]
pub struct FakeConsent {
    pub account: ProviderAccount,
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
    access: HashMap<String, ProviderAccount>,
    /// When set, the next refresh answers this instead.
    refresh_fault: Option<OAuthError>,
    /// refresh token -> (account, scopes, revoked)
    refresh: HashMap<String, (ProviderAccount, ScopeSet, bool)>,
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
    /// When set, code exchanges answer without a `scope` field (as the emulator's `no_scope`
    /// fault does).
    pub omit_granted_scopes: std::sync::atomic::AtomicBool,
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
            omit_granted_scopes: std::sync::atomic::AtomicBool::new(false),
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
        let code = format!("4/fake-code-{}", crate::crypto::random::token());
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
    pub fn account_for(&self, access_token: &AccessToken) -> Option<ProviderAccount> {
        self.state.lock().unwrap().access.get(access_token.secret()).cloned()
    }

    /// Invalidates every access token issued so far (Google will answer 401 for them).
    pub fn expire_access_tokens(&self) {
        self.state.lock().unwrap().access.clear();
    }

    /// Makes the next refresh fail with `error`.
    pub fn fail_next_refresh(&self, error: OAuthError) {
        self.state.lock().unwrap().refresh_fault = Some(error);
    }

    fn mint(&self, state: &mut FakeState, account: &ProviderAccount, scopes: &ScopeSet, refresh: bool) -> TokenGrant {
        let access = format!("ya29.fake-{}", crate::crypto::random::token());
        state.access.insert(access.clone(), account.clone());
        state.issued_tokens.push(access.clone());
        let refresh_token = refresh.then(|| {
            let token = format!("1//fake-{}", crate::crypto::random::token());
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
impl OAuthClient for FakeGoogle {
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
    ) -> Result<TokenGrant, OAuthError> {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let issued = state.codes.get_mut(code.secret()).ok_or(OAuthError::InvalidGrant)?;
        let computed =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes()));
        if issued.used || computed != issued.challenge {
            return Err(OAuthError::InvalidGrant);
        }
        issued.used = true;
        let consent = issued.consent.clone();
        let mut grant = self.mint(&mut state, &consent.account, &consent.granted_scopes, consent.issue_refresh_token);
        if self.omit_granted_scopes.load(Ordering::SeqCst) {
            grant.granted_scopes = None;
        }
        Ok(grant)
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenGrant, OAuthError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        if let Some(error) = state.refresh_fault.take() {
            return Err(error);
        }
        let (account, scopes, revoked) =
            state.refresh.get(refresh_token.secret()).cloned().ok_or(OAuthError::InvalidGrant)?;
        if revoked {
            return Err(OAuthError::InvalidGrant);
        }
        Ok(self.mint(&mut state, &account, &scopes, false))
    }

    async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), OAuthError> {
        self.revocations.fetch_add(1, Ordering::SeqCst);
        if self.fail_revocation.load(Ordering::SeqCst) {
            return Err(OAuthError::Unavailable("fake google is down".into()));
        }
        let mut state = self.state.lock().unwrap();
        match state.refresh.get_mut(refresh_token.secret()) {
            Some(entry) if !entry.2 => {
                entry.2 = true;
                state.revoked.push(refresh_token.secret().clone());
                Ok(())
            }
            _ => Err(OAuthError::InvalidGrant),
        }
    }

    async fn identify(&self, grant: &TokenGrant) -> Result<ProviderAccount, OAuthError> {
        self.state
            .lock()
            .unwrap()
            .access
            .get(grant.access_token.secret())
            .cloned()
            .ok_or_else(|| OAuthError::InvalidIdentity("unknown access token".into()))
    }
}
