//! Domain types, parsed once at the edge so that every value that exists is valid.
//!
//! Nothing in here does I/O. Handlers turn raw strings (JWT claims, JSON bodies, query
//! parameters) into these types and fail with a clear client error when they do not parse;
//! the rest of the crate never re-validates.

mod ids;
mod interval;
mod return_to;
mod scopes;

pub use ids::{AppointmentId, ConnectionKey, IdError, Provider, SessionId, TenantId, UserId};
pub use interval::*;
pub use return_to::{AllowedReturnTo, ReturnTo, ReturnToError};
pub use scopes::ScopeSet;
