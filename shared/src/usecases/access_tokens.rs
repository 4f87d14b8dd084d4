//! A valid access token for a connection to any provider, refreshed at most once however many
//! callers (Lambda containers) need it at the same moment.
//!
//! A stored token is used while it has more than [`REFRESH_MARGIN`] left. Otherwise the caller
//! tries to take the connection's refresh lease (a conditional write on the record's version,
//! see [`ConnectionStore::acquire_refresh_lease`]). The one that gets it refreshes at the provider and
//! writes the new token conditionally on the version it leased, which also releases the lease;
//! everyone else re-reads the record until the new token appears (or the lease lapses, when
//! they compete again). A refresh response without a refresh_token keeps the stored one
//! (Google); one with a new refresh_token replaces it. `invalid_grant` is terminal: the
//! connection becomes `needs_reconnect` with `last_error`, and no provider call is made for it
//! again until the user reconnects. A 401 on an API call forces one refresh (unless another
//! caller has already replaced the rejected token), never more: see [`super::calendar_session`].
//!
//! Rotating refresh tokens (Zoom: every refresh answers a new refresh token and the presented
//! one dies at once) are why the order of a refresh is fixed:
//! 1. only the lease holder calls the provider, with the refresh token it read under the lease;
//! 2. the new tokens (refresh token included) are sealed and written conditionally on the
//!    leased version *before* the new access token is handed to anyone; a write that loses to
//!    a concurrent change is applied again on a fresh read of the same account;
//! 3. a refused refresh marks the connection `needs_reconnect` only if the stored tokens are
//!    still the ones it presented: if another caller stored newer ones meanwhile (a lease that
//!    lapsed mid-refresh), the refusal is about a token already replaced, and the caller reads
//!    again instead of breaking a good connection.
//!
//! A lost refresh response (the provider rotated, calbridge never saw the new token) cannot be
//! recovered: the stored refresh token is dead. The failed call records `refresh_failed` and
//! keeps the connection; the next refresh presents the dead token, the provider answers
//! `invalid_grant`, and the connection ends `needs_reconnect` with `last_error` saying the
//! provider refused the stored grant, so the app asks the user to reconnect. At most one
//! doomed refresh follows a lost response; there is no loop. The same holds when the provider
//! answered but writing the new tokens failed.
//!
//! Every token handed out for a provider call is recorded as `last_used_at`, at most once per
//! [`LAST_USED_GRANULARITY`]: a refresh writes it with the new token, otherwise one
//! [`ConnectionStore::record_use`](crate::ports::ConnectionStore::record_use) when the stored
//! value is older than that. That write is conditional on the version and the value read and
//! touches nothing else, so it cannot undo a concurrent refresh; losing it (or it failing)
//! never fails the caller. A refresh that fails sets `last_error` (`refresh_failed`, the
//! connection stays usable); a refused refresh token sets it to `invalid_grant`; a successful
//! refresh or reconnect clears it. `last_error` is always `<code>: <message>` written here,
//! never a provider's response.
//!
//! Whether a connection can be used at all is answered in one place, [`NotUsable`]: every use
//! case that reports "not connected" or "needs reconnect" asks [`AccessError::not_usable`].
//!
//! [`ConnectionStore::acquire_refresh_lease`]: crate::ports::ConnectionStore::acquire_refresh_lease

use std::sync::Mutex;
use std::time::Duration;

use jiff::SignedDuration;
use oauth2::AccessToken;
use serde::Serialize;

use crate::app::App;
use crate::crypto::tokens::{self, StoredTokens, TokensError};
use crate::domain::ConnectionKey;
use crate::errors::ErrorChain;
use crate::metrics::{self, ReconnectReason, RefreshOutcome};
use crate::ports::{
    ConnectionRecord, ConnectionStatus, GoogleApiError, LAST_USED_GRANULARITY, LeaseWait, LostWrite, OAuthError,
    SealedSecret, StoreError, WriteCondition, retry_lost_writes,
};
use crate::usecases::deadline;

/// Tokens this close to expiry are refreshed first.
pub const REFRESH_MARGIN: SignedDuration = SignedDuration::from_mins(5);
/// How long a refresher holds the lease: longer than one token exchange may take.
pub const LEASE_TTL: SignedDuration = SignedDuration::from_secs(15);
/// How often a waiting caller re-reads the record.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Why a connection cannot be used: the user's own state, not a failure of calbridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotUsable {
    /// No connection to this provider.
    NotConnected,
    /// The provider refused the refresh token: the user must consent again.
    NeedsReconnect,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the connection cannot be used: {0:?}")]
    NotUsable(NotUsable),
    /// The connection's provider is no longer configured in this deployment.
    #[error("the connection's provider is not configured")]
    UnknownProvider,
    /// The user reconnected another account while this caller was refreshing the old one.
    #[error("the connection was replaced while refreshing it")]
    Replaced,
    #[error("google call failed")]
    Google(#[source] GoogleApiError),
    #[error("token refresh failed")]
    Refresh(#[source] OAuthError),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("stored tokens do not open")]
    Tokens(#[from] TokensError),
    /// The user's budget of Calendar API calls for this minute is spent
    /// ([`CallBudget`](crate::ports::CallBudget)); the next minute opens after `retry_after`.
    #[error("the user's Google call budget for this minute is spent")]
    OverBudget { retry_after: std::time::Duration },
}

impl From<crate::ports::BudgetError> for AccessError {
    fn from(error: crate::ports::BudgetError) -> Self {
        match error {
            crate::ports::BudgetError::Exhausted { retry_after } => AccessError::OverBudget { retry_after },
            crate::ports::BudgetError::Store(store) => AccessError::Store(store),
        }
    }
}

impl AccessError {
    /// The user's state that makes the connection unusable, if that is what this error says.
    pub fn not_usable(&self) -> Option<NotUsable> {
        match self {
            AccessError::NotUsable(state) => Some(*state),
            _ => None,
        }
    }
}

impl LostWrite for AccessError {
    fn is_lost_write(&self) -> bool {
        matches!(self, AccessError::Store(error) if error.is_lost_write())
    }
}

/// `last_error` of a connection whose refresh token the provider refused.
fn invalid_grant_error(provider: &str) -> String {
    format!(
        "invalid_grant: {provider} refused the stored grant (revoked, expired, password changed, or a rotated \
         refresh token whose answer was lost); reconnect"
    )
}

/// `last_error` of a connection whose refresh failed for another reason (the provider down,
/// say): it stays usable and is refreshed again on next use.
fn refresh_failed_error(provider: &str) -> String {
    format!("refresh_failed: {provider} could not refresh the access token; calbridge tries again on next use")
}

/// Records that the token of `record` is being used now, unless it was recorded less than
/// [`LAST_USED_GRANULARITY`] ago. Best effort: a lost race or a store failure only logs.
async fn record_use(app: &App, record: &mut ConnectionRecord) {
    let now = app.clock.now();
    if record.last_used_at.is_some_and(|at| at > now - LAST_USED_GRANULARITY) {
        return;
    }
    match app.connections.record_use(&record.key, record.version, record.last_used_at, now).await {
        Ok(true) => record.last_used_at = Some(now),
        // Someone else recorded a use, or the record changed: nothing to add.
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %ErrorChain(&e), "recording the connection's use failed"),
    }
}

/// A usable access token and the connection record it came from.
pub struct Access {
    pub token: AccessToken,
    pub record: ConnectionRecord,
}

/// A token with more than [`REFRESH_MARGIN`] left, refreshing if needed.
pub async fn access_token(app: &App, owner: &ConnectionKey) -> Result<Access, AccessError> {
    fresh_token(app, owner, None).await
}

/// A token other than `rejected` (which the provider just answered 401 for), refreshing if
/// nobody else already has.
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user, provider = %owner.provider))]
pub(crate) async fn fresh_token(
    app: &App,
    owner: &ConnectionKey,
    rejected: Option<&AccessToken>,
) -> Result<Access, AccessError> {
    let wait = LeaseWait::new(deadline::work_until(LEASE_TTL.unsigned_abs() + Duration::from_secs(2)), WAIT_STEP);
    loop {
        let record =
            app.connections.get_connection(owner).await?.ok_or(AccessError::NotUsable(NotUsable::NotConnected))?;
        if record.status == ConnectionStatus::NeedsReconnect {
            return Err(AccessError::NotUsable(NotUsable::NeedsReconnect));
        }
        let stored = tokens::open(&app.vault, owner, &record.sealed_tokens).await?;
        let now = app.clock.now();
        let unexpired = stored.access_token_expires_at.is_some_and(|at| at > now + REFRESH_MARGIN);
        let was_rejected = rejected.is_some_and(|r| r.secret() == stored.access_token.secret());
        if unexpired && !was_rejected {
            let mut record = record;
            record_use(app, &mut record).await;
            return Ok(Access { token: stored.access_token, record });
        }
        if app
            .connections
            .acquire_refresh_lease(owner, record.version, now, now + deadline::lease_for(LEASE_TTL))
            .await?
        {
            match refresh(app, record, stored).await? {
                Some(access) => return Ok(access),
                // Another caller stored newer tokens while ours were refused: read them.
                None => continue,
            }
        }
        if !wait.step().await {
            return Err(AccessError::Store(StoreError::Unavailable(
                "another caller's token refresh did not finish in time".into(),
            )));
        }
    }
}

/// Refreshes under the lease taken on `leased`, then publishes the outcome. `None`: the
/// provider refused the tokens read under the lease, but newer ones were stored meanwhile.
async fn refresh(app: &App, leased: ConnectionRecord, stored: StoredTokens) -> Result<Option<Access>, AccessError> {
    let provider_key = leased.key.provider;
    let provider = app.oauth(provider_key).map_err(|_| AccessError::UnknownProvider)?;
    let presented = leased.sealed_tokens.clone();
    // A failure is only recorded over the tokens it is about.
    let still_ours = |record: &ConnectionRecord| record.sealed_tokens == presented;
    match provider.client.refresh(&stored.refresh_token).await {
        Ok(grant) => {
            tracing::info!("access token refreshed");
            metrics::token_refresh(provider_key, RefreshOutcome::Refreshed);
            let tokens = StoredTokens {
                access_token: grant.access_token,
                // Google usually omits refresh_token on refresh: keep ours. A new one (Zoom
                // rotates on every refresh) wins, and is stored before the access token is used.
                refresh_token: grant.refresh_token.unwrap_or(stored.refresh_token),
                access_token_expires_at: grant.expires_at,
            };
            let record = publish(
                app,
                leased,
                |record, sealed, now| ConnectionRecord {
                    version: record.version + 1,
                    status: ConnectionStatus::Connected,
                    scopes: grant.granted_scopes.as_ref().map_or_else(|| record.scopes.clone(), |s| s.to_vec()),
                    updated_at: now,
                    last_error: None,
                    last_used_at: Some(now),
                    access_token_expires_at: tokens.access_token_expires_at,
                    refresh_lease_until: None,
                    sealed_tokens: sealed.clone(),
                    ..record.clone()
                },
                Some(&tokens),
                |_| true,
            )
            .await?
            .expect("an unguarded publish always writes");
            Ok(Some(Access { token: tokens.access_token, record }))
        }
        Err(OAuthError::InvalidGrant) => {
            let marked = publish(
                app,
                leased,
                |record, _, now| ConnectionRecord {
                    version: record.version + 1,
                    status: ConnectionStatus::NeedsReconnect,
                    updated_at: now,
                    last_error: Some(invalid_grant_error(provider.display_name)),
                    refresh_lease_until: None,
                    ..record.clone()
                },
                None,
                still_ours,
            )
            .await?;
            if marked.is_none() {
                tracing::info!("refresh token refused, but newer tokens were stored meanwhile; reading them");
                metrics::token_refresh(provider_key, RefreshOutcome::Superseded);
                return Ok(None);
            }
            tracing::warn!("refresh token refused by the provider; connection needs reconnect");
            metrics::token_refresh(provider_key, RefreshOutcome::InvalidGrant);
            metrics::needs_reconnect(provider_key, ReconnectReason::InvalidGrant);
            Err(AccessError::NotUsable(NotUsable::NeedsReconnect))
        }
        Err(error) => {
            metrics::token_refresh(provider_key, RefreshOutcome::Failed);
            // Release the lease so waiters do not sit out its whole TTL for nothing.
            let _ = publish(
                app,
                leased,
                |record, _, _| ConnectionRecord {
                    version: record.version + 1,
                    last_error: Some(refresh_failed_error(provider.display_name)),
                    refresh_lease_until: None,
                    ..record.clone()
                },
                None,
                still_ours,
            )
            .await;
            Err(AccessError::Refresh(error))
        }
    }
}

/// Writes `change(record)` conditionally on the record's version. If the record changed
/// meanwhile (say, a calendar selection), the change is applied again on the fresh record, as
/// long as it is still the same account and `applies` to it (else `None`, nothing written);
/// a deleted record stays deleted.
async fn publish(
    app: &App,
    leased: ConnectionRecord,
    change: impl Fn(&ConnectionRecord, &SealedSecret, jiff::Timestamp) -> ConnectionRecord,
    tokens: Option<&StoredTokens>,
    applies: impl Fn(&ConnectionRecord) -> bool,
) -> Result<Option<ConnectionRecord>, AccessError> {
    let owner = leased.key.clone();
    let account_id = leased.account_id.clone();
    let sealed = match tokens {
        Some(tokens) => Some(tokens::seal(&app.vault, &owner, tokens).await?),
        None => None,
    };
    // The first attempt writes over the leased record; later ones over a fresh read.
    let leased = Mutex::new(Some(leased));
    retry_lost_writes(|| async {
        let first = leased.lock().expect("never poisoned").take();
        let record = match first {
            Some(record) => record,
            None => {
                let current = app
                    .connections
                    .get_connection(&owner)
                    .await?
                    .ok_or(AccessError::NotUsable(NotUsable::NotConnected))?;
                if current.account_id != account_id {
                    // Reconnected to another account meanwhile: our refresh is moot.
                    return Err(AccessError::Replaced);
                }
                if !applies(&current) {
                    return Ok(None);
                }
                current
            }
        };
        let sealed = sealed.as_ref().unwrap_or(&record.sealed_tokens);
        let updated = change(&record, sealed, app.clock.now());
        app.connections.put_connection(&updated, WriteCondition::Version(record.version)).await?;
        Ok(Some(updated))
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use jiff::Timestamp;
    use oauth2::{AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RefreshToken};

    use super::*;
    use crate::adapters::embedded_store::EmbeddedStore;
    use crate::crypto::vault::Vault;
    use crate::domain::{Provider, TenantId, UserId};
    use crate::ports::{ConnectionStore, OAuthClient, ProviderAccount, TokenGrant};

    fn tokens_of(access: &str, refresh: &str, expires_at: Timestamp) -> StoredTokens {
        StoredTokens {
            access_token: AccessToken::new(access.to_owned()),
            refresh_token: RefreshToken::new(refresh.to_owned()),
            access_token_expires_at: Some(expires_at),
        }
    }

    /// A rotating provider whose refresh of the presented token is refused because another
    /// caller (whose lease outlived ours) already rotated it and stored the successor.
    struct RotatedMeanwhile {
        store: EmbeddedStore,
        vault: Arc<Vault>,
        key: ConnectionKey,
        fresh_until: Timestamp,
    }

    #[async_trait]
    impl OAuthClient for RotatedMeanwhile {
        fn authorization_url(&self, _: &str, _: PkceCodeChallenge, _: Option<&str>) -> url::Url {
            unreachable!("not part of a refresh")
        }
        async fn exchange_code(&self, _: AuthorizationCode, _: PkceCodeVerifier) -> Result<TokenGrant, OAuthError> {
            unreachable!("not part of a refresh")
        }
        async fn refresh(&self, _: &RefreshToken) -> Result<TokenGrant, OAuthError> {
            let current = self.store.get_connection(&self.key).await.unwrap().unwrap();
            let newer = tokens_of("access-2", "refresh-2", self.fresh_until);
            let sealed = tokens::seal(&self.vault, &self.key, &newer).await.unwrap();
            let updated = ConnectionRecord {
                version: current.version + 1,
                access_token_expires_at: newer.access_token_expires_at,
                refresh_lease_until: None,
                sealed_tokens: sealed,
                ..current.clone()
            };
            self.store.put_connection(&updated, WriteCondition::Version(current.version)).await.unwrap();
            Err(OAuthError::InvalidGrant)
        }
        async fn revoke(&self, _: &RefreshToken) -> Result<(), OAuthError> {
            unreachable!("not part of a refresh")
        }
        async fn identify(&self, _: &TokenGrant) -> Result<ProviderAccount, OAuthError> {
            unreachable!("not part of a refresh")
        }
    }

    #[tokio::test]
    async fn a_refusal_of_an_already_rotated_token_reads_the_newer_tokens_instead_of_breaking_the_connection() {
        // given a connection with an expired access token
        let mut t = crate::fakes::test_app();
        let key = ConnectionKey::new(TenantId::parse("t1").unwrap(), UserId::parse("u1").unwrap(), Provider::Google);
        let now = t.app.clock.now();
        let expired = tokens_of("access-1", "refresh-1", now - SignedDuration::from_mins(1));
        let record = ConnectionRecord {
            key: key.clone(),
            version: 1,
            status: ConnectionStatus::Connected,
            account_id: "acct-1".to_owned(),
            organisation_id: None,
            email: None,
            scopes: vec![],
            connected_at: now,
            updated_at: now,
            last_error: None,
            last_used_at: None,
            access_token_expires_at: expired.access_token_expires_at,
            selected_calendar_id: None,
            refresh_lease_until: None,
            sealed_tokens: tokens::seal(&t.app.vault, &key, &expired).await.unwrap(),
        };
        t.app.connections.put_connection(&record, WriteCondition::Absent).await.unwrap();
        // and a provider that refuses our refresh token because another caller rotated it
        let client = Arc::new(RotatedMeanwhile {
            store: t.store.clone(),
            vault: t.app.vault.clone(),
            key: key.clone(),
            fresh_until: now + SignedDuration::from_hours(1),
        });
        t.app.providers.get_mut(&Provider::Google).unwrap().client = client;

        // when a caller needs a token
        let access = access_token(&t.app, &key).await.expect("the newer token");

        // then it gets the other caller's token, and the connection stays connected
        assert_eq!(access.token.secret(), "access-2");
        let stored = t.app.connections.get_connection(&key).await.unwrap().unwrap();
        assert_eq!(stored.status, ConnectionStatus::Connected);
        assert_eq!(stored.last_error, None);
        let opened = tokens::open(&t.app.vault, &key, &stored.sealed_tokens).await.unwrap();
        assert_eq!(opened.refresh_token.secret(), "refresh-2");
    }
}
