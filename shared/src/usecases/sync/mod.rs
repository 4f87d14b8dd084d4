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
//! connection needs reconnect -> `failed` with the reason, success; Google refuses the change
//! for good (400, 403 other than rate limits, 404/410 on a write) -> `failed` with a stable
//! `google_refused: <status> <reason>`, outcome `failed_rejected`, success: the version is
//! settled, so redeliveries of it are stale and only a corrected, higher version is applied;
//! Google or AWS down, or the user's Google call budget spent -> retried with backoff inside
//! the time the invocation has left, then `failed` with attempts and a
//! [`SyncError::Transient`] the caller returns so the queue redelivers it; invalid input ->
//! rejected without retry. Reassigning an appointment removes the event from the old user's
//! calendar and creates it on the new one's.
//!
//! Changes while the assignee is not connected (or must reconnect) are kept and applied when
//! they connect: [`pending`] says how.

mod calendar;
mod change;
pub mod pending;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::access_tokens::AccessError;
use super::retry::RetryPolicy;
use crate::app::App;
use crate::domain::{AppointmentId, TenantId, appointment_event_id};
use crate::errors::ErrorChain;
use crate::ports::{LeaseWait, StoreError, SyncRecord, SyncStatus, WriteCondition};

use calendar::{Applied, apply_at_google};
pub use change::{Action, AppointmentChange, Outcome, SyncError, SyncView, ValidChange};
pub use pending::apply_kept;

/// The `error` of a record settled because its user must reconnect.
const NEEDS_RECONNECT_ERROR: &str = "needs_reconnect: the user must connect Google again";
/// How every Google refusal recorded for good begins (see `calendar::refusal`).
pub(crate) const REFUSED_PREFIX: &str = "google_refused: ";

/// Whether `record` is final at its version, so that a change of the same version is stale.
/// Synced, deleted and refused-for-good versions are; a version that could not reach its user
/// (not connected, needs reconnect) or failed transiently may be applied again.
pub fn is_final(record: &SyncRecord) -> bool {
    match record.status {
        SyncStatus::Synced | SyncStatus::Deleted => true,
        SyncStatus::Failed => record.error.as_deref().is_some_and(|e| e.starts_with(REFUSED_PREFIX)),
        SyncStatus::SkippedNotConnected => false,
    }
}

/// The EventBridge `detail-type` of appointment changes.
pub const DETAIL_TYPE: &str = "AppointmentChanged";
/// The most one worker holds an appointment: longer than any invocation may run, so a live
/// holder is never overtaken. The lease taken ends shortly after the holder's own deadline
/// ([`super::deadline::lease_until`]), so a killed holder is overtaken within seconds.
pub const LEASE_TTL: SignedDuration = SignedDuration::from_secs(120);
/// Time kept back from the invocation's deadline to record the outcome.
const DEADLINE_RESERVE: Duration = Duration::from_secs(2);
const WAIT_STEP: Duration = Duration::from_millis(100);

/// The stored record, if any.
pub async fn record(
    app: &App,
    tenant: &TenantId,
    appointment: &AppointmentId,
) -> Result<Option<SyncRecord>, SyncError> {
    app.syncs.get_sync(tenant, appointment).await.map_err(|e| SyncError::Transient(Box::new(e)))
}

/// Notes on the appointment's record that a change for it was rejected as invalid: its
/// status becomes `failed` with `rejected: <why>`, its version stays, so any valid change
/// still applies. A record that is being applied (leased) is left alone: the live change
/// settles it. Best effort, for the app's `GET /appointments/{id}/sync`.
pub async fn record_rejection(
    app: &App,
    tenant: &TenantId,
    appointment: &AppointmentId,
    why: &str,
) -> Result<(), StoreError> {
    let current = app.syncs.get_sync(tenant, appointment).await?;
    let now = app.clock.now();
    let error = Some(format!("rejected: {}", why.chars().take(200).collect::<String>()));
    let (noted, condition) = match current {
        Some(current) if current.lease_until.is_some_and(|until| until > now) => return Ok(()),
        Some(current) => (
            SyncRecord { revision: current.revision + 1, status: SyncStatus::Failed, error, ..current.clone() },
            WriteCondition::Version(current.revision),
        ),
        None => (
            SyncRecord {
                tenant: tenant.clone(),
                appointment_id: appointment.clone(),
                revision: 1,
                version: 0,
                // Unknown until a valid change names the user; an empty id is never a real one.
                user_id: crate::domain::UserId::parse("unknown").expect("a valid user id"),
                calendar_id: None,
                google_event_id: appointment_event_id(tenant, appointment),
                status: SyncStatus::Failed,
                last_synced_at: None,
                error,
                attempts: 0,
                lease_until: None,
            },
            WriteCondition::Absent,
        ),
    };
    match app.syncs.put_sync(&noted, condition).await {
        // Someone else wrote it meanwhile: their write is newer news than a rejection.
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Applies one change, giving up (with [`SyncError::Transient`]) at `deadline`, and counts its
/// outcome (`SyncOutcomes` by `outcome`; a transient failure counts as `retried`).
#[tracing::instrument(skip_all, fields(tenant = %change.tenant, appointment = %change.appointment, version = change.version, action = ?change.action))]
pub async fn apply(app: &App, change: &ValidChange, deadline: Instant) -> Result<(Outcome, SyncRecord), SyncError> {
    let result = apply_uncounted(app, change, deadline).await;
    crate::metrics::sync_outcome(match &result {
        Ok((outcome, _)) => outcome.as_str(),
        Err(SyncError::Transient(_)) => "retried",
        Err(SyncError::Invalid(_)) => "invalid",
    });
    result
}

async fn apply_uncounted(
    app: &App,
    change: &ValidChange,
    deadline: Instant,
) -> Result<(Outcome, SyncRecord), SyncError> {
    let transient = |e: StoreError| SyncError::Transient(Box::new(e));
    let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(DEADLINE_RESERVE);
    let retry = RetryPolicy { budget: budget.min(app.retry.budget), ..app.retry };

    // 1. Take the appointment's lease (for the time this invocation has left, at most the
    //    TTL), unless the change is stale.
    let wait = LeaseWait::new(deadline, WAIT_STEP);
    let lease = super::deadline::lease_until(deadline, LEASE_TTL);
    let leased = loop {
        let current = app.syncs.get_sync(&change.tenant, &change.appointment).await.map_err(transient)?;
        let now = app.clock.now();
        if let Some(current) = &current {
            if current.version > change.version || (current.version == change.version && is_final(current)) {
                tracing::info!(applied = current.version, "stale or duplicate change ignored");
                return Ok((Outcome::IgnoredStale, current.clone()));
            }
            if current.lease_until.is_some_and(|until| until > now) {
                if !wait.step().await {
                    return Err(SyncError::Transient("another delivery is applying this appointment".into()));
                }
                continue;
            }
        }
        let leased = match &current {
            Some(current) => {
                SyncRecord { revision: current.revision + 1, lease_until: Some(now + lease), ..current.clone() }
            }
            None => SyncRecord {
                tenant: change.tenant.clone(),
                appointment_id: change.appointment.clone(),
                revision: 1,
                version: 0,
                user_id: change.user.clone(),
                calendar_id: None,
                google_event_id: appointment_event_id(&change.tenant, &change.appointment),
                status: SyncStatus::Failed,
                last_synced_at: None,
                error: Some("first version is being applied".into()),
                attempts: 0,
                lease_until: Some(now + lease),
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
        Ok(Applied::Refused { reason }) => {
            tracing::warn!(reason = %reason, "google refused the change for good; recorded, not retried");
            let refused =
                settle(&leased, change, SyncStatus::Failed, leased.calendar_id.clone(), Some(reason.as_str()), now);
            (Outcome::FailedRejected, SyncRecord { attempts: leased.attempts + 1, ..refused })
        }
        Ok(Applied::NeedsReconnect) => (
            Outcome::FailedNeedsReconnect,
            settle(&leased, change, SyncStatus::Failed, leased.calendar_id.clone(), Some(NEEDS_RECONNECT_ERROR), now),
        ),
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error), "appointment sync failed; will be retried");
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
                tracing::warn!(error = %ErrorChain(&e), "could not record the failure");
            }
            return Err(SyncError::Transient(Box::new(error)));
        }
    };
    app.syncs.put_sync(&settled, WriteCondition::Version(leased.revision)).await.map_err(transient)?;
    if matches!(outcome, Outcome::SkippedNotConnected | Outcome::FailedNeedsReconnect) {
        pending::keep(app, change, now).await;
    }
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
