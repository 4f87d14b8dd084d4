//! Calendar event ids that calbridge chooses itself, so that every retry of a write names the
//! same event and a lost response can never become a duplicate.
//!
//! An id is base32hex (lowercase) of SHA-256 over a purpose label and the parts that identify
//! the event, separated by `|` (the label fixes the number of parts). That is the alphabet and length (52 characters of `[a-v0-9]`) Google
//! accepts for client-chosen event ids. The labels are versioned and must never change: a new
//! derivation for stored events would orphan every event written under the old one.

use sha2::{Digest, Sha256};

use super::{AppointmentId, SessionId, TenantId};

/// The event mirroring one appointment: the same on every attempt and in every calendar.
pub fn appointment_event_id(tenant: &TenantId, appointment: &AppointmentId) -> String {
    derive("calbridge/appointment/v1", &[tenant.as_str(), appointment.as_str()])
}

/// The event carrying one session's Meet, for one creation attempt (`request_id`).
pub fn session_meet_event_id(tenant: &TenantId, session: &SessionId, request_id: &str) -> String {
    derive("calbridge/session-meet/v1", &[tenant.as_str(), session.as_str(), request_id])
}

fn derive(label: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new().chain_update(label.as_bytes());
    for part in parts {
        hash.update(b"|");
        hash.update(part.as_bytes());
    }
    data_encoding::BASE32HEX_NOPAD.encode(&hash.finalize()).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_valid_google_ids() {
        let tenant = TenantId::parse("t1").unwrap();
        let id = appointment_event_id(&tenant, &AppointmentId::parse("a1").unwrap());
        // Pinned: changing the derivation would orphan every event already written.
        let expected = {
            let digest = Sha256::digest(b"calbridge/appointment/v1|t1|a1");
            data_encoding::BASE32HEX_NOPAD.encode(&digest).to_ascii_lowercase()
        };
        assert_eq!(id, expected);
        assert_eq!(id.len(), 52);
        assert!(id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')));
        let meet = session_meet_event_id(&tenant, &SessionId::parse("a1").unwrap(), "r");
        assert_ne!(meet, id, "purposes never share ids");
    }

    #[test]
    fn event_ids_are_valid_google_ids_and_differ_per_session() {
        let tenant = TenantId::parse("t1").unwrap();
        let a = session_meet_event_id(&tenant, &SessionId::parse("s1").unwrap(), "r1");
        let b = session_meet_event_id(&tenant, &SessionId::parse("s2").unwrap(), "r1");
        let c = session_meet_event_id(&tenant, &SessionId::parse("s1").unwrap(), "r2");
        assert!(a != b && a != c);
        assert_eq!(a, session_meet_event_id(&tenant, &SessionId::parse("s1").unwrap(), "r1"));
        assert!(a.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')) && a.len() >= 5);
    }
}
