//! Mirroring the app's appointments into the assigned user's Google Calendar: exactly once,
//! in order, privately.
//!
//! Transport (EventBridge) delivers at least once and in any order, so correctness lives here:
//! - **Never a duplicate.** The Google event id is derived from (tenant, appointment), so every
//!   attempt writes the same event: an insert Google already applied (even one whose response
//!   was lost) answers 409 `duplicate`, and is resolved by patching that event.
//! - **In order.** The sync record keeps the highest version applied; an event whose version
//!   is not greater is ignored and reported so. Deletes leave a versioned tombstone, so a late
//!   create for an older version cannot bring the event back. One worker at a time applies a
//!   version (a lease on the record, longer than an invocation can run), so two versions never
//!   race each other at Google.
//! - **Privately.** The Google event carries start, end, time zone and a neutral title (unless
//!   the app allows titles and sends one), plus private extended properties linking it to the
//!   tenant and appointment: no description, no attendees, no patient or client data.
//!
//! Failure policy: user not connected -> `skipped_not_connected`, success (no retry storm);
//! connection needs reconnect -> `failed` with the reason, success; Google or AWS down ->
//! retried with backoff inside the time the invocation has left, then `failed` with attempts
//! and an error the caller returns so EventBridge/Lambda retry; invalid input -> rejected
//! without retry. Reassigning an appointment removes the event from the old user's calendar
//! and creates it on the new one's.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oauth2::AccessToken;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::access_tokens::{Access, AccessError, access_token, call_google_with_retry};
use crate::app::App;
use crate::domain::{AppointmentId, ConnectionKey, TenantId, UserId};
use crate::ports::{EventWrite, GoogleApiError, SendUpdates, StoreError, SyncRecord, SyncStatus, WriteCondition};
use crate::retry::RetryPolicy;

/// The EventBridge `detail-type` of appointment changes.
pub const DETAIL_TYPE: &str = "AppointmentChanged";
/// How long one worker holds an appointment: longer than any invocation may run, so a live
/// holder is never overtaken.
pub const LEASE_TTL: SignedDuration = SignedDuration::from_secs(120);
/// Time kept back from the invocation's deadline to record the outcome.
const DEADLINE_RESERVE: Duration = Duration::from_secs(2);
const WAIT_STEP: Duration = Duration::from_millis(100);
const MAX_TITLE_LEN: usize = 200;

/// `detail` of an `AppointmentChanged` event, and the body of `POST /appointments/{id}/sync`.
/// Unknown fields are ignored (apps add their own), and are never copied anywhere.
#[derive(Debug, Clone, Deserialize)]
pub struct AppointmentChange {
    pub tenant_id: Option<String>,
    pub appointment_id: Option<String>,
    pub user_id: String,
    pub action: Action,
    pub version: u64,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub time_zone: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// A change that passed validation.
#[derive(Debug, Clone)]
pub struct ValidChange {
    pub tenant: TenantId,
    pub appointment: AppointmentId,
    pub user: UserId,
    pub action: Action,
    pub version: u64,
    /// Present for create and update.
    pub slot: Option<(Timestamp, Timestamp)>,
    pub time_zone: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The input can never succeed: rejected, not retried.
    #[error("invalid appointment change: {0}")]
    Invalid(String),
    /// Google or AWS failed after retries: the caller should be retried later.
    #[error("appointment sync failed transiently")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ValidChange {
    /// Validates a change; `tenant` and `appointment` come from the trusted context (the
    /// event's detail for EventBridge, the caller and path for HTTP).
    pub fn parse(change: AppointmentChange, tenant: &str, appointment: &str) -> Result<Self, SyncError> {
        let invalid = |why: String| SyncError::Invalid(why);
        let tenant = TenantId::parse(tenant).map_err(|e| invalid(e.to_string()))?;
        let appointment = AppointmentId::parse(appointment).map_err(|e| invalid(e.to_string()))?;
        let user = UserId::parse(&change.user_id).map_err(|e| invalid(e.to_string()))?;
        if change.version == 0 {
            return Err(invalid("version must be a positive, increasing number".into()));
        }
        if let Some(zone) = &change.time_zone {
            jiff::tz::TimeZone::get(zone).map_err(|_| invalid(format!("unknown time zone {zone:?}")))?;
        }
        let slot = match change.action {
            Action::Delete => None,
            Action::Create | Action::Update => match (change.start, change.end) {
                (Some(start), Some(end)) if start < end => Some((start, end)),
                (Some(_), Some(_)) => return Err(invalid("end must be after start".into())),
                _ => return Err(invalid("create and update need start and end".into())),
            },
        };
        let title = change.title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if title.as_ref().is_some_and(|t| t.chars().count() > MAX_TITLE_LEN || t.chars().any(char::is_control)) {
            return Err(invalid(format!("title must be at most {MAX_TITLE_LEN} printable characters")));
        }
        Ok(Self {
            tenant,
            appointment,
            user,
            action: change.action,
            version: change.version,
            slot,
            time_zone: change.time_zone,
            title,
        })
    }
}

/// What happened to one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Synced,
    Deleted,
    SkippedNotConnected,
    FailedNeedsReconnect,
    /// A version at or below the one already applied: nothing done.
    IgnoredStale,
}

/// The sync record as the app sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SyncView {
    pub appointment_id: String,
    pub user_id: String,
    pub google_event_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    pub version: u64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
}

impl From<&SyncRecord> for SyncView {
    fn from(r: &SyncRecord) -> Self {
        Self {
            appointment_id: r.appointment_id.to_string(),
            user_id: r.user_id.to_string(),
            google_event_id: r.google_event_id.clone(),
            calendar_id: r.calendar_id.clone(),
            version: r.version,
            status: r.status.as_str(),
            last_synced_at: r.last_synced_at,
            error: r.error.clone(),
            attempts: r.attempts,
        }
    }
}

/// The Google event id of an appointment: base32hex of SHA-256 over (tenant, appointment), the
/// alphabet and length Google accepts for client-chosen ids (52 characters of `[a-v0-9]`).
pub fn google_event_id(tenant: &TenantId, appointment: &AppointmentId) -> String {
    let digest = Sha256::new()
        .chain_update(b"calbridge/appointment/v1|")
        .chain_update(tenant.as_str())
        .chain_update(b"|")
        .chain_update(appointment.as_str())
        .finalize();
    data_encoding::BASE32HEX_NOPAD.encode(&digest).to_ascii_lowercase()
}

/// The stored record, if any.
pub async fn record(
    app: &App,
    tenant: &TenantId,
    appointment: &AppointmentId,
) -> Result<Option<SyncRecord>, SyncError> {
    app.syncs.get_sync(tenant, appointment).await.map_err(|e| SyncError::Transient(Box::new(e)))
}

/// Applies one change, giving up (with [`SyncError::Transient`]) at `deadline`.
#[tracing::instrument(skip_all, fields(tenant = %change.tenant, appointment = %change.appointment, version = change.version, action = ?change.action))]
pub async fn apply(app: &App, change: &ValidChange, deadline: Instant) -> Result<(Outcome, SyncRecord), SyncError> {
    let transient = |e: StoreError| SyncError::Transient(Box::new(e));
    let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(DEADLINE_RESERVE);
    let retry = RetryPolicy { budget: budget.min(app.retry.budget), ..app.retry };

    // 1. Take the appointment's lease, unless the change is stale.
    let leased = loop {
        let current = app.syncs.get_sync(&change.tenant, &change.appointment).await.map_err(transient)?;
        let now = app.clock.now();
        if let Some(current) = &current {
            if current.version >= change.version {
                tracing::info!(applied = current.version, "stale or duplicate change ignored");
                return Ok((Outcome::IgnoredStale, current.clone()));
            }
            if current.lease_until.is_some_and(|until| until > now) {
                if Instant::now() + WAIT_STEP >= deadline {
                    return Err(SyncError::Transient("another delivery is applying this appointment".into()));
                }
                tokio::time::sleep(WAIT_STEP).await;
                continue;
            }
        }
        let leased = match &current {
            Some(current) => {
                SyncRecord { revision: current.revision + 1, lease_until: Some(now + LEASE_TTL), ..current.clone() }
            }
            None => SyncRecord {
                tenant: change.tenant.clone(),
                appointment_id: change.appointment.clone(),
                revision: 1,
                version: 0,
                user_id: change.user.clone(),
                calendar_id: None,
                google_event_id: google_event_id(&change.tenant, &change.appointment),
                status: SyncStatus::Failed,
                last_synced_at: None,
                error: Some("first version is being applied".into()),
                attempts: 0,
                lease_until: Some(now + LEASE_TTL),
            },
        };
        let condition = current.as_ref().map_or(WriteCondition::Absent, |c| WriteCondition::Version(c.revision));
        match app.syncs.put_sync(&leased, condition).await {
            Ok(()) => break leased,
            Err(StoreError::ConditionFailed) => continue,
            Err(error) => return Err(transient(error)),
        }
    };

    // 2. Apply at Google, 3. publish the outcome (which also releases the lease).
    let applied = apply_at_google(app, &retry, &leased, change).await;
    let now = app.clock.now();
    let (outcome, settled) = match applied {
        Ok(Applied::Written { calendar_id }) => {
            (Outcome::Synced, settle(&leased, change, SyncStatus::Synced, Some(calendar_id), None, now))
        }
        Ok(Applied::Removed) => {
            (Outcome::Deleted, settle(&leased, change, SyncStatus::Deleted, leased.calendar_id.clone(), None, now))
        }
        Ok(Applied::NotConnected) => (
            Outcome::SkippedNotConnected,
            settle(
                &leased,
                change,
                SyncStatus::SkippedNotConnected,
                None,
                Some("the user has no Google connection"),
                now,
            ),
        ),
        Ok(Applied::NeedsReconnect) => (
            Outcome::FailedNeedsReconnect,
            settle(
                &leased,
                change,
                SyncStatus::Failed,
                leased.calendar_id.clone(),
                Some("needs_reconnect: the user must connect Google again"),
                now,
            ),
        ),
        Err(error) => {
            tracing::warn!(error = %crate::http::ErrorChain(&error), "appointment sync failed; will be retried");
            let failed = SyncRecord {
                revision: leased.revision + 1,
                status: SyncStatus::Failed,
                error: Some(short_error(&error)),
                attempts: leased.attempts + 1,
                lease_until: None,
                ..leased.clone()
            };
            // Best effort: the retry will find the lease expired anyway.
            if let Err(e) = app.syncs.put_sync(&failed, WriteCondition::Version(leased.revision)).await {
                tracing::warn!(error = %crate::http::ErrorChain(&e), "could not record the failure");
            }
            return Err(SyncError::Transient(Box::new(error)));
        }
    };
    app.syncs.put_sync(&settled, WriteCondition::Version(leased.revision)).await.map_err(transient)?;
    tracing::info!(outcome = ?outcome, "appointment change applied");
    Ok((outcome, settled))
}

fn settle(
    leased: &SyncRecord,
    change: &ValidChange,
    status: SyncStatus,
    calendar_id: Option<String>,
    error: Option<&str>,
    now: Timestamp,
) -> SyncRecord {
    SyncRecord {
        revision: leased.revision + 1,
        version: change.version,
        user_id: change.user.clone(),
        calendar_id,
        status,
        last_synced_at: Some(now),
        error: error.map(str::to_owned),
        attempts: 0,
        lease_until: None,
        ..leased.clone()
    }
}

/// A short, token-free description of a failure for the sync record.
fn short_error(error: &AccessError) -> String {
    match error {
        AccessError::Google(google) => format!("google: {google}"),
        other => other.to_string(),
    }
}

enum Applied {
    Written { calendar_id: String },
    Removed,
    NotConnected,
    NeedsReconnect,
}

async fn apply_at_google(
    app: &App,
    retry: &RetryPolicy,
    leased: &SyncRecord,
    change: &ValidChange,
) -> Result<Applied, AccessError> {
    let event_id = leased.google_event_id.as_str();
    let placed = leased.calendar_id.clone().filter(|_| leased.status != SyncStatus::Deleted);
    match change.action {
        Action::Delete => {
            // Where the event is; with no record of a placement, where a lost create would be.
            let (user, calendar) = match &placed {
                Some(calendar) => (leased.user_id.clone(), Some(calendar.clone())),
                None => (change.user.clone(), None),
            };
            match remove(app, retry, &change.tenant, &user, calendar, event_id).await? {
                Presence::Done => Ok(Applied::Removed),
                Presence::NotConnected => Ok(Applied::Removed),
                Presence::NeedsReconnect => Ok(Applied::NeedsReconnect),
            }
        }
        Action::Create | Action::Update => {
            if let Some(calendar) = placed.clone().filter(|_| leased.user_id != change.user) {
                // Reassigned: take it off the previous user's calendar first.
                match remove(app, retry, &change.tenant, &leased.user_id, Some(calendar), event_id).await? {
                    Presence::Done => tracing::info!("event removed from the previous assignee's calendar"),
                    other => tracing::warn!(previous = ?other, "could not remove the event from the previous assignee"),
                }
            }
            let owner = ConnectionKey::google(change.tenant.clone(), change.user.clone());
            let access = match access_token(app, &owner).await {
                Ok(access) => access,
                Err(AccessError::NotConnected) => return Ok(Applied::NotConnected),
                Err(AccessError::NeedsReconnect) => return Ok(Applied::NeedsReconnect),
                Err(error) => return Err(error),
            };
            let calendar_id = placed
                .filter(|_| leased.user_id == change.user)
                .or_else(|| access.record.selected_calendar_id.clone())
                .unwrap_or_else(|| "primary".to_owned());
            let event = event_write(app, change, event_id);
            match upsert(app, retry, &owner, access, &calendar_id, &event).await {
                Ok(()) => Ok(Applied::Written { calendar_id }),
                Err(AccessError::NeedsReconnect) => Ok(Applied::NeedsReconnect),
                Err(AccessError::NotConnected) => Ok(Applied::NotConnected),
                Err(error) => Err(error),
            }
        }
    }
}

fn event_write(app: &App, change: &ValidChange, event_id: &str) -> EventWrite {
    let (start, end) = change.slot.expect("create and update carry a slot");
    let title = change
        .title
        .clone()
        .filter(|_| app.settings.sync.allow_event_titles)
        .unwrap_or_else(|| app.settings.sync.event_title.clone());
    EventWrite {
        id: Some(event_id.to_owned()),
        start,
        end,
        time_zone: change.time_zone.clone(),
        summary: title,
        private_properties: BTreeMap::from([
            ("calbridge_tenant".to_owned(), change.tenant.to_string()),
            ("calbridge_appointment".to_owned(), change.appointment.to_string()),
            ("calbridge_version".to_owned(), change.version.to_string()),
        ]),
        attendee_emails: Vec::new(),
        conference_request_id: None,
        status: Some("confirmed".to_owned()),
    }
}

/// Insert with the derived id; if Google already has it (a retry, a lost response, or a
/// cancelled event being revived), patch it instead.
async fn upsert(
    app: &App,
    retry: &RetryPolicy,
    owner: &ConnectionKey,
    access: Access,
    calendar_id: &str,
    event: &EventWrite,
) -> Result<(), AccessError> {
    let insert = |token: AccessToken| async move {
        app.calendar.insert_event(&token, calendar_id, event, SendUpdates::None).await
    };
    match call_google_with_retry(app, retry, access, insert).await {
        Ok(_) => Ok(()),
        Err(AccessError::Google(GoogleApiError::Conflict { .. })) => {
            let access = access_token(app, owner).await?;
            let event_id = event.id.as_deref().expect("synced events have an id");
            let patch = |token: AccessToken| async move {
                app.calendar.patch_event(&token, calendar_id, event_id, event, SendUpdates::None).await
            };
            call_google_with_retry(app, retry, access, patch).await.map(|_| ())
        }
        Err(error) => Err(error),
    }
}

#[derive(Debug)]
enum Presence {
    Done,
    NotConnected,
    NeedsReconnect,
}

/// Deletes the event from `user`'s calendar (`None`: the user's selected calendar). An event
/// Google does not have, or already deleted, counts as done.
async fn remove(
    app: &App,
    retry: &RetryPolicy,
    tenant: &TenantId,
    user: &UserId,
    calendar: Option<String>,
    event_id: &str,
) -> Result<Presence, AccessError> {
    let owner = ConnectionKey::google(tenant.clone(), user.clone());
    let access = match access_token(app, &owner).await {
        Ok(access) => access,
        Err(AccessError::NotConnected) => return Ok(Presence::NotConnected),
        Err(AccessError::NeedsReconnect) => return Ok(Presence::NeedsReconnect),
        Err(error) => return Err(error),
    };
    let calendar_id =
        calendar.or_else(|| access.record.selected_calendar_id.clone()).unwrap_or_else(|| "primary".to_owned());
    let delete = |token: AccessToken| {
        let calendar_id = calendar_id.clone();
        async move { app.calendar.delete_event(&token, &calendar_id, event_id, SendUpdates::None).await }
    };
    match call_google_with_retry(app, retry, access, delete).await {
        Ok(_) | Err(AccessError::Google(GoogleApiError::NotFound | GoogleApiError::Gone)) => Ok(Presence::Done),
        Err(AccessError::NeedsReconnect) => Ok(Presence::NeedsReconnect),
        Err(AccessError::NotConnected) => Ok(Presence::NotConnected),
        Err(error) => Err(error),
    }
}
