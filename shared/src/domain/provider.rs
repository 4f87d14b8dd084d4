//! The outside services a user connects (Google, Zoom, ...), as one value with one parse.
//! A provider is a connection *kind*: Gmail (`gmail`, sending mail) is served by Google like
//! Calendar (`google`) but is a provider of its own, with its own grant, status and disconnect.
//!
//! A provider's name is part of every stored key, encryption context and route, so the set
//! of names is closed and each parses from exactly one spelling. Knowing a provider is not
//! the same as offering it: a deployment offers the providers it configured (see
//! [`crate::app::App::oauth`]); a known but unconfigured one answers like an unknown one.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Google,
    Zoom,
    /// Sending mail as the user, through Google with its own grant (a kind, not a vendor).
    Gmail,
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("unknown provider")]
pub struct UnknownProvider;

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Google, Provider::Zoom, Provider::Gmail];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Zoom => "zoom",
            Provider::Gmail => "gmail",
        }
    }

    /// The one parse of a provider name, used by routes and by both stores.
    pub fn parse(raw: &str) -> Result<Self, UnknownProvider> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw).ok_or(UnknownProvider)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who makes a session's meeting when calbridge creates one (an attached link names itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingProvider {
    /// A Google Meet on an event in the host's Google Calendar.
    GoogleMeet,
    /// A scheduled meeting on the host's (or the organisation's) Zoom account.
    Zoom,
}

impl MeetingProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingProvider::GoogleMeet => "google_meet",
            MeetingProvider::Zoom => "zoom",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [MeetingProvider::GoogleMeet, MeetingProvider::Zoom].into_iter().find(|p| p.as_str() == raw)
    }

    /// The connection that makes such meetings.
    pub fn connection(self) -> Provider {
        match self {
            MeetingProvider::GoogleMeet => Provider::Google,
            MeetingProvider::Zoom => Provider::Zoom,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_parses_from_its_own_name_only() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Ok(provider));
        }
        for raw in ["", "Google", "GOOGLE", " google", "google ", "microsoft", "google#zoom"] {
            assert_eq!(Provider::parse(raw), Err(UnknownProvider), "{raw:?}");
        }
    }
}
