//! Zoom's meetings API over HTTPS, implementing the [`ZoomMeetings`] port.
//!
//! Contract:
//! - Creates are `POST {api}/users/me/meetings` with `type` 2, `start_time` in UTC as
//!   `yyyy-MM-ddTHH:mm:ssZ` (Zoom's UTC form), whole-minute `duration`, the `timezone` to show
//!   it in, the marker as the `agenda`, and `settings.waiting_room`. `join_before_host` is
//!   always off: the host opens the room.
//! - Errors are classified from the status and Zoom's `{"code","message"}` body: 401 is
//!   [`ZoomApiError::Unauthorized`]; 404 (codes 3001, 1001) is [`ZoomApiError::NotFound`];
//!   429 is [`ZoomApiError::RateLimited`] with `Retry-After` read as an RFC 3339 time (what
//!   Zoom sends for its daily limits) or as seconds, and `X-RateLimit-Type: Daily-limit`
//!   telling the daily cap from the per-second limit; 5xx, transport failures and
//!   unreadable bodies are [`ZoomApiError::Unavailable`]; any other 4xx is `Rejected` with
//!   Zoom's code.
//! - Bodies are never put into errors or logs: they carry start links and passcodes.
//! - Listing for a lost create reads at most [`MAX_LIST_PAGES`] pages of 300.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use oauth2::AccessToken;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use crate::ports::{StartUrl, ZoomApiError, ZoomMeeting, ZoomMeetingSpec, ZoomMeetings};

/// Zoom's largest page of a user's meetings.
const LIST_PAGE_SIZE: &str = "300";
/// A guard against a server that keeps answering page tokens: 3,000 scheduled meetings.
pub const MAX_LIST_PAGES: usize = 10;

pub struct ZoomMeetingsClient {
    /// The API root including `/v2`.
    base: Url,
    http: reqwest::Client,
}

impl ZoomMeetingsClient {
    pub fn new(base: Url, http: reqwest::Client) -> Self {
        Self { base, http }
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("the API base is an http(s) URL").pop_if_empty().extend(segments);
        url
    }
}

fn transport(error: reqwest::Error) -> ZoomApiError {
    // `without_url`: meeting ids need not reach the logs.
    ZoomApiError::Unavailable(Box::new(error.without_url()))
}

/// Zoom's `Retry-After`: an RFC 3339 time for daily limits, else seconds.
fn retry_after(raw: &str, now: Timestamp) -> Option<Timestamp> {
    let raw = raw.trim();
    raw.parse::<Timestamp>()
        .ok()
        .or_else(|| raw.parse::<u64>().ok().and_then(|secs| now.checked_add(Duration::from_secs(secs)).ok()))
}

async fn classify(response: Response) -> ZoomApiError {
    let status = response.status();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (retry, kind) = (header("retry-after"), header("x-ratelimit-type"));
    #[derive(Deserialize, Default)]
    struct Body {
        #[serde(default)]
        code: i64,
    }
    let code = response.json::<Body>().await.unwrap_or_default().code;
    match status {
        StatusCode::UNAUTHORIZED => ZoomApiError::Unauthorized,
        StatusCode::NOT_FOUND => ZoomApiError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => ZoomApiError::RateLimited {
            retry_after: retry.as_deref().and_then(|raw| retry_after(raw, Timestamp::now())),
            daily: kind.is_some_and(|kind| kind.eq_ignore_ascii_case("daily-limit")),
        },
        s if s.is_server_error() => ZoomApiError::Unavailable(format!("zoom answered {s}").into()),
        s => ZoomApiError::Rejected { status: s.as_u16(), code },
    }
}

async fn send(request: RequestBuilder) -> Result<Response, ZoomApiError> {
    let response = request.send().await.map_err(transport)?;
    if response.status().is_success() { Ok(response) } else { Err(classify(response).await) }
}

async fn send_json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ZoomApiError> {
    send(request).await?.json::<T>().await.map_err(transport)
}

/// A meeting in Zoom's answers (create, get, list). The id is an int64.
#[derive(Deserialize)]
struct MeetingResource {
    id: i64,
    join_url: String,
    start_url: Option<String>,
    #[serde(default)]
    agenda: String,
}

impl From<MeetingResource> for ZoomMeeting {
    fn from(resource: MeetingResource) -> Self {
        ZoomMeeting {
            id: resource.id.to_string(),
            join_url: resource.join_url,
            start_url: resource.start_url.map(StartUrl::new),
        }
    }
}

fn body(spec: &ZoomMeetingSpec) -> serde_json::Value {
    let mut body = json!({
        "topic": spec.topic,
        "type": 2,
        "start_time": spec.start.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "duration": spec.duration_minutes.max(1),
        "agenda": spec.marker,
        "settings": { "waiting_room": spec.waiting_room, "join_before_host": false },
    });
    if let Some(zone) = &spec.time_zone {
        body["timezone"] = json!(zone);
    }
    body
}

/// A meeting id as Zoom's path takes it: digits only, so nothing else reaches the URL.
fn meeting_path(meeting_id: &str) -> Result<&str, ZoomApiError> {
    if !meeting_id.is_empty() && meeting_id.len() <= 20 && meeting_id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(meeting_id)
    } else {
        Err(ZoomApiError::NotFound)
    }
}

#[async_trait]
impl ZoomMeetings for ZoomMeetingsClient {
    async fn create_meeting(&self, token: &AccessToken, spec: &ZoomMeetingSpec) -> Result<ZoomMeeting, ZoomApiError> {
        let request =
            self.http.post(self.url(&["users", "me", "meetings"])).bearer_auth(token.secret()).json(&body(spec));
        Ok(send_json::<MeetingResource>(request).await?.into())
    }

    async fn get_meeting(&self, token: &AccessToken, meeting_id: &str) -> Result<ZoomMeeting, ZoomApiError> {
        let request = self.http.get(self.url(&["meetings", meeting_path(meeting_id)?])).bearer_auth(token.secret());
        Ok(send_json::<MeetingResource>(request).await?.into())
    }

    async fn update_meeting(
        &self,
        token: &AccessToken,
        meeting_id: &str,
        spec: &ZoomMeetingSpec,
    ) -> Result<(), ZoomApiError> {
        let url = self.url(&["meetings", meeting_path(meeting_id)?]);
        send(self.http.patch(url).bearer_auth(token.secret()).json(&body(spec))).await.map(drop)
    }

    async fn delete_meeting(&self, token: &AccessToken, meeting_id: &str) -> Result<(), ZoomApiError> {
        let url = self.url(&["meetings", meeting_path(meeting_id)?]);
        send(self.http.delete(url).bearer_auth(token.secret())).await.map(drop)
    }

    async fn find_by_marker(&self, token: &AccessToken, marker: &str) -> Result<Option<ZoomMeeting>, ZoomApiError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            meetings: Vec<MeetingResource>,
            #[serde(default)]
            next_page_token: String,
        }
        let mut page_token = String::new();
        for _ in 0..MAX_LIST_PAGES {
            let mut url = self.url(&["users", "me", "meetings"]);
            url.query_pairs_mut().append_pair("type", "scheduled").append_pair("page_size", LIST_PAGE_SIZE);
            if !page_token.is_empty() {
                url.query_pairs_mut().append_pair("next_page_token", &page_token);
            }
            let page: Page = send_json(self.http.get(url).bearer_auth(token.secret())).await?;
            // Zoom truncates agendas to 250 characters in lists; the marker is far shorter.
            if let Some(found) = page.meetings.into_iter().find(|m| m.agenda.contains(marker)) {
                return Ok(Some(found.into()));
            }
            if page.next_page_token.is_empty() {
                return Ok(None);
            }
            page_token = page.next_page_token;
        }
        tracing::warn!(pages = MAX_LIST_PAGES, "the host's meeting list did not end; the marker was not found");
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_zooms_rfc3339_time_and_plain_seconds() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        assert_eq!(retry_after("2026-12-03T00:00:00Z", now), Some("2026-12-03T00:00:00Z".parse().unwrap()));
        assert_eq!(retry_after(" 30 ", now), Some("2026-12-02T10:00:30Z".parse().unwrap()));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn the_create_body_is_a_scheduled_meeting_in_zooms_utc_form_with_the_host_first() {
        let spec = ZoomMeetingSpec {
            topic: "Session".into(),
            start: "2026-12-02T10:00:00.750Z".parse().unwrap(),
            duration_minutes: 45,
            time_zone: Some("Europe/Berlin".into()),
            marker: "cb-ref-1".into(),
            waiting_room: true,
        };
        let body = body(&spec);
        assert_eq!(body["type"], 2);
        assert_eq!(body["start_time"], "2026-12-02T10:00:00Z");
        assert_eq!(body["duration"], 45);
        assert_eq!(body["timezone"], "Europe/Berlin");
        assert_eq!(body["agenda"], "cb-ref-1");
        assert_eq!(body["settings"]["waiting_room"], true);
        assert_eq!(body["settings"]["join_before_host"], false);
    }

    #[test]
    fn only_digit_meeting_ids_reach_the_path() {
        assert!(meeting_path("85746065432").is_ok());
        for id in ["", "../users/me", "1/2", "12a", "123456789012345678901"] {
            assert!(meeting_path(id).is_err(), "{id:?}");
        }
    }
}
