//! A fake of Zoom's meetings API: meetings per access token's account, a fresh start link on
//! every read, a create whose answer can be lost after the meeting was made, and queued errors.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use oauth2::AccessToken;

use crate::ports::{StartUrl, ZoomApiError, ZoomMeeting, ZoomMeetingSpec, ZoomMeetings};

/// One meeting the fake holds.
#[derive(Debug, Clone)]
pub struct FakeZoomMeeting {
    pub id: String,
    /// The access token that made it: whose account it is on.
    pub made_with_token: String,
    pub spec: ZoomMeetingSpec,
    pub deleted: bool,
}

#[derive(Default)]
struct State {
    meetings: Vec<FakeZoomMeeting>,
    /// Answered by the next calls instead of doing them, oldest first.
    errors: VecDeque<ZoomApiError>,
    /// The next create makes the meeting, then answers as if the connection dropped.
    lose_next_create: bool,
}

#[derive(Default)]
pub struct FakeZoomMeetings {
    state: Mutex<State>,
    next_id: AtomicU64,
    pub creates: AtomicUsize,
    pub updates: AtomicUsize,
    pub reads: AtomicUsize,
    pub lists: AtomicUsize,
    pub deletes: AtomicUsize,
}

impl FakeZoomMeetings {
    pub fn new() -> Self {
        Self { next_id: AtomicU64::new(81_000_000_000), ..Self::default() }
    }

    /// Every meeting made so far, deleted ones included.
    pub fn meetings(&self) -> Vec<FakeZoomMeeting> {
        self.state.lock().unwrap().meetings.clone()
    }

    pub fn fail_next(&self, errors: impl IntoIterator<Item = ZoomApiError>) {
        self.state.lock().unwrap().errors.extend(errors);
    }

    pub fn lose_next_create_answer(&self) {
        self.state.lock().unwrap().lose_next_create = true;
    }

    fn injected(&self) -> Result<(), ZoomApiError> {
        self.state.lock().unwrap().errors.pop_front().map_or(Ok(()), Err)
    }

    fn view(meeting: &FakeZoomMeeting, with_start: bool) -> ZoomMeeting {
        let start = with_start.then(|| {
            StartUrl::new(format!("https://zoom.example/s/{}?zak={}", meeting.id, crate::crypto::random::token()))
        });
        ZoomMeeting {
            id: meeting.id.clone(),
            join_url: format!("https://zoom.example/j/{}?pwd=fake", meeting.id),
            start_url: start,
        }
    }

    fn owned<'a>(
        state: &'a mut State,
        token: &AccessToken,
        meeting_id: &str,
    ) -> Result<&'a mut FakeZoomMeeting, ZoomApiError> {
        state
            .meetings
            .iter_mut()
            .find(|m| m.id == meeting_id && !m.deleted && m.made_with_token == *token.secret())
            .ok_or(ZoomApiError::NotFound)
    }
}

#[async_trait]
impl ZoomMeetings for FakeZoomMeetings {
    async fn create_meeting(&self, token: &AccessToken, spec: &ZoomMeetingSpec) -> Result<ZoomMeeting, ZoomApiError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        self.injected()?;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst).to_string();
        let meeting =
            FakeZoomMeeting { id, made_with_token: token.secret().clone(), spec: spec.clone(), deleted: false };
        let mut state = self.state.lock().unwrap();
        state.meetings.push(meeting.clone());
        if std::mem::take(&mut state.lose_next_create) {
            return Err(ZoomApiError::Unavailable("the fake dropped the answer".into()));
        }
        Ok(Self::view(&meeting, true))
    }

    async fn get_meeting(&self, token: &AccessToken, meeting_id: &str) -> Result<ZoomMeeting, ZoomApiError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.injected()?;
        let mut state = self.state.lock().unwrap();
        Ok(Self::view(Self::owned(&mut state, token, meeting_id)?, true))
    }

    async fn update_meeting(
        &self,
        token: &AccessToken,
        meeting_id: &str,
        spec: &ZoomMeetingSpec,
    ) -> Result<(), ZoomApiError> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        self.injected()?;
        let mut state = self.state.lock().unwrap();
        Self::owned(&mut state, token, meeting_id)?.spec = spec.clone();
        Ok(())
    }

    async fn delete_meeting(&self, token: &AccessToken, meeting_id: &str) -> Result<(), ZoomApiError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.injected()?;
        let mut state = self.state.lock().unwrap();
        Self::owned(&mut state, token, meeting_id)?.deleted = true;
        Ok(())
    }

    async fn find_by_marker(&self, token: &AccessToken, marker: &str) -> Result<Option<ZoomMeeting>, ZoomApiError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.injected()?;
        let state = self.state.lock().unwrap();
        Ok(state
            .meetings
            .iter()
            .find(|m| !m.deleted && m.made_with_token == *token.secret() && m.spec.marker == marker)
            .map(|m| Self::view(m, false)))
    }
}
