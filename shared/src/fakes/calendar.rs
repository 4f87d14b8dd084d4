//! A fake Google Calendar: per-account calendar lists and busy times, events, conferences,
//! per-calendar read errors and a queue of failures to answer with.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use oauth2::AccessToken;

use super::FakeGoogle;
use crate::domain::Interval;
use crate::ports::{
    CalendarBusy, CalendarEntry, ConferenceState, EventWrite, FreeBusyRequest, GoogleApiError, GoogleCalendar,
    GoogleEvent, SendUpdates,
};

/// A fake Google Calendar: per-account calendar lists and busy times, per-calendar read
/// errors, and a queue of failures to answer with. Tokens are checked against a [`FakeGoogle`].
pub struct FakeCalendar {
    google: Arc<FakeGoogle>,
    state: Mutex<CalendarState>,
    pub list_calls: AtomicUsize,
    pub freebusy_calls: AtomicUsize,
    /// Every Calendar API call, of any kind.
    pub api_calls: AtomicUsize,
}

#[derive(Default)]
struct CalendarState {
    /// account subject -> calendar list
    calendars: HashMap<String, Vec<CalendarEntry>>,
    /// (account subject, calendar id) -> busy
    busy: HashMap<(String, String), Vec<Interval>>,
    unreadable: Vec<String>,
    failures: VecDeque<GoogleApiError>,
    /// (calendar id as requested, event id) -> event
    events: BTreeMap<(String, String), GoogleEvent>,
    /// When set, the next insert is applied and then answered with this error.
    lose_next_insert_response: bool,
    conference_counter: u32,
    /// How many reads a new conference stays `pending` for.
    conference_pending_reads: u32,
    /// (calendar, event) -> reads left while pending, and the conference it becomes
    pending: BTreeMap<(String, String), (u32, ConferenceState)>,
    fail_next_conference: bool,
}

impl FakeCalendar {
    pub fn new(google: Arc<FakeGoogle>) -> Self {
        Self {
            google,
            state: Mutex::new(CalendarState::default()),
            list_calls: AtomicUsize::new(0),
            freebusy_calls: AtomicUsize::new(0),
            api_calls: AtomicUsize::new(0),
        }
    }

    /// How many Calendar API calls were made, of any kind.
    pub fn calls(&self) -> usize {
        self.api_calls.load(Ordering::SeqCst)
    }

    pub fn set_calendars(&self, subject: &str, calendars: Vec<CalendarEntry>) {
        self.state.lock().unwrap().calendars.insert(subject.to_owned(), calendars);
    }

    pub fn add_busy(&self, subject: &str, calendar_id: &str, busy: Interval) {
        let mut state = self.state.lock().unwrap();
        state.busy.entry((subject.to_owned(), calendar_id.to_owned())).or_default().push(busy);
    }

    /// FreeBusy will report this calendar with an error.
    pub fn make_unreadable(&self, calendar_id: &str) {
        self.state.lock().unwrap().unreadable.push(calendar_id.to_owned());
    }

    /// Every event stored for a calendar, including cancelled ones.
    pub fn events(&self, calendar_id: &str) -> Vec<GoogleEvent> {
        let state = self.state.lock().unwrap();
        state.events.iter().filter(|((c, _), _)| c == calendar_id).map(|(_, e)| e.clone()).collect()
    }

    /// The next insert is applied but its response is lost (the caller sees a transport error).
    pub fn lose_next_insert_response(&self) {
        self.state.lock().unwrap().lose_next_insert_response = true;
    }

    /// New conferences stay `pending` for this many reads.
    pub fn set_conference_pending_reads(&self, reads: u32) {
        self.state.lock().unwrap().conference_pending_reads = reads;
    }

    /// The next conference ends in `failure`.
    pub fn fail_next_conference(&self) {
        self.state.lock().unwrap().fail_next_conference = true;
    }

    /// Forgets queued failures.
    pub fn clear_failures(&self) {
        self.state.lock().unwrap().failures.clear();
    }

    /// The next calls fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = GoogleApiError>) {
        self.state.lock().unwrap().failures.extend(errors);
    }

    /// `primary` means the account's primary calendar, as at Google.
    fn resolve(state: &CalendarState, subject: &str, calendar_id: &str) -> String {
        if calendar_id != "primary" {
            return calendar_id.to_owned();
        }
        state
            .calendars
            .get(subject)
            .and_then(|list| list.iter().find(|c| c.primary))
            .map_or_else(|| format!("primary-of-{subject}"), |c| c.id.clone())
    }

    fn authorize(&self, token: &AccessToken) -> Result<String, GoogleApiError> {
        if let Some(error) = self.state.lock().unwrap().failures.pop_front() {
            return Err(error);
        }
        self.google.account_for(token).map(|a| a.id).ok_or(GoogleApiError::Unauthorized)
    }
}

#[async_trait]
impl GoogleCalendar for FakeCalendar {
    async fn insert_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event: &EventWrite,
        _send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError> {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let id = event.id.clone().unwrap_or_else(|| format!("fakeevent{}", state.events.len()));
        let key = (Self::resolve(&state, &subject, calendar_id), id.clone());
        if state.events.contains_key(&key) {
            return Err(GoogleApiError::Conflict { reason: "duplicate".into() });
        }
        let conference = match event.conference_request_id {
            None => None,
            Some(_) if std::mem::take(&mut state.fail_next_conference) => Some(ConferenceState::Failed),
            Some(_) => {
                state.conference_counter += 1;
                let conference_id = format!("fak-meet-{:03}", state.conference_counter);
                let ready =
                    ConferenceState::Ready { uri: format!("https://meet.google.com/{conference_id}"), conference_id };
                if state.conference_pending_reads > 0 {
                    let reads = state.conference_pending_reads;
                    state.pending.insert(key.clone(), (reads, ready));
                    Some(ConferenceState::Pending)
                } else {
                    Some(ready)
                }
            }
        };
        let stored = GoogleEvent {
            id,
            status: event.status.clone().unwrap_or_else(|| "confirmed".into()),
            start: Some(event.start),
            end: Some(event.end),
            summary: Some(event.summary.clone()),
            private_properties: event.private_properties.clone(),
            conference,
        };
        state.events.insert(key, stored.clone());
        if std::mem::take(&mut state.lose_next_insert_response) {
            return Err(GoogleApiError::Unavailable("connection closed before the response".into()));
        }
        Ok(stored)
    }

    async fn get_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<GoogleEvent, GoogleApiError> {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let key = (Self::resolve(&state, &subject, calendar_id), event_id.to_owned());
        if let Some((reads, ready)) = state.pending.get_mut(&key) {
            *reads -= 1;
            if *reads == 0 {
                let ready = ready.clone();
                state.pending.remove(&key);
                if let Some(event) = state.events.get_mut(&key) {
                    event.conference = Some(ready);
                }
            }
        }
        state.events.get(&key).cloned().ok_or(GoogleApiError::NotFound)
    }

    async fn patch_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        event: &EventWrite,
        _send_updates: SendUpdates,
    ) -> Result<GoogleEvent, GoogleApiError> {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let key = (Self::resolve(&state, &subject, calendar_id), event_id.to_owned());
        let stored = state.events.get_mut(&key).ok_or(GoogleApiError::NotFound)?;
        stored.start = Some(event.start);
        stored.end = Some(event.end);
        stored.summary = Some(event.summary.clone());
        stored.private_properties = event.private_properties.clone();
        if let Some(status) = &event.status {
            stored.status = status.clone();
        }
        Ok(stored.clone())
    }

    async fn delete_event(
        &self,
        access_token: &AccessToken,
        calendar_id: &str,
        event_id: &str,
        _send_updates: SendUpdates,
    ) -> Result<(), GoogleApiError> {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        let mut state = self.state.lock().unwrap();
        let key = (Self::resolve(&state, &subject, calendar_id), event_id.to_owned());
        let stored = state.events.get_mut(&key).ok_or(GoogleApiError::NotFound)?;
        if stored.status == "cancelled" {
            return Err(GoogleApiError::Gone);
        }
        stored.status = "cancelled".into();
        Ok(())
    }

    async fn list_calendars(&self, access_token: &AccessToken) -> Result<Vec<CalendarEntry>, GoogleApiError> {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        Ok(self.state.lock().unwrap().calendars.get(&subject).cloned().unwrap_or_default())
    }

    fn free_busy_requests(&self, range: Interval, calendar_ids: &[String]) -> Vec<FreeBusyRequest> {
        crate::adapters::google::calendar::free_busy_requests(range, calendar_ids)
    }

    async fn free_busy(
        &self,
        access_token: &AccessToken,
        request: &FreeBusyRequest,
    ) -> Result<BTreeMap<String, CalendarBusy>, GoogleApiError> {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let (window, calendar_ids) = (request.window, &request.calendar_ids);
        self.freebusy_calls.fetch_add(1, Ordering::SeqCst);
        let subject = self.authorize(access_token)?;
        let state = self.state.lock().unwrap();
        let primary =
            state.calendars.get(&subject).and_then(|list| list.iter().find(|c| c.primary)).map(|c| c.id.clone());
        Ok(calendar_ids
            .iter()
            .map(|requested| {
                let id = if requested == "primary" { primary.clone().unwrap_or_default() } else { requested.clone() };
                let known = state.calendars.get(&subject).is_some_and(|list| list.iter().any(|c| c.id == id));
                let answer = if !known || state.unreadable.contains(&id) {
                    CalendarBusy::Unreadable { reason: if known { "backendError".into() } else { "notFound".into() } }
                } else {
                    let busy = state.busy.get(&(subject.clone(), id)).cloned().unwrap_or_default();
                    CalendarBusy::Busy(
                        busy.into_iter()
                            .filter(|b| b.overlaps(&window))
                            .map(|b| Interval { start: b.start.max(window.start), end: b.end.min(window.end) })
                            .collect(),
                    )
                };
                (requested.clone(), answer)
            })
            .collect())
    }
}
