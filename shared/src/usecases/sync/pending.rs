//! Changes that arrive while their user cannot be written to, applied when the user connects.
//!
//! 1. [`super::apply`] meets a change it cannot apply because the assignee has no usable
//!    connection (not connected, or needs to reconnect). It settles the sync record at that
//!    version as before (`skipped_not_connected`, or `failed` with `needs_reconnect`), so the
//!    queue is done with it, and [`keep`]s the change in the store beside the user's
//!    connection: times and time zone only (the title only when `ALLOW_EVENT_TITLES` lets
//!    titles reach Google anyway), one per appointment, the latest version winning, until the
//!    appointment has ended (a delete: [`DELETE_KEPT_FOR`]). Nothing else of the app's data
//!    is stored.
//! 2. Such a record is not final at its version ([`super::is_final`]): the same version may be
//!    applied again, so the kept change needs no version of its own.
//! 3. When the user connects (the callback, once the connection is stored), [`apply_kept`]
//!    lists the user's kept changes and applies each through [`super::apply`], with its lease
//!    and version rules (a newer change the queue applied first makes a kept one stale), up to
//!    [`MAX_APPLIED`] of them, [`CONCURRENCY`] at a time, within [`BUDGET`] of the request's
//!    time. One applied, stale or refused for good is forgotten; one that failed transiently,
//!    or did not fit the bound, stays for the next connect, and any newer change from the app
//!    supersedes it. The connect itself never fails because of this.
//!
//! Why keep changes rather than tell the app to resend: the app already sent them, and an app
//! that tracks which of its appointments were skipped for which user is exactly the
//! bookkeeping calbridge exists to remove. Only the latest change per appointment matters
//! (versions order them), so what is kept is bounded by the user's upcoming appointments.

use std::time::Duration;

use futures_util::StreamExt as _;
use jiff::{SignedDuration, Timestamp};

use super::{Action, AppointmentChange, Outcome, SyncError, ValidChange};
use crate::app::App;
use crate::domain::ConnectionKey;
use crate::errors::ErrorChain;
use crate::ports::PendingChange;
use crate::usecases::deadline;

/// How long a delete is kept when its user cannot be reached (it has no end of its own): long
/// enough for a user to notice and reconnect, short enough not to hoard.
pub const DELETE_KEPT_FOR: SignedDuration = SignedDuration::from_hours(30 * 24);
/// The most kept changes one connect applies.
pub const MAX_APPLIED: usize = 50;
/// Kept changes applied at the same time.
pub const CONCURRENCY: usize = 4;
/// The most of the callback's time spent applying kept changes (less when the request has
/// less time left): the browser is waiting for its redirect.
pub const BUDGET: Duration = Duration::from_secs(6);

/// Keeps `change` for when its user connects (see the module doc). Best effort: a failure is
/// logged, and the change is then lost only until the app sends a newer one.
pub(super) async fn keep(app: &App, change: &ValidChange, now: Timestamp) {
    let expires_at = match change.slot {
        Some((_, end)) => end,
        None => now + DELETE_KEPT_FOR,
    };
    if expires_at <= now {
        return;
    }
    let pending = PendingChange {
        tenant: change.tenant.clone(),
        user_id: change.user.clone(),
        appointment_id: change.appointment.clone(),
        version: change.version,
        action: change.action.as_str().to_owned(),
        start: change.slot.map(|(start, _)| start),
        end: change.slot.map(|(_, end)| end),
        time_zone: change.time_zone.as_ref().map(|zone| zone.as_str().to_owned()),
        title: change.title.as_ref().filter(|_| app.settings.sync.allow_event_titles).map(|t| t.as_str().to_owned()),
        expires_at,
    };
    match app.syncs.put_pending(&pending).await {
        Ok(()) => tracing::info!("change kept until the user connects"),
        Err(e) => tracing::warn!(error = %ErrorChain(&e), "could not keep the change for the user's next connect"),
    }
}

/// What one connect did with the user's kept changes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Applied to Google (synced or deleted).
    pub applied: usize,
    /// Forgotten without a Google write: stale, refused for good, or no longer valid.
    pub dropped: usize,
    /// Left for the next connect (a transient failure, or the bound was reached).
    pub left: usize,
}

/// Applies `owner`'s kept changes (Google connections only; see the module doc).
#[tracing::instrument(skip_all, fields(tenant = %owner.tenant, user = %owner.user))]
pub async fn apply_kept(app: &App, owner: &ConnectionKey) -> Applied {
    let now = app.clock.now();
    let kept = match app.syncs.list_pending(&owner.tenant, &owner.user, now, MAX_APPLIED).await {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!(error = %ErrorChain(&e), "could not list the user's kept changes");
            return Applied::default();
        }
    };
    if kept.is_empty() {
        return Applied::default();
    }
    let until = deadline::work_until(BUDGET);
    let results: Vec<Result<Outcome, ()>> = futures_util::stream::iter(kept)
        .map(|pending| async move {
            if tokio::time::Instant::now() >= until {
                return Err(());
            }
            apply_one(app, pending, now, until).await
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut done = Applied::default();
    for result in results {
        match result {
            Ok(Outcome::Synced | Outcome::Deleted) => done.applied += 1,
            Ok(Outcome::IgnoredStale | Outcome::FailedRejected) => done.dropped += 1,
            Ok(Outcome::SkippedNotConnected | Outcome::FailedNeedsReconnect) | Err(()) => done.left += 1,
        }
    }
    tracing::info!(applied = done.applied, dropped = done.dropped, left = done.left, "kept changes applied on connect");
    done
}

/// Applies one kept change; `Err` when it stays kept.
async fn apply_one(
    app: &App,
    pending: PendingChange,
    now: Timestamp,
    until: tokio::time::Instant,
) -> Result<Outcome, ()> {
    let change = AppointmentChange {
        tenant_id: None,
        appointment_id: None,
        user_id: pending.user_id.to_string(),
        // Stored by `keep` from an Action, so always one; anything else reads as the safe delete.
        action: Action::parse(&pending.action).unwrap_or(Action::Delete),
        version: pending.version,
        start: pending.start,
        end: pending.end,
        time_zone: pending.time_zone.clone(),
        title: pending.title.clone(),
    };
    let change = match ValidChange::parse(change, pending.tenant.as_str(), pending.appointment_id.as_str(), now) {
        Ok(change) => change,
        Err(e) => {
            tracing::warn!(error = %ErrorChain(&e), "a kept change no longer validates; forgotten");
            forget(app, &pending).await;
            return Ok(Outcome::IgnoredStale);
        }
    };
    match super::apply(app, &change, until).await {
        Ok((outcome @ (Outcome::SkippedNotConnected | Outcome::FailedNeedsReconnect), _)) => Ok(outcome),
        Ok((outcome, _)) => {
            forget(app, &pending).await;
            Ok(outcome)
        }
        Err(SyncError::Invalid(e)) => {
            tracing::warn!(error = %ErrorChain(&e), "a kept change was refused; forgotten");
            forget(app, &pending).await;
            Ok(Outcome::IgnoredStale)
        }
        Err(SyncError::Transient(e)) => {
            tracing::warn!(error = %ErrorChain(&*e), "a kept change failed transiently; kept for the next connect");
            Err(())
        }
    }
}

/// Forgets `pending` (unless a newer change was kept meanwhile).
async fn forget(app: &App, pending: &PendingChange) {
    let (tenant, user, appointment) = (&pending.tenant, &pending.user_id, &pending.appointment_id);
    if let Err(e) = app.syncs.delete_pending(tenant, user, appointment, pending.version).await {
        tracing::warn!(error = %ErrorChain(&e), "could not forget a kept change");
    }
}
