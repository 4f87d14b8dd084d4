//! What the app may know about a connection, and disconnecting it (revoke unless the grant is
//! shared, then erase).

use jiff::Timestamp;
use serde::Serialize;

use super::ConnectError;
use super::grants::{Revocation, revoke_unless_shared};
use crate::app::App;
use crate::crypto::tokens;
use crate::domain::{ConnectionKey, Provider};
use crate::errors::ErrorChain;
use crate::ports::last_error_code;

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
    /// The provider's id of the organisation the account belongs to (Zoom's `account_id`),
    /// when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<String>,
    /// The same id under its historical name, for Google connections only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// When calbridge last used the connection for a provider call (to 15 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// Why the connection last failed, `<code>: <message>`; cleared by a successful refresh
    /// or reconnect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The stable code of `last_error` (`invalid_grant`, `refresh_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_code: Option<String>,
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
            organisation_id: None,
            google_account_id: None,
            scopes: None,
            connected_at: None,
            updated_at: None,
            last_used_at: None,
            last_error: None,
            last_error_code: None,
        },
        Some(record) => ConnectionView {
            provider: owner.provider.as_str(),
            status: record.status.as_str(),
            email: record.email,
            google_account_id: (owner.provider == Provider::Google).then(|| record.account_id.clone()),
            account_id: Some(record.account_id),
            organisation_id: record.organisation_id,
            scopes: Some(record.scopes),
            connected_at: Some(record.connected_at),
            updated_at: Some(record.updated_at),
            last_used_at: record.last_used_at,
            last_error_code: record.last_error.as_deref().map(|e| last_error_code(e).to_owned()),
            last_error: record.last_error,
        },
    })
}

/// What a disconnect did: the connection is gone either way; `revoked` says whether the grant
/// is known to be gone at the provider, and when not, `revoke_skipped_reason` says why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Disconnected {
    pub disconnected: bool,
    pub revoked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_skipped_reason: Option<&'static str>,
}

impl Disconnected {
    fn after(revocation: Result<Revocation, &'static str>) -> Self {
        let reason = match revocation {
            Ok(revocation) if revocation.is_revoked() => None,
            Ok(Revocation::SkippedShared) => Some("grant_shared"),
            Ok(_) => Some("revocation_failed"),
            Err(reason) => Some(reason),
        };
        Self { disconnected: true, revoked: reason.is_none(), revoke_skipped_reason: reason }
    }
}

/// Revokes at the provider unless another connection shares the grant, then deletes. The
/// delete happens even when revocation fails: the user's intent to disconnect wins, and the
/// failure is logged for follow-up. Nothing connected is a disconnect with nothing to revoke.
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user, provider = %owner.provider))]
pub async fn disconnect(app: &App, owner: &ConnectionKey) -> Result<Disconnected, ConnectError> {
    let oauth = app.oauth(owner.provider)?;
    let Some(record) = app.connections.get_connection(owner).await? else {
        return Ok(Disconnected::after(Err("not_connected")));
    };
    let revocation = match tokens::open(&app.vault, owner, &record.sealed_tokens).await {
        Ok(stored) => Ok(revoke_unless_shared(
            app,
            oauth,
            owner.provider,
            &record.account_id,
            Some(owner),
            &stored.refresh_token,
            "disconnect",
        )
        .await),
        Err(e) => {
            tracing::error!(error = %ErrorChain(&e), "stored tokens do not open; deleting without revocation");
            Err("tokens_unreadable")
        }
    };
    app.connections.delete_connection(owner).await?;
    let outcome = Disconnected::after(revocation);
    tracing::info!(
        revoked = outcome.revoked,
        revoke_skipped_reason = outcome.revoke_skipped_reason,
        "connection deleted"
    );
    Ok(outcome)
}
