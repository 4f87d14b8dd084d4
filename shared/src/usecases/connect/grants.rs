//! Revoking a grant at the provider without breaking another connection that shares it.
//!
//! Google revokes a whole grant: revoking one refresh token ends every token of that Google
//! account for our OAuth client, whichever app user (or tenant) holds it. So a grant is revoked
//! only when no *other* stored connection of the same provider, in any tenant, names the same
//! account ([`ConnectionStore::connections_of_account`](crate::ports::ConnectionStore)); else
//! the revoke is skipped and said so ([`Revocation::SkippedShared`]). "The same provider" means
//! the same OAuth client ([`OAuthProvider::grant_shared_with`]): Calendar (`google`) and Gmail
//! (`gmail`) connections made through one Google client are one grant at Google, so
//! disconnecting either kind revokes only when the account holds no connection of the other
//! kind (any user, any tenant); with a separate mail client they never share. The tokens are dropped
//! from our store either way. If the lookup itself fails, nothing is revoked: a stale grant
//! at the provider is the smaller harm than silently disconnecting someone else.
//!
//! Limit: in DynamoDB the lookup reads an index, so a connection of the same account stored a
//! moment earlier may not be seen yet; and two holders disconnecting at the same instant may
//! each see the other and both skip (the grant then stays live at the provider until the user
//! removes it there).

use oauth2::RefreshToken;

use super::callback::log_provider_error;
use crate::app::{App, OAuthProvider};
use crate::domain::ConnectionKey;
use crate::errors::ErrorChain;
use crate::ports::{OAuthError, StoreError};

/// What happened to a grant at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The provider revoked it.
    Revoked,
    /// The provider says it was already revoked or expired: nothing was left to revoke.
    AlreadyInvalid,
    /// Another stored connection uses the same account, so the shared grant was kept.
    SkippedShared,
    /// The provider (or the lookup) failed; the grant may still be live.
    Failed,
}

impl Revocation {
    /// Whether the grant is known to be gone at the provider.
    pub fn is_revoked(self) -> bool {
        matches!(self, Revocation::Revoked | Revocation::AlreadyInvalid)
    }
}

/// Revokes the grant behind `refresh_token` (of the provider account `account_id`) unless a
/// stored connection other than `holder` uses the same account. `holder` is the connection
/// the grant belongs (or belonged) to; `None` when the grant is not stored anywhere (a fresh
/// grant being refused), so that every stored connection of the account counts as sharing.
pub(super) async fn revoke_unless_shared(
    app: &App,
    oauth: &OAuthProvider,
    provider: crate::domain::Provider,
    account_id: &str,
    holder: Option<&ConnectionKey>,
    refresh_token: &RefreshToken,
    what: &str,
) -> Revocation {
    match others_sharing(app, &oauth.grant_shared_with, account_id, holder).await {
        Ok(0) => {}
        Ok(sharing) => {
            tracing::info!(sharing, "{what}: grant shared with other connections of the account; revoke skipped");
            return Revocation::SkippedShared;
        }
        Err(e) => {
            tracing::error!(error = %ErrorChain(&e), "{what}: cannot tell whether the grant is shared; not revoking");
            return Revocation::Failed;
        }
    }
    match oauth.client.revoke(refresh_token).await {
        Ok(()) => {
            tracing::info!("{what}: grant revoked at {provider}");
            Revocation::Revoked
        }
        Err(OAuthError::InvalidGrant) => {
            tracing::info!("{what}: grant was already invalid at {provider}");
            Revocation::AlreadyInvalid
        }
        Err(e) => {
            log_provider_error(&format!("{what}: revocation"), &e);
            Revocation::Failed
        }
    }
}

/// How many stored connections other than `holder`, of the providers sharing the grant, use
/// the account `account_id`.
async fn others_sharing(
    app: &App,
    sharing: &[crate::domain::Provider],
    account_id: &str,
    holder: Option<&ConnectionKey>,
) -> Result<usize, StoreError> {
    let mut others = 0;
    for &provider in sharing {
        let keys = app.connections.connections_of_account(provider, account_id).await?;
        others += keys.iter().filter(|key| Some(*key) != holder).count();
    }
    Ok(others)
}
