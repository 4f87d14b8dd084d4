//! Calling the Google Calendar API for one user: the token, the retry policy and the one
//! refresh after a 401, carried together so no use case wires them by hand.
//!
//! Contract: [`CalendarSession::open`] reads the user's Google connection once (refreshing the
//! token if it is close to expiry). Every [`CalendarSession::call`] then retries what Google
//! says is worth retrying ([`RetryPolicy`]), and on a 401 refreshes once (unless another caller
//! already replaced the rejected token) and tries again, never more. A sequence of calls in
//! one session reads the store once.

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
}

impl<'a> CalendarSession<'a> {
    /// A session on `owner`'s Google connection, retrying under the app's policy.
    pub async fn open(app: &'a App, owner: &Owner) -> Result<Self, AccessError> {
        let access = access_token(app, &owner.connection(Provider::Google)).await?;
        Ok(Self { app, retry: app.retry, access })
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

    /// One Calendar API call with a valid token.
    pub async fn call<T, F, Fut>(&mut self, call: F) -> Result<T, AccessError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, GoogleApiError>>,
    {
        match self.retry.run(|| call(self.access.token.clone())).await {
            Ok(value) => Ok(value),
            Err(GoogleApiError::Unauthorized) => {
                tracing::info!("google rejected the access token; refreshing once");
                let key = self.access.record.key.clone();
                self.access = fresh_token(self.app, &key, Some(&self.access.token)).await?;
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
