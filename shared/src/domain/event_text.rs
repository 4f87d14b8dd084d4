//! What calbridge writes into an event's visible fields, parsed once for every use case
//! (appointment sync, session meetings): a title people can read and an IANA time zone.

use std::fmt;

/// The longest title calbridge writes, in characters.
pub const MAX_TITLE_LEN: usize = 200;

/// A trimmed, non-empty title of at most [`MAX_TITLE_LEN`] printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTitle(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("title must be at most {MAX_TITLE_LEN} printable characters")]
pub struct InvalidTitle;

impl EventTitle {
    /// `None` for an absent or blank title (the caller picks its neutral default).
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, InvalidTitle> {
        let Some(title) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if title.chars().count() > MAX_TITLE_LEN || title.chars().any(char::is_control) {
            return Err(InvalidTitle);
        }
        Ok(Some(Self(title.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An IANA time zone name that the bundled time-zone database knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown time zone {0:?}")]
pub struct UnknownTimeZone(pub String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, UnknownTimeZone> {
        jiff::tz::TimeZone::get(raw).map(|_| Self(raw.to_owned())).map_err(|_| UnknownTimeZone(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_bounded_and_printable() {
        assert_eq!(EventTitle::parse_optional(None), Ok(None));
        assert_eq!(EventTitle::parse_optional(Some("   ")), Ok(None));
        assert_eq!(EventTitle::parse_optional(Some(" Check-up ")).unwrap().unwrap().as_str(), "Check-up");
        assert_eq!(EventTitle::parse_optional(Some(&"é".repeat(MAX_TITLE_LEN))).unwrap().unwrap().as_str().len(), 400);
        for bad in ["a\nb", "tab\there", "\u{7}bell"] {
            assert_eq!(EventTitle::parse_optional(Some(bad)), Err(InvalidTitle), "{bad:?}");
        }
        assert_eq!(EventTitle::parse_optional(Some(&"x".repeat(MAX_TITLE_LEN + 1))), Err(InvalidTitle));
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(TimeZoneName::parse("Europe/Lisbon").unwrap().as_str(), "Europe/Lisbon");
        for bad in ["", "Mars/Olympus", "Europe/Lisbon ", "../etc/passwd"] {
            assert!(TimeZoneName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
