//! A valid Google access token for a connection, refreshed at most once however many callers
//! (Lambda containers) need it at the same moment.
//!
//! A stored token is used while it has more than [`REFRESH_MARGIN`] left. Otherwise the caller
//! tries to take the connection's refresh lease (a conditional write on the record's version,
//! see [`ConnectionStore::acquire_refresh_lease`]). The one that gets it refreshes at Google and
//! writes the new token conditionally on the version it leased, which also releases the lease;
//! everyone else re-reads the record until the new token appears (or the lease lapses, when
//! they compete again). A refresh response without a refresh_token keeps the stored one; one
//! with a new refresh_token replaces it. `invalid_grant` is terminal: the connection becomes
//! `needs_reconnect` with `last_error`, and no Google call is made for it again until the user
//! reconnects. A Google 401 on an API call forces one refresh (unless another caller has
//! already replaced the rejected token), never more.
//!
//! [`ConnectionStore::acquire_refresh_lease`]: crate::ports::ConnectionStore::acquire_refresh_lease

use std::future::Future;
use std::time::Duration;

use jiff::SignedDuration;
use oauth2::AccessToken;

use crate::app::App;
use crate::domain::ConnectionKey;
use crate::ports::{ConnectionRecord, ConnectionStatus, GoogleApiError, GoogleOAuthError, StoreError, WriteCondition};
use crate::retry::RetryPolicy;
use crate::tokens::{self, StoredTokens, TokensError};

/// Tokens this close to expiry are refreshed first.
pub const REFRESH_MARGIN: SignedDuration = SignedDuration::from_mins(5);
/// How long a refresher holds the lease: longer than one token exchange may take.
pub const LEASE_TTL: SignedDuration = SignedDuration::from_secs(15);
/// How often a waiting caller re-reads the record.
const WAIT_STEP: Duration = Duration::from_millis(50);
/// Read-modify-write attempts when the record changes under a refresher.
const WRITE_ATTEMPTS: usize = 3;
const INVALID_GRANT_ERROR: &str =
    "invalid_grant: Google no longer accepts the refresh token (revoked, expired or password changed); reconnect";

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the user has not connected a Google account")]
    NotConnected,
    #[error("the Google connection must be renewed by the user")]
    NeedsReconnect,
    #[error("google call failed")]
    Google(#[source] GoogleApiError),
    #[error("token refresh failed")]
    Refresh(#[source] GoogleOAuthError),
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("stored tokens do not open")]
    Tokens(#[from] TokensError),
}

/// A usable access token and the connection record it came from.
pub struct Access {
    pub token: AccessToken,
    pub record: ConnectionRecord,
}

/// Calls Google for `owner` with a valid token: retries per the app's policy, and on a 401
/// refreshes once and tries again.
pub async fn call_google<T, F, Fut>(
    app: &App,
    owner: &ConnectionKey,
    call: F,
) -> Result<(T, ConnectionRecord), AccessError>
where
    F: Fn(AccessToken) -> Fut,
    Fut: Future<Output = Result<T, GoogleApiError>>,
{
    let access = access_token(app, owner).await?;
    let (value, access) = call_google_with(app, access, call).await?;
    Ok((value, access.record))
}

/// [`call_google`] with a token already in hand; returns the token to use next (the same, or
/// the refreshed one after a 401), so a sequence of calls reads the store once.
pub async fn call_google_with<T, F, Fut>(app: &App, access: Access, call: F) -> Result<(T, Access), AccessError>
where
    F: Fn(AccessToken) -> Fut,
    Fut: Future<Output = Result<T, GoogleApiError>>,
{
    call_google_with_retry(app, &app.retry, access, call).await
}

/// [`call_google_with`] under a caller-chosen retry policy (e.g. one bounded by the time a
/// Lambda invocation has left).
pub async fn call_google_with_retry<T, F, Fut>(
    app: &App,
    retry: &RetryPolicy,
    access: Access,
    call: F,
) -> Result<(T, Access), AccessError>
where
    F: Fn(AccessToken) -> Fut,
    Fut: Future<Output = Result<T, GoogleApiError>>,
{
    match retry.run(|| call(access.token.clone())).await {
        Ok(value) => Ok((value, access)),
        Err(GoogleApiError::Unauthorized) => {
            tracing::info!("google rejected the access token; refreshing once");
            let owner = access.record.key.clone();
            let access = fresh_token(app, &owner, Some(&access.token)).await?;
            let value = retry.run(|| call(access.token.clone())).await.map_err(AccessError::Google)?;
            Ok((value, access))
        }
        Err(error) => Err(AccessError::Google(error)),
    }
}

/// A token with more than [`REFRESH_MARGIN`] left, refreshing if needed.
pub async fn access_token(app: &App, owner: &ConnectionKey) -> Result<Access, AccessError> {
    fresh_token(app, owner, None).await
}

#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user))]
async fn fresh_token(app: &App, owner: &ConnectionKey, rejected: Option<&AccessToken>) -> Result<Access, AccessError> {
    let give_up_at = tokio::time::Instant::now() + LEASE_TTL.unsigned_abs() + Duration::from_secs(2);
    loop {
        let record = app.connections.get_connection(owner).await?.ok_or(AccessError::NotConnected)?;
        if record.status == ConnectionStatus::NeedsReconnect {
            return Err(AccessError::NeedsReconnect);
        }
        let stored = tokens::open(&app.vault, owner, &record.sealed_tokens).await?;
        let now = app.clock.now();
        let unexpired = stored.access_token_expires_at.is_some_and(|at| at > now + REFRESH_MARGIN);
        let was_rejected = rejected.is_some_and(|r| r.secret() == stored.access_token.secret());
        if unexpired && !was_rejected {
            return Ok(Access { token: stored.access_token, record });
        }
        if app.connections.acquire_refresh_lease(owner, record.version, now, now + LEASE_TTL).await? {
            return refresh(app, record, stored).await;
        }
        if tokio::time::Instant::now() >= give_up_at {
            return Err(AccessError::Store(StoreError::Unavailable(
                "another caller's token refresh did not finish in time".into(),
            )));
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

/// Refreshes under the lease taken on `leased`, then publishes the outcome.
async fn refresh(app: &App, leased: ConnectionRecord, stored: StoredTokens) -> Result<Access, AccessError> {
    match app.google.refresh(&stored.refresh_token).await {
        Ok(grant) => {
            tracing::info!("access token refreshed");
            let tokens = StoredTokens {
                access_token: grant.access_token,
                // Google usually omits refresh_token on refresh: keep ours. A new one wins.
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
                    access_token_expires_at: tokens.access_token_expires_at,
                    refresh_lease_until: None,
                    sealed_tokens: sealed.clone(),
                    ..record.clone()
                },
                Some(&tokens),
            )
            .await?;
            Ok(Access { token: tokens.access_token, record })
        }
        Err(GoogleOAuthError::InvalidGrant) => {
            tracing::warn!("refresh token refused by google; connection needs reconnect");
            publish(
                app,
                leased,
                |record, _, now| ConnectionRecord {
                    version: record.version + 1,
                    status: ConnectionStatus::NeedsReconnect,
                    updated_at: now,
                    last_error: Some(INVALID_GRANT_ERROR.to_owned()),
                    refresh_lease_until: None,
                    ..record.clone()
                },
                None,
            )
            .await?;
            Err(AccessError::NeedsReconnect)
        }
        Err(error) => {
            // Release the lease so waiters do not sit out its whole TTL for nothing.
            let _ = publish(
                app,
                leased,
                |record, _, _| ConnectionRecord {
                    version: record.version + 1,
                    refresh_lease_until: None,
                    ..record.clone()
                },
                None,
            )
            .await;
            Err(AccessError::Refresh(error))
        }
    }
}

/// Writes `change(record)` conditionally on the record's version. If the record changed
/// meanwhile (say, a calendar selection), the change is applied again on the fresh record, as
/// long as it is still the same Google account; a deleted record stays deleted.
async fn publish(
    app: &App,
    mut record: ConnectionRecord,
    change: impl Fn(&ConnectionRecord, &crate::ports::SealedSecret, jiff::Timestamp) -> ConnectionRecord,
    tokens: Option<&StoredTokens>,
) -> Result<ConnectionRecord, AccessError> {
    let owner = record.key.clone();
    let sealed = match tokens {
        Some(tokens) => tokens::seal(&app.vault, &owner, tokens).await?,
        None => record.sealed_tokens.clone(),
    };
    for _ in 0..WRITE_ATTEMPTS {
        let sealed = if tokens.is_some() { sealed.clone() } else { record.sealed_tokens.clone() };
        let updated = change(&record, &sealed, app.clock.now());
        match app.connections.put_connection(&updated, WriteCondition::Version(record.version)).await {
            Ok(()) => return Ok(updated),
            Err(StoreError::ConditionFailed) => {
                let Some(current) = app.connections.get_connection(&owner).await? else {
                    return Err(AccessError::NotConnected);
                };
                if current.google_account_id != record.google_account_id {
                    // Reconnected to another account meanwhile: our refresh is moot.
                    return Err(AccessError::Store(StoreError::ConditionFailed));
                }
                record = current;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(AccessError::Store(StoreError::ConditionFailed))
}
