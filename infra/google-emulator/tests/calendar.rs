//! Calendar v3 over real HTTP: calendarList paging, freeBusy arithmetic and
//! refusals, the events lifecycle and Meet conferences.

mod common;

use common::*;
use google_emulator::EmulatorConfig;
use reqwest::Method;
use serde_json::{Value, json};

const EVENTS: &str = "/calendar/v3/calendars/primary/events";

fn timed(summary: &str, start: &str, end: &str) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": start},
        "end": {"dateTime": end},
    })
}

async fn add_account_with_calendars(harness: &Harness) {
    harness
        .control(
            "/_emulator/accounts",
            json!({
                "email": "sam@example.com",
                "name": "Sam",
                "calendars": [
                    {"id": "sam@example.com", "summary": "Sam", "timeZone": "Europe/Berlin", "accessRole": "owner", "primary": true},
                    {"id": "team@group.calendar.google.com", "summary": "Team", "accessRole": "writer"},
                    {"id": "holidays@group.v.calendar.google.com", "summary": "Holidays", "accessRole": "reader"},
                    {"id": DEMO, "accessRole": "freeBusyReader"},
                    {"id": "room@resource.calendar.google.com", "summary": "Room", "accessRole": "reader"},
                ]
            }),
        )
        .await;
}

#[tokio::test]
async fn calendar_list_pages_with_small_max_results() {
    let harness = start().await;
    add_account_with_calendars(&harness).await;
    let token = harness.access_token("sam@example.com", CALENDAR_READONLY).await;

    let mut ids = Vec::new();
    let mut page_token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/calendar/v3/users/me/calendarList?maxResults=2".to_owned();
        if let Some(token) = &page_token {
            path.push_str(&format!("&pageToken={token}"));
        }
        let page: Value = harness.api_get(&token, &path).await.json().await.unwrap();
        assert_eq!(page["kind"], "calendar#calendarList");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            assert_eq!(item["kind"], "calendar#calendarListEntry");
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match page.get("nextPageToken").and_then(Value::as_str) {
            Some(next) => page_token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[0], "sam@example.com", "primary first");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no entry twice: {ids:?}");

    let all: Value = harness.api_get(&token, "/calendar/v3/users/me/calendarList").await.json().await.unwrap();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(all.get("nextPageToken").is_none());
    assert_eq!(items[0]["primary"], true);
    assert_eq!(items[0]["accessRole"], "owner");
    assert_eq!(items[0]["timeZone"], "Europe/Berlin");
    assert!(items[1..].iter().all(|item| item.get("primary").is_none()));
    let demo = items.iter().find(|item| item["id"] == DEMO).unwrap();
    assert_eq!(demo["accessRole"], "freeBusyReader");

    let writers: Value =
        harness.api_get(&token, "/calendar/v3/users/me/calendarList?minAccessRole=writer").await.json().await.unwrap();
    assert_eq!(writers["items"].as_array().unwrap().len(), 2);

    let zero = harness.api_get(&token, "/calendar/v3/users/me/calendarList?maxResults=0").await;
    assert_eq!(zero.status(), 400);
    let forged = harness.api_get(&token, "/calendar/v3/users/me/calendarList?pageToken=forged").await;
    assert_eq!(forged.status(), 400);
}

#[tokio::test]
async fn calendar_list_needs_a_calendar_list_scope() {
    let harness = start().await;
    let events_only = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let response = harness.api_get(&events_only, "/calendar/v3/users/me/calendarList").await;
    assert_eq!(response.status(), 403);
    assert_eq!(reason(&response.json().await.unwrap()), "insufficientPermissions");
    let list_scope = harness.access_token(DEMO, "https://www.googleapis.com/auth/calendar.calendarlist.readonly").await;
    assert_eq!(harness.api_get(&list_scope, "/calendar/v3/users/me/calendarList").await.status(), 200);
}

#[tokio::test]
async fn freebusy_merges_clips_and_skips_free_and_cancelled_time() {
    let harness = start().await;
    harness
        .control(
            &format!("/_emulator/calendars/{DEMO}/events"),
            json!([
                timed("early, clipped", "2030-01-01T07:00:00Z", "2030-01-01T08:30:00Z"),
                timed("a", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"),
                timed("overlaps a", "2030-01-01T09:30:00+00:00", "2030-01-01T11:00:00Z"),
                timed("touches", "2030-01-01T12:00:00+01:00", "2030-01-01T11:30:00Z"),
                {"summary": "free", "transparency": "transparent",
                 "start": {"dateTime": "2030-01-01T13:00:00Z"}, "end": {"dateTime": "2030-01-01T14:00:00Z"}},
                {"summary": "cancelled", "status": "cancelled",
                 "start": {"dateTime": "2030-01-01T15:00:00Z"}, "end": {"dateTime": "2030-01-01T16:00:00Z"}},
                timed("late, clipped", "2030-01-01T17:00:00Z", "2030-01-01T19:00:00Z"),
                timed("outside", "2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z"),
            ]),
        )
        .await;
    let token = harness.access_token(DEMO, FREEBUSY).await;
    let response = harness
        .api_send(
            Method::POST,
            &token,
            "/calendar/v3/freeBusy",
            json!({
                "timeMin": "2030-01-01T08:00:00Z",
                "timeMax": "2030-01-01T18:00:00Z",
                "items": [{"id": "primary"}, {"id": ALEX}, {"id": "nobody@example.com"}]
            }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "calendar#freeBusy");
    assert_eq!(body["timeMin"], "2030-01-01T08:00:00.000Z");
    assert_eq!(body["timeMax"], "2030-01-01T18:00:00.000Z");
    assert_eq!(
        body["calendars"]["primary"],
        json!({"busy": [
            {"start": "2030-01-01T08:00:00Z", "end": "2030-01-01T08:30:00Z"},
            {"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T11:30:00Z"},
            {"start": "2030-01-01T17:00:00Z", "end": "2030-01-01T18:00:00Z"},
        ]})
    );
    let not_found = json!({"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]});
    assert_eq!(body["calendars"][ALEX], not_found);
    assert_eq!(body["calendars"]["nobody@example.com"], not_found);
}

#[tokio::test]
async fn freebusy_sees_calendars_shared_as_free_busy_only() {
    let harness = start().await;
    add_account_with_calendars(&harness).await;
    harness
        .control(
            &format!("/_emulator/calendars/{DEMO}/events"),
            timed("private", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"),
        )
        .await;
    let token = harness.access_token("sam@example.com", CALENDAR).await;
    let body: Value = harness
        .api_send(
            Method::POST,
            &token,
            "/calendar/v3/freeBusy",
            json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": DEMO}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["calendars"][DEMO]["busy"],
        json!([{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T10:00:00Z"}])
    );
    // ...but free/busy access does not open the events themselves.
    let events = harness.api_get(&token, &format!("/calendar/v3/calendars/{DEMO}/events")).await;
    assert_eq!(events.status(), 403);
    assert_eq!(reason(&events.json().await.unwrap()), "requiredAccessLevel");
}

#[tokio::test]
async fn freebusy_refuses_too_many_calendars_and_bad_ranges() {
    let harness = start_with(EmulatorConfig {
        freebusy_max_range: std::time::Duration::from_secs(7 * 86_400),
        ..EmulatorConfig::default()
    })
    .await;
    let token = harness.access_token(DEMO, FREEBUSY).await;
    let query = |body: Value| {
        let harness = &harness;
        let token = token.clone();
        async move {
            let response = harness.api_send(Method::POST, &token, "/calendar/v3/freeBusy", body).await;
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let items: Vec<Value> = (0..51).map(|i| json!({"id": format!("c{i}@example.com")})).collect();
    let (status, body) =
        query(json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": items})).await;
    assert_eq!((status, reason(&body)), (400, "tooManyCalendarsRequested"));
    assert_eq!(body["error"]["code"], 400);

    let items: Vec<Value> = (0..50).map(|i| json!({"id": format!("c{i}@example.com")})).collect();
    let (status, _) =
        query(json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": items})).await;
    assert_eq!(status, 200);

    let (status, body) = query(
        json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-09T00:00:00Z", "items": [{"id": "primary"}]}),
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "timeRangeTooLong"));

    let (status, body) = query(
        json!({"timeMin": "2030-01-02T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": [{"id": "primary"}]}),
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "timeRangeEmpty"));

    let (status, body) = query(json!({"timeMax": "2030-01-02T00:00:00Z", "items": []})).await;
    assert_eq!((status, reason(&body)), (400, "required"));

    let (status, body) = query(json!({"timeMin": "yesterday", "timeMax": "2030-01-02T00:00:00Z", "items": []})).await;
    assert_eq!((status, reason(&body)), (400, "invalid"));

    let events_only = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let response = harness
        .api_send(
            Method::POST,
            &events_only,
            "/calendar/v3/freeBusy",
            json!({"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "items": []}),
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn events_lifecycle_insert_duplicate_get_patch_delete_restore() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let id = "calbridge0123456789abcdef";

    let mut event = timed("Standup", "2030-01-01T09:00:00Z", "2030-01-01T09:15:00Z");
    event["id"] = json!(id);
    event["description"] = json!("daily");
    event["attendees"] = json!([{"email": ALEX}]);
    event["extendedProperties"] = json!({"private": {"calbridgeBooking": "b-1"}});
    let response = harness.api_send(Method::POST, &token, &format!("{EVENTS}?sendUpdates=all"), event.clone()).await;
    assert_eq!(response.status(), 200);
    let inserted: Value = response.json().await.unwrap();
    assert_eq!(inserted["id"], id);
    assert_eq!(inserted["kind"], "calendar#event");
    assert_eq!(inserted["status"], "confirmed");
    assert_eq!(inserted["sequence"], 0);
    assert_eq!(inserted["iCalUID"], format!("{id}@google.com"));
    assert_eq!(inserted["attendees"][0]["responseStatus"], "needsAction");
    assert_eq!(inserted["extendedProperties"]["private"]["calbridgeBooking"], "b-1");
    assert_eq!(inserted["organizer"]["email"], DEMO);
    for field in ["etag", "htmlLink", "created", "updated"] {
        assert!(inserted[field].is_string(), "{field}");
    }

    // The same id again is a conflict, with Google's exact body.
    let duplicate = harness.api_send(Method::POST, &token, EVENTS, event.clone()).await;
    assert_eq!(duplicate.status(), 409);
    let body: Value = duplicate.json().await.unwrap();
    assert_eq!(body["error"]["code"], 409);
    assert_eq!(body["error"]["message"], "The requested identifier already exists.");
    assert_eq!(
        body["error"]["errors"][0],
        json!({"domain": "global", "reason": "duplicate", "message": "The requested identifier already exists."})
    );

    // Get, through the URL-encoded calendar id as well as `primary`.
    let event_path = format!("{EVENTS}/{id}");
    let fetched: Value = harness
        .api_get(&token, &format!("/calendar/v3/calendars/demo%40example.com/events/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, inserted);

    // Patch merges top-level fields and bumps sequence and etag.
    let patched: Value = harness
        .api_send(
            Method::PATCH,
            &token,
            &format!("{event_path}?sendUpdates=none"),
            json!({"summary": "Standup (moved)", "start": {"dateTime": "2030-01-01T10:00:00Z"}, "end": {"dateTime": "2030-01-01T10:15:00Z"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["summary"], "Standup (moved)");
    assert_eq!(patched["description"], "daily");
    assert_eq!(patched["sequence"], 1);
    assert_ne!(patched["etag"], inserted["etag"]);
    assert_eq!(patched["created"], inserted["created"]);

    // A patch that would end before it starts is refused and changes nothing.
    let backwards = harness
        .api_send(Method::PATCH, &token, &event_path, json!({"end": {"dateTime": "2030-01-01T08:00:00Z"}}))
        .await;
    assert_eq!(backwards.status(), 400);
    assert_eq!(reason(&backwards.json().await.unwrap()), "timeRangeEmpty");

    // Delete cancels; a second delete is 410; get still shows it.
    let deleted = harness
        .http
        .delete(harness.url(&format!("{event_path}?sendUpdates=all")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let cancelled: Value = harness.api_get(&token, &event_path).await.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let again = harness.http.delete(harness.url(&event_path)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(again.status(), 410);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Resource has been deleted");
    assert_eq!(reason(&body), "deleted");

    // The id stays taken by the deleted event.
    assert_eq!(harness.api_send(Method::POST, &token, EVENTS, event.clone()).await.status(), 409);

    // Patching status back to confirmed restores it.
    let restored: Value = harness
        .api_send(Method::PATCH, &token, &event_path, json!({"status": "confirmed"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(restored["status"], "confirmed");
    assert_eq!(restored["summary"], "Standup (moved)");

    // The emulator's own store shows the final state, and the write log the flags.
    let stored = harness.control_get(&format!("/_emulator/calendars/{DEMO}/events")).await;
    assert_eq!(stored.as_array().unwrap().len(), 1);
    assert_eq!(stored[0]["status"], "confirmed");
    let writes = harness.control_get("/_emulator/writes").await;
    let flags: Vec<(&str, Option<&str>)> = writes
        .as_array()
        .unwrap()
        .iter()
        .map(|write| (write["endpoint"].as_str().unwrap(), write["send_updates"].as_str()))
        .collect();
    assert_eq!(
        flags,
        vec![
            ("events_insert", Some("all")),
            ("events_patch", Some("none")),
            ("events_delete", Some("all")),
            ("events_patch", None),
        ]
    );
}

#[tokio::test]
async fn unknown_events_are_404_everywhere() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR).await;
    let path = format!("{EVENTS}/doesnotexist");
    assert_eq!(harness.api_get(&token, &path).await.status(), 404);
    let patch = harness.api_send(Method::PATCH, &token, &path, json!({"summary": "x"})).await;
    assert_eq!(patch.status(), 404);
    let body: Value = patch.json().await.unwrap();
    assert_eq!(reason(&body), "notFound");
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    let put =
        harness.api_send(Method::PUT, &token, &path, timed("x", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z")).await;
    assert_eq!(put.status(), 404);
    let delete = harness.http.delete(harness.url(&path)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(delete.status(), 404);
}

#[tokio::test]
async fn event_ids_and_bodies_are_validated() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR).await;
    for bad_id in ["abcd", "has-dash", "UPPERCASE", "wxyz12345"] {
        let mut event = timed("x", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
        event["id"] = json!(bad_id);
        let response = harness.api_send(Method::POST, &token, EVENTS, event).await;
        assert_eq!(response.status(), 400, "{bad_id}");
        assert_eq!(reason(&response.json().await.unwrap()), "invalidResourceId");
    }
    let no_end = harness
        .api_send(Method::POST, &token, EVENTS, json!({"summary": "x", "start": {"dateTime": "2030-01-01T09:00:00Z"}}))
        .await;
    assert_eq!(no_end.status(), 400);
    assert_eq!(reason(&no_end.json().await.unwrap()), "required");
    let not_json = harness.http.post(harness.url(EVENTS)).bearer_auth(&token).body("{not json").send().await.unwrap();
    assert_eq!(reason(&not_json.json().await.unwrap()), "parseError");
    let bad_flag = harness
        .api_send(
            Method::POST,
            &token,
            &format!("{EVENTS}?sendUpdates=everyone"),
            timed("x", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"),
        )
        .await;
    assert_eq!(bad_flag.status(), 400);
    // Without an id, Google's 26-character base32hex id is generated.
    let generated: Value = harness
        .api_send(Method::POST, &token, EVENTS, timed("x", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(generated["id"].as_str().unwrap().len(), 26);
}

#[tokio::test]
async fn events_need_write_access_and_a_visible_calendar() {
    let harness = start().await;
    add_account_with_calendars(&harness).await;
    let token = harness.access_token("sam@example.com", CALENDAR).await;
    let event = timed("x", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");

    let reader = "/calendar/v3/calendars/holidays%40group.v.calendar.google.com/events";
    let response = harness.api_send(Method::POST, &token, reader, event.clone()).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(reason(&body), "requiredAccessLevel");
    assert_eq!(harness.api_get(&token, reader).await.status(), 200);

    let writer = "/calendar/v3/calendars/team%40group.calendar.google.com/events";
    assert_eq!(harness.api_send(Method::POST, &token, writer, event.clone()).await.status(), 200);

    let invisible = format!("/calendar/v3/calendars/{ALEX}/events");
    let response = harness.api_send(Method::POST, &token, &invisible, event.clone()).await;
    assert_eq!(response.status(), 404);

    let readonly = harness.access_token(DEMO, CALENDAR_READONLY).await;
    let response = harness.api_send(Method::POST, &readonly, EVENTS, event).await;
    assert_eq!(response.status(), 403);
    assert_eq!(reason(&response.json().await.unwrap()), "insufficientPermissions");
}

#[tokio::test]
async fn update_replaces_the_client_fields() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let mut event = timed("x", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
    event["description"] = json!("will be gone");
    let inserted: Value = harness.api_send(Method::POST, &token, EVENTS, event).await.json().await.unwrap();
    let path = format!("{EVENTS}/{}", inserted["id"].as_str().unwrap());
    let updated: Value = harness
        .api_send(Method::PUT, &token, &path, timed("y", "2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["summary"], "y");
    assert!(updated.get("description").is_none());
    assert_eq!(updated["id"], inserted["id"]);
    assert_eq!(updated["sequence"], 1);
    assert_eq!(updated["created"], inserted["created"]);
}

fn with_meet(mut event: Value, request_id: &str) -> Value {
    event["conferenceData"] = json!({
        "createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
    });
    event
}

fn status_code(event: &Value) -> &str {
    event["conferenceData"]["createRequest"]["status"]["statusCode"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_meet_conference_is_pending_then_succeeds_and_request_ids_are_idempotent() {
    let harness = start().await; // one pending poll by default
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let event = with_meet(timed("Call", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"), "req-1");

    // Without conferenceDataVersion=1 the request is ignored.
    let ignored: Value = harness.api_send(Method::POST, &token, EVENTS, event.clone()).await.json().await.unwrap();
    assert!(ignored.get("conferenceData").is_none());

    let inserted: Value = harness
        .api_send(Method::POST, &token, &format!("{EVENTS}?conferenceDataVersion=1"), event.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status_code(&inserted), "pending");
    assert!(inserted.get("hangoutLink").is_none());
    let path = format!("{EVENTS}/{}", inserted["id"].as_str().unwrap());

    let first: Value = harness.api_get(&token, &path).await.json().await.unwrap();
    assert_eq!(status_code(&first), "pending");
    let second: Value = harness.api_get(&token, &path).await.json().await.unwrap();
    assert_eq!(status_code(&second), "success");
    let conference_id = second["conferenceData"]["conferenceId"].as_str().unwrap();
    let shape: Vec<usize> = conference_id.split('-').map(str::len).collect();
    assert_eq!(shape, vec![3, 4, 3]);
    assert_eq!(second["conferenceData"]["conferenceSolution"]["key"]["type"], "hangoutsMeet");
    assert_eq!(second["conferenceData"]["conferenceSolution"]["name"], "Google Meet");
    let meet_uri = format!("https://meet.google.com/{conference_id}");
    assert_eq!(
        second["conferenceData"]["entryPoints"][0],
        json!({"entryPointType": "video", "uri": meet_uri, "label": format!("meet.google.com/{conference_id}")})
    );
    assert_eq!(second["hangoutLink"], meet_uri.as_str());
    assert_ne!(second["etag"], first["etag"]);

    // Retrying the create with the same requestId yields the same conference.
    let retried: Value = harness
        .api_send(Method::POST, &token, &format!("{EVENTS}?conferenceDataVersion=1"), event)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status_code(&retried), "success");
    assert_eq!(retried["conferenceData"]["conferenceId"], conference_id);

    // Patching a conference onto an existing event works too.
    let plain: Value = harness
        .api_send(Method::POST, &token, EVENTS, timed("Later", "2030-01-02T09:00:00Z", "2030-01-02T10:00:00Z"))
        .await
        .json()
        .await
        .unwrap();
    let patched: Value = harness
        .api_send(
            Method::PATCH,
            &token,
            &format!("{EVENTS}/{}?conferenceDataVersion=1", plain["id"].as_str().unwrap()),
            with_meet(json!({}), "req-2"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status_code(&patched), "pending");
    assert_ne!(
        patched["conferenceData"]["createRequest"]["requestId"],
        retried["conferenceData"]["createRequest"]["requestId"]
    );
}

#[tokio::test]
async fn conference_requests_must_name_hangouts_meet_and_a_request_id() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let mut event = timed("Call", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
    event["conferenceData"] =
        json!({"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "eventHangout"}}});
    let response =
        harness.api_send(Method::POST, &token, &format!("{EVENTS}?conferenceDataVersion=1"), event.clone()).await;
    assert_eq!(response.status(), 400);
    event["conferenceData"] = json!({"createRequest": {"conferenceSolutionKey": {"type": "hangoutsMeet"}}});
    let response = harness.api_send(Method::POST, &token, &format!("{EVENTS}?conferenceDataVersion=1"), event).await;
    assert_eq!(response.status(), 400);
    assert_eq!(harness.control_get(&format!("/_emulator/calendars/{DEMO}/events")).await, json!([]));
}

#[tokio::test]
async fn a_conference_failure_fault_ends_the_conference_in_failure() {
    let harness = start_with(EmulatorConfig { conference_pending_polls: 0, ..EmulatorConfig::default() }).await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    harness.fault(json!({"endpoint": "events_insert", "kind": "conference_failure"})).await;
    let path = format!("{EVENTS}?conferenceDataVersion=1");
    let failed: Value = harness
        .api_send(
            Method::POST,
            &token,
            &path,
            with_meet(timed("a", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"), "f-1"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status_code(&failed), "failure");
    assert!(failed.get("hangoutLink").is_none());
    assert!(failed["conferenceData"].get("conferenceId").is_none());

    // The fault was used up: the next conference succeeds immediately (no pending polls).
    let next: Value = harness
        .api_send(
            Method::POST,
            &token,
            &path,
            with_meet(timed("b", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z"), "f-2"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status_code(&next), "success");
    assert!(next["hangoutLink"].is_string());
}

#[tokio::test]
async fn events_list_filters_by_time_and_private_property() {
    let harness = start().await;
    let token = harness.access_token(DEMO, CALENDAR_EVENTS).await;
    let mut tagged = timed("tagged", "2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
    tagged["extendedProperties"] = json!({"private": {"booking": "b-1"}});
    for event in [
        tagged,
        timed("other", "2030-01-01T11:00:00Z", "2030-01-01T12:00:00Z"),
        timed("next day", "2030-01-02T11:00:00Z", "2030-01-02T12:00:00Z"),
    ] {
        harness.api_send(Method::POST, &token, EVENTS, event).await;
    }
    let page: Value =
        harness.api_get(&token, &format!("{EVENTS}?privateExtendedProperty=booking%3Db-1")).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["summary"], "tagged");
    let page: Value = harness
        .api_get(&token, &format!("{EVENTS}?timeMin=2030-01-01T10:30:00Z&timeMax=2030-01-02T00:00:00Z"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["summary"], "other");
}
