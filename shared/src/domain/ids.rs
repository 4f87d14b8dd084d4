//! Tenant, user, appointment and session identifiers, the owner of connections and the key
//! that names one stored connection.
//!
//! Ids come from the JWT authorizer's claims. They end up inside DynamoDB keys
//! (`T#<tenant>#U#<user>`), KMS encryption contexts and AES-GCM associated data, so the one
//! rule that matters is that an id can never be confused with another id or with the key
//! syntax: `#`, whitespace and control characters are rejected, and length is bounded.

use std::fmt;

use super::Provider;

const MAX_ID_LEN: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {MAX_ID_LEN} characters")]
    TooLong { kind: &'static str },
    #[error("{kind} contains a character that is not allowed ('#', whitespace or control)")]
    ForbiddenCharacter { kind: &'static str },
}

fn parse_id(kind: &'static str, raw: &str) -> Result<String, IdError> {
    if raw.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if raw.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind });
    }
    if raw.chars().any(|c| c == '#' || c.is_whitespace() || c.is_control()) {
        return Err(IdError::ForbiddenCharacter { kind });
    }
    Ok(raw.to_owned())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                parse_id($kind, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The app's tenant (one clinic, one coaching business), from the tenant claim.
    TenantId,
    "tenant id"
);
id_type!(
    /// The app's user within a tenant, from the JWT `sub` claim.
    UserId,
    "user id"
);

id_type!(
    /// The app's appointment id (the unit that sync-appointment mirrors into Google Calendar).
    AppointmentId,
    "appointment id"
);
id_type!(
    /// The app's session id (the unit create-meet attaches a meeting to).
    SessionId,
    "session id"
);
id_type!(
    /// A booking link calbridge minted (random, base64url; the link's token names it).
    BookingLinkId,
    "booking link id"
);

/// Whose connections: one user of one tenant. The edge knows the caller as an owner; the
/// provider comes from the route (or, for calendar work, from the port that needs it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    pub tenant: TenantId,
    pub user: UserId,
}

impl Owner {
    pub fn new(tenant: TenantId, user: UserId) -> Self {
        Self { tenant, user }
    }

    /// The key of this owner's connection to `provider`.
    pub fn connection(&self, provider: Provider) -> ConnectionKey {
        ConnectionKey { tenant: self.tenant.clone(), user: self.user.clone(), provider }
    }
}

/// Names one connection: (tenant, user, provider). Everything stored for a connection is
/// addressed and cryptographically bound by this key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    pub tenant: TenantId,
    pub user: UserId,
    pub provider: Provider,
}

impl ConnectionKey {
    pub fn new(tenant: TenantId, user: UserId, provider: Provider) -> Self {
        Self { tenant, user, provider }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_subject_formats() {
        for raw in ["auth0|5f1c", "0f8fad5b-d9cb-469f-a165-70867728950e", "user@example.com", "t1"] {
            assert_eq!(UserId::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn rejects_key_syntax_whitespace_and_control_characters() {
        for raw in ["a#b", "a b", "a\nb", "a\u{7}b", "\t"] {
            assert_eq!(TenantId::parse(raw), Err(IdError::ForbiddenCharacter { kind: "tenant id" }), "{raw:?}");
        }
        assert_eq!(UserId::parse(""), Err(IdError::Empty { kind: "user id" }));
        assert_eq!(UserId::parse(&"x".repeat(257)), Err(IdError::TooLong { kind: "user id" }));
    }
}
