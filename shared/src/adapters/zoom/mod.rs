//! Zoom over HTTPS: OAuth 2.0 for user-managed apps ([`oauth`]) and scheduled meetings
//! ([`meetings`]).
//!
//! Every endpoint comes from [`crate::config::ZoomConfig`], so the same code talks to Zoom or
//! to the bundled `zoom-emulator`. Zoom's quirks live here and nowhere else: HTTP Basic client
//! authentication with the raw `client_id:client_secret`, refresh tokens that rotate on every
//! refresh, `{"reason","error"}` OAuth errors (and `invalid_request` "Invalid Token!" for a
//! dead token), the account from `GET /users/me`.

pub mod meetings;
pub mod oauth;
