//! Calling the Google Calendar API for one user: the token, the retry policy and the one
//! refresh after a 401, carried together so no use case wires them by hand.
//!
//! Contract: [`CalendarSession::open`] reads the user's Google connection once (refreshing the
//! token if it is close to expiry). Every [`CalendarSession::call`] then retries what Google
//! says is worth retrying ([`RetryPolicy`]), and on a 401 refreshes once (unless another caller
//! already replaced the rejected token) and tries again, never more. A sequence of calls in
//! one session reads the store once.
//!
//! Budget: every call (and the one try after a refresh) spends one of the user's Calendar API
//! calls for the minute ([`CallBudget`](crate::ports::CallBudget), limit
//! `google_calls_per_user_minute`) before it is sent; [`CalendarSession::reserve`] spends a
//! known number up front, so that a use case making several calls is refused before the first
//! one rather than halfway. Over budget is [`AccessError::OverBudget`] and nothing is sent.
//! Retries of one call after Google said "slow down" are not charged again: they are bounded
//! by the retry policy's deadline.

use std::future::Future;

use oauth2::AccessToken;

use super::access_tokens::{Access, AccessError, access_token, fresh_token};
use super::retry::RetryPolicy;
use crate::app::App;
use crate::domain::{Owner, Provider};
use crate::ports::{ConnectionRecord, GoogleApiError, SendUpdates};

pub struct CalendarSession<'a> {
    app: &'a App,
    retry: RetryPolicy,
    access: Access,
    /// Calls already paid for by [`CalendarSession::reserve`].
    prepaid: u32,
}

impl<'a> CalendarSession<'a> {
    /// A session on `owner`'s Google connection, retrying under the app's policy.
    pub async fn open(app: &'a App, owner: &Owner) -> Result<Self, AccessError> {
        let access = access_token(app, &owner.connection(Provider::Google)).await?;
        Ok(Self { app, retry: app.retry, access, prepaid: 0 })
    }

    /// The same session under another retry policy (e.g. one bounded by the time a Lambda
    /// invocation has left).
    pub fn with_retry(self, retry: RetryPolicy) -> Self {
        Self { retry, ..self }
    }

    /// The connection the session's token came from.
    pub fn connection(&self) -> &ConnectionRecord {
        &self.access.record
    }

    /// Spends `calls` of the user's budget now, for the next `calls` calls of this session.
    pub async fn reserve(&mut self, calls: u32) -> Result<(), AccessError> {
        self.spend(calls).await?;
        self.prepaid += calls;
        Ok(())
    }

    async fn spend(&self, calls: u32) -> Result<(), AccessError> {
        let limit = self.app.settings.google_calls_per_user_minute;
        self.app.budget.spend(&self.access.record.key, calls, limit, self.app.clock.now()).await?;
        Ok(())
    }

    /// Pays for one call: from the reserve if there is one, else from the budget.
    async fn charge(&mut self) -> Result<(), AccessError> {
        match self.prepaid.checked_sub(1) {
            Some(left) => self.prepaid = left,
            None => self.spend(1).await?,
        }
        Ok(())
    }

    /// One Calendar API call with a valid token.
    pub async fn call<T, F, Fut>(&mut self, call: F) -> Result<T, AccessError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, GoogleApiError>>,
    {
        self.charge().await?;
        match self.retry.run(|| call(self.access.token.clone())).await {
            Ok(value) => Ok(value),
            Err(GoogleApiError::Unauthorized) => {
                tracing::info!("google rejected the access token; refreshing once");
                let key = self.access.record.key.clone();
                self.access = fresh_token(self.app, &key, Some(&self.access.token)).await?;
                self.charge().await?;
                self.retry.run(|| call(self.access.token.clone())).await.map_err(AccessError::Google)
            }
            Err(error) => Err(AccessError::Google(error)),
        }
    }

    /// Deletes an event calbridge wrote, telling nobody; an event Google no longer has (never
    /// written, or already deleted) counts as deleted.
    pub async fn delete_event(&mut self, calendar_id: &str, event_id: &str) -> Result<(), AccessError> {
        let app = self.app;
        let delete = |token: AccessToken| async move {
            app.calendar.delete_event(&token, calendar_id, event_id, SendUpdates::None).await
        };
        match self.call(delete).await {
            Ok(()) | Err(AccessError::Google(GoogleApiError::NotFound | GoogleApiError::Gone)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
