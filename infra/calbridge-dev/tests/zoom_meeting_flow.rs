//! End-to-end: Zoom meetings for sessions over HTTP through the local stack against the Zoom
//! emulator. The whole flow (connect -> create -> host start -> participant join ->
//! reschedule -> delete -> disconnect) with the start link kept from everyone but the host,
//! the store and the logs (captured at TRACE); one meeting under concurrent creates and when
//! Zoom's answer to a create is lost; Zoom's 429; a host without Zoom; the organisation's
//! connection as the fallback; a meeting whose connection ended.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Stack, outcome, start, start_with};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this binary, at TRACE, from calbridge and the libraries it drives (the
/// emulators play Google and Zoom, so theirs are left out).
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace,zoom_emulator=off,google_emulator=off"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        captured
    })
}

/// A session two days ahead, on the hour, lasting `minutes`.
fn slot(day_offset: i64, minutes: i64) -> (String, String) {
    let now = Timestamp::now().as_second();
    let start = Timestamp::from_second((now / 3600 + 48 + day_offset * 24) * 3600).unwrap();
    (start.to_string(), (start + SignedDuration::from_mins(minutes)).to_string())
}

async fn post_meeting(s: &Stack, token: &str, session: &str, body: Value) -> reqwest::Response {
    s.http.post(format!("{}/sessions/{session}/meeting", s.base())).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn get_path(s: &Stack, token: &str, path: &str) -> reqwest::Response {
    s.http.get(format!("{}{path}", s.base())).bearer_auth(token).send().await.unwrap()
}

/// The emulator's meetings, deleted ones included.
async fn zoom_meetings(s: &Stack) -> Vec<Value> {
    s.zoom_get("meetings").await.as_array().cloned().expect("the emulator lists its meetings")
}

async fn zoom_count(s: &Stack, endpoint: &str) -> u64 {
    s.zoom_get("calls").await["counts"][endpoint].as_u64().unwrap_or(0)
}

fn live(meetings: &[Value]) -> Vec<&Value> {
    meetings.iter().filter(|m| m["deleted"] != true).collect()
}

/// A meeting body for host `coach-1` with participant `client-1`.
fn zoom_body(start: &str, end: &str) -> Value {
    json!({
        "provider": "zoom", "host_user_id": "coach-1", "start": start, "end": end,
        "time_zone": "Europe/Berlin", "title": "Jane Doe: follow-up on her results",
        "participant_user_ids": ["client-1"],
    })
}

#[tokio::test]
async fn a_zoom_session_from_connect_to_disconnect_keeps_the_start_link_for_the_host() {
    let logs = logs();
    // given a host who connected Zoom, and the app's service
    let s = start().await;
    let (host, participant, stranger) =
        (s.token("t1", "coach-1"), s.token("t1", "client-1"), s.token("t1", "someone-else"));
    let service = s.service("t1");
    assert_eq!(outcome(&s.connect_zoom(&host, "demo@example.com").await)["status"], "connected");

    // when the service asks for a Zoom meeting for the session
    let (start_at, end_at) = slot(0, 45);
    let response = post_meeting(&s, &service, "s-1", zoom_body(&start_at, &end_at)).await;

    // then it is created on the host's Zoom account: scheduled, neutral topic, waiting room
    assert_eq!(response.status(), StatusCode::CREATED);
    let created_text = response.text().await.unwrap();
    let created: Value = serde_json::from_str(&created_text).unwrap();
    assert_eq!(created["provider"], "zoom");
    assert_eq!(created["link_status"], "active");
    assert_eq!(created["start"], start_at.as_str());
    assert_eq!(created["time_zone"], "Europe/Berlin");
    let meetings = zoom_meetings(&s).await;
    assert_eq!(meetings.len(), 1, "{meetings:?}");
    let zoom = &meetings[0]["meeting"];
    assert_eq!(created["conference_id"], zoom["id"].to_string().as_str());
    assert_eq!(created["meeting_url"], zoom["join_url"]);
    assert_eq!(zoom["type"], 2);
    assert_eq!(zoom["topic"], "Session", "titles stay out of Zoom unless allowed");
    assert_eq!(zoom["duration"], 45);
    assert_eq!(zoom["timezone"], "Europe/Berlin");
    assert_eq!(zoom["settings"]["waiting_room"], true);
    assert_eq!(zoom["settings"]["join_before_host"], false);
    assert_eq!(zoom["host_email"], "demo@example.com");
    assert!(zoom["start_time"].as_str().unwrap().starts_with(&start_at[..16]), "{zoom}");

    // when the host asks for the start link, twice
    let mut start_urls = Vec::new();
    for _ in 0..2 {
        let response = get_path(&s, &host, "/sessions/s-1/meeting/start").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        start_urls.push(body["start_url"].as_str().unwrap().to_owned());
    }

    // then each is fresh from Zoom and starts the meeting
    assert_ne!(start_urls[0], start_urls[1], "a start link is fetched fresh each time");
    for url in &start_urls {
        assert!(url.contains("zak="), "{url}");
        assert_eq!(s.http.get(url).send().await.unwrap().status(), StatusCode::OK, "the start link works");
    }
    let redirect = get_path(&s, &host, "/sessions/s-1/meeting/start?redirect=true").await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/s/") && location.contains("zak="), "{location}");
    start_urls.push(location);

    // and nobody else gets one: the service is refused, participants and strangers see nothing
    let refused = get_path(&s, &service, "/sessions/s-1/meeting/start").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let other_tenant = (s.service("t2"), s.token("t2", "coach-1"));
    for token in [&participant, &stranger, &other_tenant.0, &other_tenant.1] {
        assert_eq!(get_path(&s, token, "/sessions/s-1/meeting/start").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get_path(&s, token, "/sessions/s-1/meeting/start?redirect=true").await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let no_token = s.http.get(format!("{}/sessions/s-1/meeting/start", s.base())).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    for token in [&stranger, &other_tenant.0] {
        assert_eq!(get_path(&s, token, "/sessions/s-1/meeting").await.status(), StatusCode::NOT_FOUND);
    }

    // when the host's access token has expired and 20 start requests come at once
    let owner = calbridge::domain::ConnectionKey::new(
        calbridge::domain::TenantId::parse("t1").unwrap(),
        calbridge::domain::UserId::parse("coach-1").unwrap(),
        calbridge::domain::Provider::Zoom,
    );
    s.expire_zoom_access_token(&owner).await;
    let refreshes = zoom_count(&s, "token_refresh").await;
    let burst = (0..20).map(|_| get_path(&s, &host, "/sessions/s-1/meeting/start"));
    let statuses: Vec<u16> = futures_util::future::join_all(burst).await.iter().map(|r| r.status().as_u16()).collect();

    // then all are answered after one refresh at Zoom
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(zoom_count(&s, "token_refresh").await, refreshes + 1, "one refresh for the burst");

    // when the participant reads the session's meeting
    let response = get_path(&s, &participant, "/sessions/s-1/meeting").await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen_text = response.text().await.unwrap();
    let seen: Value = serde_json::from_str(&seen_text).unwrap();

    // then they get the join link, and no start link or key
    assert_eq!(seen["meeting_url"], zoom["join_url"]);
    let join = seen["meeting_url"].as_str().unwrap();
    assert!(join.contains("/j/"), "{join}");
    let service_view = get_path(&s, &service, "/sessions/s-1/meeting").await.text().await.unwrap();
    for text in [&created_text, &seen_text, &service_view] {
        assert!(!text.contains("zak") && !text.contains("/s/") && !text.contains("start_url"), "{text}");
    }

    // when the service posts the session again at the same time, then at a new time
    let before_patches = zoom_count(&s, "meetings_patch").await;
    let same = post_meeting(&s, &service, "s-1", zoom_body(&start_at, &end_at)).await;
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(zoom_count(&s, "meetings_patch").await, before_patches, "nothing moved, nothing sent");
    let (new_start, new_end) = slot(1, 60);
    let moved = post_meeting(&s, &service, "s-1", zoom_body(&new_start, &new_end)).await;

    // then the same Zoom meeting is moved
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!((moved["start"].as_str(), moved["end"].as_str()), (Some(new_start.as_str()), Some(new_end.as_str())));
    assert_eq!(moved["conference_id"], created["conference_id"]);
    assert_eq!(zoom_count(&s, "meetings_patch").await, before_patches + 1);
    let meetings = zoom_meetings(&s).await;
    assert_eq!(meetings.len(), 1);
    assert!(meetings[0]["meeting"]["start_time"].as_str().unwrap().starts_with(&new_start[..16]));
    assert_eq!(meetings[0]["meeting"]["duration"], 60);

    // and the store never held a start link
    let raw = String::from_utf8_lossy(&s.raw_store()).into_owned();
    assert!(!raw.contains("zak="), "a start link reached the store");
    for url in &start_urls {
        let zak = url.split("zak=").nth(1).unwrap();
        assert!(!raw.contains(zak));
    }

    // when the host deletes the meeting
    let response = s.http.delete(format!("{}/sessions/s-1/meeting", s.base())).bearer_auth(&host).send().await.unwrap();

    // then it is gone at Zoom and here
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(live(&zoom_meetings(&s).await).is_empty(), "the Zoom meeting was deleted");
    assert_eq!(get_path(&s, &participant, "/sessions/s-1/meeting").await.status(), StatusCode::NOT_FOUND);

    // when the host disconnects Zoom
    let response = s.http.delete(format!("{}/connections/zoom", s.base())).bearer_auth(&host).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["revoked"], true);

    // then no log line of the whole flow holds a start link, its key or a join passcode
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("start link handed to the host"), "the flow was logged at all");
    for url in &start_urls {
        let zak = url.split("zak=").nth(1).unwrap();
        assert!(!text.contains(zak), "a start link's key was logged");
    }
    let pwd = join.split("pwd=").nth(1).unwrap();
    assert!(!text.contains(pwd), "a join passcode was logged");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_and_a_lost_create_answer_make_one_zoom_meeting() {
    logs();
    let s = start().await;
    let host = s.token("t1", "coach-1");
    let service = s.service("t1");
    assert_eq!(outcome(&s.connect_zoom(&host, "alex@example.com").await)["status"], "connected");
    let (start_at, end_at) = slot(0, 30);

    // when ten calls create the same session's meeting at once
    let calls = (0..10).map(|_| post_meeting(&s, &service, "s-many", zoom_body(&start_at, &end_at)));
    let responses = futures_util::future::join_all(calls).await;

    // then Zoom made one meeting, and everyone got it
    let mut statuses = Vec::new();
    let mut ids = Vec::new();
    for response in responses {
        statuses.push(response.status().as_u16());
        ids.push(response.json::<Value>().await.unwrap()["conference_id"].as_str().unwrap().to_owned());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    assert!(ids.iter().all(|id| id == &ids[0]));
    assert_eq!(zoom_meetings(&s).await.len(), 1);
    assert_eq!(zoom_count(&s, "meetings_create").await, 1);

    // when Zoom makes a meeting but its answer never arrives
    s.zoom_post("faults", json!({"endpoint": "meetings_create", "kind": "apply_then_drop"})).await;
    let response = post_meeting(&s, &service, "s-lost", zoom_body(&start_at, &end_at)).await;

    // then calbridge finds it by its marker instead of making another
    assert_eq!(response.status(), StatusCode::CREATED);
    let found: Value = response.json().await.unwrap();
    assert_eq!(zoom_meetings(&s).await.len(), 2, "one meeting per session");
    assert_eq!(zoom_count(&s, "meetings_list").await, 1);

    // when the answer is lost and Zoom cannot even list meetings for a while
    s.zoom_post("faults", json!({"endpoint": "meetings_create", "kind": "apply_then_drop"})).await;
    s.zoom_post("faults", json!({"endpoint": "meetings_list", "status": 503})).await;
    let response = post_meeting(&s, &service, "s-unknown", zoom_body(&start_at, &end_at)).await;

    // then the client is told to retry, and the retry finds the meeting instead of making one
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(zoom_meetings(&s).await.len(), 3);
    let retry = post_meeting(&s, &service, "s-unknown", zoom_body(&start_at, &end_at)).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    let adopted: Value = retry.json().await.unwrap();
    let meetings = zoom_meetings(&s).await;
    assert_eq!(meetings.len(), 3, "the retry adopted the meeting Zoom had made: {meetings:?}");
    assert_eq!(adopted["conference_id"], meetings[2]["meeting"]["id"].to_string().as_str());
    assert_ne!(adopted["conference_id"], found["conference_id"]);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn zooms_rate_limit_is_a_429_with_retry_after_and_nothing_is_left_behind() {
    logs();
    let s = start().await;
    let host = s.token("t1", "coach-1");
    let service = s.service("t1");
    assert_eq!(outcome(&s.connect_zoom(&host, "demo@example.com").await)["status"], "connected");
    // Zoom's daily cap answers the next UTC midnight as an RFC 3339 time; three hours ahead here.
    let retry_at = (Timestamp::now() + SignedDuration::from_hours(3)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    s.zoom_post(
        "faults",
        json!({"endpoint": "meetings_create", "status": 429, "retry_after": retry_at,
               "body": {"code": 429, "message": "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests permitted for this particular user."}}),
    )
    .await;
    let (start_at, end_at) = slot(0, 30);

    let response = post_meeting(&s, &service, "s-cap", zoom_body(&start_at, &end_at)).await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3 * 3600 - 120..=3 * 3600).contains(&seconds), "Retry-After follows Zoom's: {seconds}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "zoom_rate_limited");
    assert_eq!(body["error"]["provider"], "zoom");
    assert_eq!(get_path(&s, &service, "/sessions/s-cap/meeting").await.status(), StatusCode::NOT_FOUND);

    // and once Zoom accepts again, the same call makes the meeting
    let response = post_meeting(&s, &service, "s-cap", zoom_body(&start_at, &end_at)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    s.stack.shutdown().await;
}

#[tokio::test]
async fn a_host_without_zoom_is_told_so_and_can_paste_a_link() {
    logs();
    let s = start().await;
    let service = s.service("t1");
    let (start_at, end_at) = slot(0, 30);

    let response = post_meeting(&s, &service, "s-2", zoom_body(&start_at, &end_at)).await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["provider"].as_str()),
        (Some("not_connected"), Some("zoom"))
    );
    assert_eq!(zoom_count(&s, "meetings_create").await, 0);
    let mut pasted = zoom_body(&start_at, &end_at);
    pasted["existing_url"] = json!("https://us02web.zoom.us/j/81234567890?pwd=abc");
    let response = post_meeting(&s, &service, "s-2", pasted).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["provider"], "zoom");
    assert!(body.get("link_status").is_none(), "an attached link is not calbridge's to watch: {body}");
    let host = s.token("t1", "coach-1");
    let response = get_path(&s, &host, "/sessions/s-2/meeting/start").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "no_start_link");
    s.stack.shutdown().await;
}

#[tokio::test]
async fn the_organisations_zoom_is_the_fallback_and_an_ended_connection_is_shown() {
    logs();
    // given a deployment whose tenants may connect an organisation Zoom account
    let s = start_with(&[("ORGANISATION_ZOOM_USER_ID", "clinic-zoom")]).await;
    let service = s.service("t1");
    let connected = s.connect_zoom_with(&service, json!({"user_id": "clinic-zoom"}), "alex@example.com").await;
    assert_eq!(outcome(&connected)["status"], "connected");
    // and nobody can sign in as the organisation
    let impostor = s.token("t1", "clinic-zoom");
    let response = get_path(&s, &impostor, "/connections/zoom").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // when a host without their own Zoom gets a meeting
    let (start_at, end_at) = slot(0, 30);
    let response = post_meeting(&s, &service, "s-org", zoom_body(&start_at, &end_at)).await;

    // then it is made on the organisation's account, and the host starts it
    assert_eq!(response.status(), StatusCode::CREATED);
    let meetings = zoom_meetings(&s).await;
    assert_eq!(meetings[0]["meeting"]["host_email"], "alex@example.com");
    let host = s.token("t1", "coach-1");
    assert_eq!(get_path(&s, &host, "/sessions/s-org/meeting/start").await.status(), StatusCode::OK);

    // when a host with their own Zoom gets a meeting, it is on their account
    assert_eq!(outcome(&s.connect_zoom(&s.token("t1", "coach-2"), "demo@example.com").await)["status"], "connected");
    let mut own = zoom_body(&start_at, &end_at);
    own["host_user_id"] = json!("coach-2");
    assert_eq!(post_meeting(&s, &service, "s-own", own).await.status(), StatusCode::CREATED);
    assert_eq!(zoom_meetings(&s).await[1]["meeting"]["host_email"], "demo@example.com");

    // when the organisation's Zoom is disconnected
    let response = s
        .http
        .delete(format!("{}/connections/zoom?user_id=clinic-zoom", s.base()))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // then participants are told the link may be gone, and the host cannot start it
    let view: Value = get_path(&s, &service, "/sessions/s-org/meeting").await.json().await.unwrap();
    assert_eq!(view["link_status"], "host_connection_ended", "{view}");
    let response = get_path(&s, &host, "/sessions/s-org/meeting/start").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "host_connection_ended");
    // and the other host's meeting is untouched
    let view: Value = get_path(&s, &service, "/sessions/s-own/meeting").await.json().await.unwrap();
    assert_eq!(view["link_status"], "active");
    s.stack.shutdown().await;
}
