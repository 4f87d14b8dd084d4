//! A fake Gmail `users.messages.send`: counts every call, keeps the messages it accepted, and
//! answers a scripted failure when told to.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use oauth2::AccessToken;

use crate::ports::{GmailError, GmailSender, SentMessage};

/// A failure the next send answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GmailFault {
    Unauthorized,
    Forbidden,
    RateLimited,
    DailyLimit,
    Unavailable,
    /// The message is kept (Gmail sent it) but the answer is lost.
    LostAnswer,
}

#[derive(Default)]
pub struct FakeGmail {
    /// Every call, accepted or not.
    pub calls: AtomicUsize,
    sent: Mutex<Vec<Vec<u8>>>,
    faults: Mutex<Vec<GmailFault>>,
    /// How long each send takes (to let concurrent callers overlap).
    pub delay_ms: AtomicUsize,
}

impl FakeGmail {
    /// The raw messages Gmail sent, in order.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.sent.lock().unwrap().clone()
    }

    /// Makes the next send answer `fault`.
    pub fn fail_next(&self, fault: GmailFault) {
        self.faults.lock().unwrap().push(fault);
    }
}

#[async_trait]
impl GmailSender for FakeGmail {
    async fn send(&self, _access_token: &AccessToken, message: &[u8]) -> Result<SentMessage, GmailError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
        }
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            (!faults.is_empty()).then(|| faults.remove(0))
        };
        let retry_after = Some(std::time::Duration::from_secs(30));
        match fault {
            Some(GmailFault::Unauthorized) => return Err(GmailError::Unauthorized),
            Some(GmailFault::Forbidden) => return Err(GmailError::Forbidden),
            Some(GmailFault::RateLimited) => return Err(GmailError::RateLimited { retry_after, daily: false }),
            Some(GmailFault::DailyLimit) => return Err(GmailError::RateLimited { retry_after, daily: true }),
            Some(GmailFault::Unavailable) => return Err(GmailError::Unavailable("fake gmail 503".into())),
            Some(GmailFault::LostAnswer) | None => {}
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(message.to_vec());
        if fault == Some(GmailFault::LostAnswer) {
            return Err(GmailError::OutcomeUnknown("fake gmail dropped the answer".into()));
        }
        let n = sent.len();
        Ok(SentMessage { id: format!("msg-{n}"), thread_id: format!("thread-{n}") })
    }
}
