//! Domain types, parsed once at the edge so that every value that exists is valid.
//!
//! Nothing in here does I/O. Handlers turn raw strings (JWT claims, JSON bodies, query
//! parameters, route segments) into these types and fail with a clear client error when they
//! do not parse; the rest of the crate never re-validates.

mod event_id;
mod event_text;
mod ids;
mod interval;
mod principal;
mod provider;
mod return_to;
mod scopes;

pub use event_id::{appointment_event_id, session_meet_event_id};
pub use event_text::{EventTitle, InvalidTitle, MAX_TITLE_LEN, TimeZoneName, UnknownTimeZone};
pub use ids::{AppointmentId, BookingLinkId, ConnectionKey, IdError, Owner, SessionId, TenantId, UserId};
pub use interval::*;
pub use principal::{ActingError, Principal, scopes_grant};
pub use provider::{MeetingProvider, Provider, UnknownProvider};
pub use return_to::{AllowedReturnTo, ReturnTo, ReturnToError};
pub use scopes::ScopeSet;
