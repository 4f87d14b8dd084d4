//! Who may do what, as one table: every route x every kind of caller -> status.
//!
//! Each case runs on a fresh harness where `user-7f3a` of `clinic-42` is connected, owns the
//! calendar, hosts session `s-77` (participant `client-31`) and has appointment `a-123`
//! synced. The callers:
//! - `service`: the tenant's backend (service scope), naming `user-7f3a` where it must;
//! - `user`: `user-7f3a` on their own things;
//! - `other user`: a colleague in the same tenant, naming `user-7f3a`;
//! - `participant`: `client-31`, naming `user-7f3a`;
//! - `other tenant`: the service of another tenant, naming the same user id;
//! - `no token` and `booking link`: no JWT at all; the booking-link holder presents the
//!   world's real booking token as a bearer token (it is none).
//!
//! The world also holds a booking link for `user-7f3a`, minted by the service: its slots
//! answer whoever holds its token (the token is the credential, a JWT is ignored), a tampered
//! token answers nobody.
//!
//! A case also checks that a refused call (401, 403, or 404 to a stranger) wrote nothing
//! observable: the connection, the meeting and the sync record are still there afterwards.

mod support;

use calbridge::domain::{AppointmentId, BookingLinkId, SessionId, TenantId};
use calbridge::handlers::{
    auth_callback, auth_start, create_meet, disconnect, get_availability, list_calendars, send_email, sync_appointment,
};
use calbridge::ports::CalendarEntry;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use support::*;

const OTHER_TENANT: &str = "other-clinic";
const COLLEAGUE: &str = "colleague";
const PARTICIPANT: &str = "client-31";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Service,
    User,
    OtherUser,
    Participant,
    OtherTenant,
    NoToken,
    BookingLink,
}

const CALLERS: [Caller; 7] = [
    Caller::Service,
    Caller::User,
    Caller::OtherUser,
    Caller::Participant,
    Caller::OtherTenant,
    Caller::NoToken,
    Caller::BookingLink,
];

/// One route: its sample event, how a caller names the user it acts for, and the expected
/// status per caller, in the order of [`CALLERS`].
struct Case {
    route: &'static str,
    event: &'static str,
    names_user: Naming,
    expected: [u16; 7],
}

#[derive(Clone, Copy)]
enum Naming {
    /// Nothing to name (public routes, or routes keyed by the path).
    Nothing,
    /// `?user_id=`
    Query,
    /// `"user_id"` in the body
    Body,
    /// `"user_ids": [...]` in the body
    UserIds,
    /// `"host_user_id"` in the body
    Host,
}

//                    service user  other  part.  tenant none  link
const TABLE: &[Case] = &[
    Case {
        // Another tenant's service names a user it has none of: not connected.
        route: "POST /messages/send",
        event: "send-email/send.json",
        names_user: Naming::Body,
        expected: [200, 200, 403, 403, 409, 401, 401],
    },
    Case {
        route: "POST /connections/google/authorize",
        event: "auth-start/authorize.json",
        names_user: Naming::Body,
        expected: [200, 200, 403, 403, 200, 401, 401],
    },
    Case {
        route: "GET /connections/google/launch",
        event: "auth-start/launch.json",
        names_user: Naming::Nothing,
        expected: [400, 400, 400, 400, 400, 400, 400],
    },
    Case {
        route: "POST /connections/google/launch",
        event: "auth-start/launch-continue.json",
        names_user: Naming::Nothing,
        expected: [400, 400, 400, 400, 400, 400, 400],
    },
    Case {
        route: "GET /connections/google/callback",
        event: "auth-callback/callback.json",
        names_user: Naming::Nothing,
        expected: [400, 400, 400, 400, 400, 400, 400],
    },
    Case {
        route: "GET /connections/google",
        event: "disconnect/status.json",
        names_user: Naming::Query,
        expected: [200, 200, 403, 403, 200, 401, 401],
    },
    Case {
        route: "DELETE /connections/google",
        event: "disconnect/delete.json",
        names_user: Naming::Query,
        expected: [200, 200, 403, 403, 200, 401, 401],
    },
    Case {
        route: "GET /connections",
        event: "disconnect/list.json",
        names_user: Naming::Nothing,
        expected: [200, 403, 403, 403, 200, 401, 401],
    },
    Case {
        route: "DELETE /users/user-7f3a/connections/google",
        event: "disconnect/offboard.json",
        names_user: Naming::Nothing,
        expected: [200, 403, 403, 403, 200, 401, 401],
    },
    // Zoom's webhook carries no JWT (Zoom signs it) and this deployment offers no Zoom: no
    // caller gets past 404, whatever token it holds (zoom_webhook_handlers.rs covers Zoom).
    Case {
        route: "POST /webhooks/zoom",
        event: "disconnect/zoom-webhook.json",
        names_user: Naming::Nothing,
        expected: [404, 404, 404, 404, 404, 404, 404],
    },
    Case {
        route: "GET /calendars",
        event: "list-calendars/list.json",
        names_user: Naming::Query,
        expected: [200, 200, 403, 403, 409, 401, 401],
    },
    Case {
        route: "PUT /calendars/selected",
        event: "list-calendars/select.json",
        names_user: Naming::Body,
        expected: [200, 200, 403, 403, 409, 401, 401],
    },
    Case {
        route: "POST /availability",
        event: "get-availability/busy.json",
        names_user: Naming::UserIds,
        expected: [200, 200, 403, 403, 200, 401, 401],
    },
    Case {
        route: "POST /booking-links",
        event: "get-availability/booking-mint.json",
        names_user: Naming::UserIds,
        expected: [201, 201, 403, 403, 201, 401, 401],
    },
    Case {
        route: "DELETE /booking-links/{link_id}",
        event: "get-availability/booking-revoke.json",
        names_user: Naming::Nothing,
        expected: [204, 403, 403, 403, 404, 401, 401],
    },
    Case {
        route: "GET /booking/{token}/slots",
        event: "get-availability/booking-slots.json",
        names_user: Naming::Nothing,
        expected: [200, 200, 200, 200, 200, 200, 200],
    },
    Case {
        route: "GET /booking/{tampered}/slots",
        event: "get-availability/booking-slots.json",
        names_user: Naming::Nothing,
        expected: [401, 401, 401, 401, 401, 401, 401],
    },
    Case {
        route: "POST /appointments/a-123/sync",
        event: "sync-appointment/http-sync.json",
        names_user: Naming::Nothing,
        expected: [200, 403, 403, 403, 200, 401, 401],
    },
    Case {
        route: "GET /appointments/a-123/sync",
        event: "sync-appointment/http-status.json",
        names_user: Naming::Nothing,
        expected: [200, 403, 403, 403, 404, 401, 401],
    },
    Case {
        route: "POST /sessions/s-77/meeting",
        event: "create-meet/create.json",
        names_user: Naming::Host,
        expected: [200, 403, 403, 403, 409, 401, 401],
    },
    Case {
        route: "GET /sessions/s-77/meeting",
        event: "create-meet/get.json",
        names_user: Naming::Nothing,
        expected: [200, 200, 404, 200, 404, 401, 401],
    },
    Case {
        route: "DELETE /sessions/s-77/meeting",
        event: "create-meet/delete.json",
        names_user: Naming::Nothing,
        expected: [204, 204, 404, 404, 404, 401, 401],
    },
    // The session's meeting is a Meet: the host hears it has no start link (a Zoom meeting's
    // host gets one); the service may never have one.
    Case {
        route: "GET /sessions/s-77/meeting/start",
        event: "create-meet/start.json",
        names_user: Naming::Nothing,
        expected: [403, 409, 404, 404, 404, 401, 401],
    },
];

/// The harness every case starts from, and its booking link.
struct World {
    h: Harness,
    link_id: String,
    token: String,
}

async fn world() -> World {
    let h = harness();
    h.connect_as(TENANT, USER, consent(ALL_SCOPES, true)).await;
    assert_eq!(h.connect_gmail(GMAIL_SCOPES).await["status"], "connected", "setup");
    let calendar = |id: &str, primary| CalendarEntry {
        id: id.into(),
        summary: id.into(),
        primary,
        access_role: "owner".into(),
        time_zone: None,
    };
    h.calendar.set_calendars(
        "1180000001",
        vec![calendar("dr.lee@example.com", true), calendar("c_clinic@group.calendar.google.com", false)],
    );
    let meeting = create_meet::handle(&h.app, request(&event("create-meet/create.json"))).await;
    assert_eq!(meeting.status(), 201, "setup: {:?}", body_json(&meeting));
    let sync = sync_appointment::handle(&h.app, request(&event("sync-appointment/http-sync.json"))).await;
    assert_eq!(sync.status(), 200, "setup: {:?}", body_json(&sync));
    let mut mint = as_service(event("get-availability/booking-mint.json"), TENANT);
    let mut body: Value = serde_json::from_str(mint["body"].as_str().unwrap()).unwrap();
    body["user_ids"] = json!([USER]);
    mint["body"] = body.to_string().into();
    let link = get_availability::handle(&h.app, request(&mint)).await;
    assert_eq!(link.status(), 201, "setup: {:?}", body_json(&link));
    let link = body_json(&link);
    World { h, link_id: link["id"].as_str().unwrap().into(), token: link["token"].as_str().unwrap().into() }
}

/// The sample event with the world's link id and token (or a tampered token) in its path.
fn with_link(case: &Case, e: Value, w: &World) -> Value {
    let mut tampered = w.token.clone();
    let last = if tampered.pop() == Some('A') { 'B' } else { 'A' };
    tampered.push(last);
    let token = if case.route.contains("{tampered}") { tampered } else { w.token.clone() };
    let text = e.to_string().replace("REPLACE_WITH_LINK_ID", &w.link_id).replace("REPLACE_WITH_TOKEN", &token);
    serde_json::from_str(&text).unwrap()
}

/// The sample event as `caller` sends it.
fn as_caller(case: &Case, caller: Caller, w: &World) -> Value {
    let e = with_link(case, event(case.event), w);
    let (mut e, name) = match caller {
        Caller::Service => (as_service(e, TENANT), true),
        Caller::User => (as_user(e, TENANT, USER), false),
        Caller::OtherUser => (as_user(e, TENANT, COLLEAGUE), true),
        Caller::Participant => (as_user(e, TENANT, PARTICIPANT), true),
        Caller::OtherTenant => (as_service(e, OTHER_TENANT), true),
        Caller::NoToken | Caller::BookingLink => {
            let mut e = as_user(e, TENANT, USER);
            e["requestContext"].as_object_mut().unwrap().remove("authorizer");
            e["headers"].as_object_mut().unwrap().remove("authorization");
            if caller == Caller::BookingLink {
                e["headers"]["authorization"] = format!("Bearer {}", w.token).into();
            }
            (e, true)
        }
    };
    if matches!(case.names_user, Naming::Nothing) {
        return e;
    }
    let mut body: Value = match e["body"].as_str() {
        Some(text) if !text.trim().is_empty() => serde_json::from_str(text).unwrap(),
        _ => json!({}),
    };
    // A user on their own things names nobody; everyone else names the user.
    match (case.names_user, name) {
        (Naming::Query, true) => e["rawQueryString"] = format!("user_id={USER}").into(),
        (Naming::Body, true) => body["user_id"] = USER.into(),
        // Naming oneself in `user_ids` is what a user asking about themselves does too.
        (Naming::UserIds, _) => body["user_ids"] = json!([USER]),
        (Naming::Host, true) => body["host_user_id"] = USER.into(),
        (Naming::Host, false) => {
            body.as_object_mut().unwrap().remove("host_user_id");
        }
        _ => {}
    }
    if e["body"].is_string() || body != json!({}) {
        e["body"] = body.to_string().into();
    }
    e
}

async fn dispatch(h: &Harness, route: &str, e: Value) -> Response<Body> {
    let r = request(&e);
    match route.split_whitespace().nth(1).unwrap() {
        p if p.ends_with("/authorize") || p.ends_with("/launch") => auth_start::handle(&h.app, r).await,
        p if p.ends_with("/callback") => auth_callback::handle(&h.app, r).await,
        p if p.starts_with("/connections") || p.starts_with("/users") || p.starts_with("/webhooks") => {
            disconnect::handle(&h.app, r).await
        }
        p if p.starts_with("/calendars") => list_calendars::handle(&h.app, r).await,
        p if p.starts_with("/availability") || p.starts_with("/booking") => get_availability::handle(&h.app, r).await,
        p if p.starts_with("/appointments") => sync_appointment::handle(&h.app, r).await,
        p if p.starts_with("/sessions") => create_meet::handle(&h.app, r).await,
        p if p.starts_with("/messages") => send_email::handle(&h.app, r).await,
        other => panic!("no handler for {other}"),
    }
}

/// Whether the world's data is still there (its booking link unrevoked).
async fn intact(w: &World) -> bool {
    let h = &w.h;
    let tenant = TenantId::parse(TENANT).unwrap();
    let connection = h.stored(TENANT, USER).await;
    let meeting = h.app.meetings.get_meeting(&tenant, &SessionId::parse("s-77").unwrap()).await.unwrap().is_some();
    let sync = h.app.syncs.get_sync(&tenant, &AppointmentId::parse("a-123").unwrap()).await.unwrap();
    let link = BookingLinkId::parse(&w.link_id).unwrap();
    let link = h.app.booking_links.get_booking_link(&tenant, &link).await.unwrap().is_some_and(|l| !l.revoked);
    connection && meeting && link && sync.is_some_and(|s| s.status.as_str() == "synced")
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says() {
    let mut mismatches = Vec::new();
    for case in TABLE {
        for (caller, expected) in CALLERS.into_iter().zip(case.expected) {
            let w = world().await;
            let h = &w.h;
            let calls_before = h.calendar.calls();
            let response = dispatch(h, case.route, as_caller(case, caller, &w)).await;
            let status = response.status().as_u16();
            if status != expected {
                mismatches.push(format!(
                    "{} as {caller:?}: {status} {:?}, expected {expected}",
                    case.route,
                    body_json(&response)
                ));
                continue;
            }
            if matches!(status, 401 | 403) || (status == 404 && caller != Caller::OtherTenant) {
                assert!(intact(&w).await, "{} as {caller:?} changed something", case.route);
                assert_eq!(h.calendar.calls(), calls_before, "{} as {caller:?} reached Google", case.route);
                assert!(h.gmail.sent().is_empty(), "{} as {caller:?} sent mail", case.route);
            }
            if matches!(status, 401 | 403 | 404) {
                let code = error_code(&response);
                assert!(!code.is_empty(), "{} as {caller:?}: errors answer in the JSON envelope", case.route);
            }
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[tokio::test]
async fn another_tenants_service_never_sees_this_tenants_data() {
    let w = world().await;
    for case in TABLE.iter().filter(|c| c.route.starts_with("GET")) {
        let response = dispatch(&w.h, case.route, as_caller(case, Caller::OtherTenant, &w)).await;
        let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        for secret in ["dr.lee@example.com", "meet.google.com", "1180000001"] {
            assert!(!text.contains(secret), "{} leaks {secret} to another tenant: {text}", case.route);
        }
    }
    assert!(intact(&w).await);
}

#[test]
fn the_table_covers_every_route_of_every_function() {
    let routes = [
        auth_start::ROUTES,
        auth_callback::ROUTES,
        disconnect::ROUTES,
        list_calendars::ROUTES,
        get_availability::ROUTES,
        sync_appointment::ROUTES,
        create_meet::ROUTES,
        send_email::ROUTES,
    ];
    for route in routes.into_iter().flatten() {
        let covered = TABLE.iter().any(|case| {
            let (method, path) = case.route.split_once(' ').unwrap();
            method == route.method.as_str() && route.match_path(path).is_some()
        });
        assert!(covered, "{} {} has no row in the table", route.method, route.pattern);
    }
}
