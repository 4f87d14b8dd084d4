//! What the app may know about a connection, and disconnecting it (revoke, then erase).

use jiff::Timestamp;
use serde::Serialize;

use super::ConnectError;
use super::callback::log_provider_error;
use crate::app::App;
use crate::crypto::tokens;
use crate::domain::{ConnectionKey, Provider};
use crate::errors::ErrorChain;
use crate::ports::OAuthError;

/// What the app may know about a connection; never a token.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ConnectionView {
    pub provider: &'static str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The provider's id of the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The same id under its historical name, for Google connections only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

pub async fn status(app: &App, owner: &ConnectionKey) -> Result<ConnectionView, ConnectError> {
    app.oauth(owner.provider)?;
    let record = app.connections.get_connection(owner).await?;
    Ok(match record {
        None => ConnectionView {
            provider: owner.provider.as_str(),
            status: "not_connected",
            email: None,
            account_id: None,
            google_account_id: None,
            scopes: None,
            connected_at: None,
            updated_at: None,
            last_error: None,
        },
        Some(record) => ConnectionView {
            provider: owner.provider.as_str(),
            status: record.status.as_str(),
            email: record.email,
            google_account_id: (owner.provider == Provider::Google).then(|| record.account_id.clone()),
            account_id: Some(record.account_id),
            scopes: Some(record.scopes),
            connected_at: Some(record.connected_at),
            updated_at: Some(record.updated_at),
            last_error: record.last_error,
        },
    })
}

/// Revokes at the provider, then deletes. The delete happens even when revocation fails: the user's
/// intent to disconnect wins, and the failure is logged for follow-up.
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user, provider = %owner.provider))]
pub async fn disconnect(app: &App, owner: &ConnectionKey) -> Result<(), ConnectError> {
    let oauth = app.oauth(owner.provider)?;
    let Some(record) = app.connections.get_connection(owner).await? else {
        return Ok(());
    };
    match tokens::open(&app.vault, owner, &record.sealed_tokens).await {
        Ok(stored) => match oauth.client.revoke(&stored.refresh_token).await {
            Ok(()) => tracing::info!("grant revoked at {}", owner.provider),
            // Already revoked or expired at the provider: nothing left to revoke.
            Err(OAuthError::InvalidGrant) => {
                tracing::info!("grant was already invalid at {}", owner.provider)
            }
            Err(e) => log_provider_error("revocation (deleting anyway)", &e),
        },
        Err(e) => {
            tracing::error!(error = %ErrorChain(&e), "stored tokens do not open; deleting without revocation")
        }
    }
    app.connections.delete_connection(owner).await?;
    tracing::info!("connection deleted");
    Ok(())
}
