//! Booking links: bookable slots of named users for someone without a login (a patient), behind
//! a signed, expiring, revocable link.
//!
//! Protocol:
//! 1. **Mint** (`POST /booking-links`, JWT). The caller must be allowed to act for every listed
//!    user ([`Principal::may_act_for`]: the service for any user of its tenant, a user for
//!    themselves only). Users are 1 to [`MAX_USERS`] (duplicates dropped), the window is valid and
//!    at most availability's [`MAX_RANGE`], the slot rules parse ([`SlotRules::parse`]), and
//!    `expires_at` is in the future and at most [`MAX_LINK_LIFETIME`] away. The window and the
//!    expiry are independent: a link may stop answering before its window ends (it offers
//!    nothing after `expires_at`) or outlive it (it then offers nothing, but is not an error).
//!    The record (tenant, random id, creator, users, window, rules, expiry) is stored first, then
//!    the token naming it is signed ([`booking_token`]); the answer is `{id, url, token,
//!    expires_at}`, the URL being `<public API base>/booking/{token}/slots`.
//! 2. **Spend** (`GET /booking/{token}/slots`, no JWT). The token is checked before any storage
//!    read: malformed or badly signed is [`BookingError::InvalidLink`] (401), expired is
//!    [`BookingError::Expired`] (410). Then the record is read in the token's tenant; a missing or
//!    revoked record is [`BookingError::Revoked`] (410: a validly signed token whose record is
//!    gone can only be one whose record was removed). The asked range defaults to the link's
//!    window and must lie inside it ([`BookingError::OutsideWindow`], 400). Slots come from
//!    [`availability::availability`] called as the tenant's service (client `booking-link`) for
//!    the record's users and rules, and only its `slots` are returned: never busy time,
//!    connection state, calendars or emails.
//! 3. **Revoke** (`DELETE /booking-links/{id}`, JWT). The link is looked up in the caller's
//!    tenant, so another tenant's link is as unknown as one that never existed (404); the
//!    service may revoke any link, a user only one they minted (403). Revoking twice is fine.
//!    The record stays (revoked) until its TTL, so a revoked link keeps answering 410.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::availability::{self, AvailabilityError, AvailabilityRequest, MAX_RANGE, MAX_USERS};
use super::slots::{Slot, SlotRules, SlotsError, SlotsRequest};
use crate::app::App;
use crate::crypto::booking_token::{self, BookingClaims, BookingTokenError};
use crate::domain::{ActingError, BookingLinkId, Interval, Principal, UserId};
use crate::errors::InputError;
use crate::ports::{BookingLinkCreator, BookingLinkRecord, SecretsError, StoreError};

/// The longest a booking link may live.
pub const MAX_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(90 * 24);
/// The principal's client name that booking-link reads are logged under.
pub const BOOKING_CLIENT: &str = "booking-link";

/// The body of `POST /booking-links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    pub user_ids: Vec<String>,
    pub time_min: Timestamp,
    pub time_max: Timestamp,
    pub slots: SlotsRequest,
    pub expires_at: Timestamp,
}

/// A freshly minted link. `token` is a bearer capability: whoever holds it sees the slots.
#[derive(Debug, Serialize)]
pub struct MintedLink {
    pub id: String,
    pub url: String,
    pub token: String,
    pub expires_at: Timestamp,
}

/// What a link holder sees.
#[derive(Debug, Serialize)]
pub struct BookingSlotsView {
    pub slots: Vec<Slot>,
    /// Present when more slots were offered than one answer carries: ask again from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_time_min: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error(transparent)]
    Slots(#[from] SlotsError),
    #[error(transparent)]
    Acting(#[from] ActingError),
    /// The token is malformed or its signature does not verify.
    #[error("the booking link is not valid")]
    InvalidLink,
    #[error("the booking link has expired")]
    Expired,
    /// Revoked, or its record is gone.
    #[error("the booking link was revoked")]
    Revoked,
    /// No such link in the caller's tenant.
    #[error("no such booking link")]
    NotFound,
    /// The asked range is not inside the link's window.
    #[error("time_min and time_max must lie inside the link's window, {start} to {end}")]
    OutsideWindow { start: Timestamp, end: Timestamp },
    #[error(transparent)]
    Availability(#[from] AvailabilityError),
    #[error("booking link store failed")]
    Store(#[source] StoreError),
    #[error("secrets unavailable")]
    Secrets(#[source] SecretsError),
}

fn invalid(code: &'static str, message: impl Into<String>) -> BookingError {
    BookingError::Invalid(InputError::new(code, message))
}

/// Step 1: validates, stores and signs a new link.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn mint(app: &App, caller: &Principal, request: MintRequest) -> Result<MintedLink, BookingError> {
    let now = app.clock.now();
    let window = Interval::new(request.time_min, request.time_max)
        .map_err(|_| invalid("invalid_time_range", "time_max must be after time_min"))?;
    if window.duration() > MAX_RANGE {
        return Err(invalid("time_range_too_long", "the window may span at most 62 days"));
    }
    let mut users: Vec<UserId> = Vec::new();
    for raw in &request.user_ids {
        let user = UserId::parse(raw).map_err(|e| invalid("invalid_request", format!("user_ids: {e}")))?;
        if !caller.may_act_for(&user) {
            return Err(ActingError::Forbidden("a user may mint booking links only for themselves").into());
        }
        if !users.contains(&user) {
            users.push(user);
        }
    }
    if users.is_empty() {
        return Err(invalid("invalid_request", "user_ids must not be empty"));
    }
    if users.len() > MAX_USERS {
        return Err(invalid("too_many_users", format!("at most {MAX_USERS} users per link")));
    }
    SlotRules::parse(request.slots.clone())?;
    // Tokens carry whole seconds; the record and the answer say the same instant.
    let expires_at = Timestamp::from_second(request.expires_at.as_second()).expect("a whole second of a timestamp");
    if expires_at <= now {
        return Err(invalid("invalid_expires_at", "expires_at must be in the future"));
    }
    if expires_at.duration_since(now) > MAX_LINK_LIFETIME {
        return Err(invalid("invalid_expires_at", "expires_at may be at most 90 days away"));
    }
    let keys = &app.secrets.get().await.map_err(BookingError::Secrets)?.booking_signing_keys;

    let record = BookingLinkRecord {
        tenant: caller.tenant().clone(),
        id: booking_token::new_link_id(),
        created_by: match caller.user() {
            None => BookingLinkCreator::Service,
            Some(user) => BookingLinkCreator::User(user.clone()),
        },
        user_ids: users,
        window,
        rules: request.slots,
        expires_at,
        revoked: false,
        created_at: now,
    };
    app.booking_links.put_booking_link(&record).await.map_err(BookingError::Store)?;
    let token = booking_token::mint(
        keys,
        &BookingClaims { link_id: record.id.clone(), tenant: record.tenant.clone(), expires_at },
    );
    let url = format!("{}/booking/{token}/slots", app.settings.public_api_url.as_str().trim_end_matches('/'));
    tracing::info!(users = record.user_ids.len(), "booking link minted");
    Ok(MintedLink { id: record.id.to_string(), url, token, expires_at })
}

/// Step 2: the slots a link holder may book in `[time_min, time_max)` (default: the whole
/// window).
#[tracing::instrument(skip_all)]
pub async fn slots(
    app: &App,
    token: &str,
    time_min: Option<Timestamp>,
    time_max: Option<Timestamp>,
) -> Result<BookingSlotsView, BookingError> {
    let keys = &app.secrets.get().await.map_err(BookingError::Secrets)?.booking_signing_keys;
    let claims = booking_token::verify(keys, token, app.clock.now()).map_err(|error| match error {
        BookingTokenError::Malformed | BookingTokenError::BadSignature => BookingError::InvalidLink,
        BookingTokenError::Expired => BookingError::Expired,
    })?;
    let record = app
        .booking_links
        .get_booking_link(&claims.tenant, &claims.link_id)
        .await
        .map_err(BookingError::Store)?
        .filter(|record| !record.revoked)
        .ok_or(BookingError::Revoked)?;
    let window = record.window;
    let asked = Interval::new(time_min.unwrap_or(window.start), time_max.unwrap_or(window.end))
        .map_err(|_| invalid("invalid_time_range", "time_max must be after time_min"))?;
    if asked.start < window.start || asked.end > window.end {
        return Err(BookingError::OutsideWindow { start: window.start, end: window.end });
    }
    let service = Principal::Service { tenant: record.tenant.clone(), client: BOOKING_CLIENT.to_owned() };
    let request = AvailabilityRequest {
        user_ids: Some(record.user_ids.iter().map(ToString::to_string).collect()),
        time_min: asked.start,
        time_max: asked.end,
        calendar_ids: None,
        slots: Some(record.rules),
    };
    let view = availability::availability(app, &service, request).await?;
    Ok(BookingSlotsView { slots: view.slots.unwrap_or_default(), next_time_min: view.next_time_min })
}

/// Step 3: revokes a link of the caller's tenant.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant()))]
pub async fn revoke(app: &App, caller: &Principal, id: &str) -> Result<(), BookingError> {
    let id = BookingLinkId::parse(id).map_err(|_| BookingError::NotFound)?;
    let tenant = caller.tenant();
    let record = app
        .booking_links
        .get_booking_link(tenant, &id)
        .await
        .map_err(BookingError::Store)?
        .ok_or(BookingError::NotFound)?;
    let allowed = match (&record.created_by, caller.user()) {
        (_, None) => true,
        (BookingLinkCreator::User(creator), Some(user)) => creator == user,
        (BookingLinkCreator::Service, Some(_)) => false,
    };
    if !allowed {
        return Err(
            ActingError::Forbidden("only the service or the user who minted a booking link may revoke it").into()
        );
    }
    if !app.booking_links.revoke_booking_link(tenant, &id).await.map_err(BookingError::Store)? {
        return Err(BookingError::NotFound);
    }
    tracing::info!("booking link revoked");
    Ok(())
}
