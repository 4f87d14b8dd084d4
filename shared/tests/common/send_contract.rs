//! The store contract of Idempotency-Key records ([`SendStore`]), run by `store_contract_tests!`
//! against both backends: one claim wins under contention, a live record answers every other
//! claim, an expired one is claimed anew, settle and release do what they say, keys are
//! scoped per tenant and user.

use calbridge::domain::{TenantId, UserId};
use calbridge::ports::{Claim, SendKey, SendRecord, SendState, SentMessage};
use jiff::{SignedDuration, Timestamp};

use super::store_contract::StoreUnderTest;

fn send_key(tenant: &str, user: &str, key: &str) -> SendKey {
    SendKey {
        tenant: TenantId::parse(tenant).unwrap(),
        user: UserId::parse(user).unwrap(),
        idempotency_key: key.to_owned(),
    }
}

fn sending(now: Timestamp, fingerprint: &str) -> SendRecord {
    SendRecord {
        fingerprint: fingerprint.to_owned(),
        state: SendState::Sending { lease_until: now + SignedDuration::from_secs(30) },
        expires_at: now + SignedDuration::from_hours(24),
    }
}

fn now() -> Timestamp {
    // Whole seconds: DynamoDB's `ttl` compares in seconds.
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
}

pub async fn a_send_key_is_claimed_once_and_then_answers_its_record(s: StoreUnderTest) {
    let (key, now) = (send_key("t1", "u1", "order-1:#visible~key"), now());
    assert_eq!(s.sends.claim_send(&key, &sending(now, "f1"), now).await.unwrap(), Claim::Claimed);
    assert_eq!(s.sends.claim_send(&key, &sending(now, "f2"), now).await.unwrap(), Claim::Existing(sending(now, "f1")));

    let sent = SendRecord {
        state: SendState::Sent(SentMessage { id: "m-1".into(), thread_id: "t-1".into() }),
        ..sending(now, "f1")
    };
    s.sends.settle_send(&key, &sent).await.unwrap();
    assert_eq!(s.sends.get_send(&key).await.unwrap(), Some(sent.clone()));
    assert_eq!(s.sends.claim_send(&key, &sending(now, "f3"), now).await.unwrap(), Claim::Existing(sent));

    let unknown = SendRecord { state: SendState::Unknown, ..sending(now, "f1") };
    s.sends.settle_send(&key, &unknown).await.unwrap();
    assert_eq!(s.sends.get_send(&key).await.unwrap(), Some(unknown));

    // other tenants, users and keys never share a record
    for other in [
        send_key("t2", "u1", "order-1:#visible~key"),
        send_key("t1", "u2", "order-1:#visible~key"),
        send_key("t1", "u1", "order-1"),
    ] {
        assert_eq!(s.sends.claim_send(&other, &sending(now, "f9"), now).await.unwrap(), Claim::Claimed);
    }
}

pub async fn a_released_or_expired_send_key_is_claimed_anew(s: StoreUnderTest) {
    let (key, now) = (send_key("t1", "u1", "k"), now());
    assert_eq!(s.sends.claim_send(&key, &sending(now, "f1"), now).await.unwrap(), Claim::Claimed);
    s.sends.release_send(&key).await.unwrap();
    assert_eq!(s.sends.get_send(&key).await.unwrap(), None);
    assert_eq!(s.sends.claim_send(&key, &sending(now, "f2"), now).await.unwrap(), Claim::Claimed);

    let day_later = now + SignedDuration::from_hours(24);
    assert_eq!(s.sends.claim_send(&key, &sending(day_later, "f3"), day_later).await.unwrap(), Claim::Claimed);
    assert_eq!(s.sends.get_send(&key).await.unwrap(), Some(sending(day_later, "f3")));
}

pub async fn concurrent_claims_of_a_send_key_have_one_winner(s: StoreUnderTest) {
    let (key, now) = (send_key("t1", "u1", "burst"), now());
    let claims = (0..8).map(|i| {
        let (sends, key) = (s.sends.clone(), key.clone());
        tokio::spawn(async move { sends.claim_send(&key, &sending(now, &format!("f{i}")), now).await.unwrap() })
    });
    let results = futures_util::future::join_all(claims).await;
    let winners = results.iter().filter(|r| matches!(r.as_ref().unwrap(), Claim::Claimed)).count();
    assert_eq!(winners, 1);
    let stored = s.sends.get_send(&key).await.unwrap().unwrap();
    for result in results {
        if let Claim::Existing(record) = result.unwrap() {
            assert_eq!(record, stored, "every loser sees the winner's record");
        }
    }
}
