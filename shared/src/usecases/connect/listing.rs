//! The service's view of its tenant's connections: one page at a time, filtered by provider
//! and status, never a token.
//!
//! Contract: the caller is the tenant's service (checked by the handler). A page holds at most
//! `limit` connections ([`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]) in the store's order (user
//! id, then provider); `next_cursor` is present exactly when more follow. A cursor is opaque
//! to the client: base64url of `["v1", tenant, user, provider]`, the last connection of the
//! page. It is bound to the tenant: one naming another tenant, or not of this shape, is
//! [`ListError::InvalidCursor`], and the store reads only the caller's tenant in any case, so
//! no cursor can read another tenant. Paging while connections change yields each one that
//! stays put exactly once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jiff::Timestamp;
use serde::Serialize;

use crate::app::App;
use crate::domain::{Provider, TenantId, UserId};
use crate::ports::{ConnectionQuery, ConnectionStatus, ConnectionSummary, StoreError, last_error_code};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;
const CURSOR_VERSION: &str = "v1";

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}")]
    InvalidLimit,
    #[error("status must be one of connected, needs_reconnect")]
    InvalidStatus,
    #[error("the cursor is not one this listing returned")]
    InvalidCursor,
    #[error(transparent)]
    UnknownProvider(#[from] crate::domain::UnknownProvider),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// The listing's query parameters as the client sent them (each optional).
#[derive(Debug, Default, Clone, Copy)]
pub struct ListRequest<'a> {
    pub provider: Option<&'a str>,
    pub status: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<&'a str>,
}

/// One connection as the service sees it; never a token, a sealed blob or a lease.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ListedConnection {
    pub user_id: String,
    pub provider: &'static str,
    pub status: &'static str,
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub scopes: Vec<String>,
    pub connected_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_code: Option<String>,
}

impl From<ConnectionSummary> for ListedConnection {
    fn from(summary: ConnectionSummary) -> Self {
        Self {
            user_id: summary.key.user.to_string(),
            provider: summary.key.provider.as_str(),
            status: summary.status.as_str(),
            account_id: summary.account_id,
            email: summary.email,
            scopes: summary.scopes,
            connected_at: summary.connected_at,
            updated_at: summary.updated_at,
            last_used_at: summary.last_used_at,
            last_error_code: summary.last_error.as_deref().map(|e| last_error_code(e).to_owned()),
            last_error: summary.last_error,
        }
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ConnectionList {
    pub connections: Vec<ListedConnection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of `tenant`'s connections.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list(app: &App, tenant: &TenantId, request: ListRequest<'_>) -> Result<ConnectionList, ListError> {
    let limit = match request.limit {
        None => DEFAULT_LIMIT,
        Some(raw) => {
            raw.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or(ListError::InvalidLimit)?
        }
    };
    let provider = request
        .provider
        .map(|raw| {
            let provider = Provider::parse(raw)?;
            app.oauth(provider)?;
            Ok::<_, ListError>(provider)
        })
        .transpose()?;
    let status = request.status.map(|raw| ConnectionStatus::parse(raw).ok_or(ListError::InvalidStatus)).transpose()?;
    let after = request.cursor.map(|raw| open_cursor(tenant, raw)).transpose()?;
    let page = app.connections.list_connections(tenant, &ConnectionQuery { provider, status, after, limit }).await?;
    let next_cursor = page
        .more
        .then(|| page.connections.last().map(|last| cursor(tenant, &last.key.user, last.key.provider)))
        .flatten();
    tracing::info!(count = page.connections.len(), more = page.more, "connections listed");
    Ok(ConnectionList { connections: page.connections.into_iter().map(Into::into).collect(), next_cursor })
}

fn cursor(tenant: &TenantId, user: &UserId, provider: Provider) -> String {
    let parts = [CURSOR_VERSION, tenant.as_str(), user.as_str(), provider.as_str()];
    B64URL.encode(serde_json::to_vec(&parts).expect("strings serialise"))
}

/// The (user, provider) a cursor of `tenant`'s listing continues after.
fn open_cursor(tenant: &TenantId, raw: &str) -> Result<(UserId, Provider), ListError> {
    let bytes = B64URL.decode(raw).map_err(|_| ListError::InvalidCursor)?;
    let parts: Vec<String> = serde_json::from_slice(&bytes).map_err(|_| ListError::InvalidCursor)?;
    let [version, cursor_tenant, user, provider] = parts.as_slice() else {
        return Err(ListError::InvalidCursor);
    };
    if version != CURSOR_VERSION || cursor_tenant != tenant.as_str() {
        return Err(ListError::InvalidCursor);
    }
    let user = UserId::parse(user).map_err(|_| ListError::InvalidCursor)?;
    let provider = Provider::parse(provider).map_err(|_| ListError::InvalidCursor)?;
    Ok((user, provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_own_tenant() {
        let t1 = TenantId::parse("t1").unwrap();
        let t2 = TenantId::parse("t2").unwrap();
        let raw = cursor(&t1, &UserId::parse("u-9").unwrap(), Provider::Zoom);
        assert_eq!(open_cursor(&t1, &raw).unwrap(), (UserId::parse("u-9").unwrap(), Provider::Zoom));
        assert!(matches!(open_cursor(&t2, &raw), Err(ListError::InvalidCursor)));
        let forged = B64URL.encode(br#"["v1","t1","a#b","google"]"#);
        let wrong_version = B64URL.encode(br#"["v2","t1","u","google"]"#);
        let short = B64URL.encode(br#"["v1","t1","u"]"#);
        for junk in ["", "!!", "e30", forged.as_str(), wrong_version.as_str(), short.as_str()] {
            assert!(matches!(open_cursor(&t1, junk), Err(ListError::InvalidCursor)), "{junk:?}");
        }
    }
}
