//! End to end through the Lambda Runtime API: the real function binaries, configured from
//! template.yaml alone, against moto and the Google emulator.
//!
//! `MOTO_ENDPOINT` must point at a running moto (`infra/scripts/test.sh` starts one); without
//! it these tests fail rather than skip.
//!
//! Each step is one API call a browser or an app makes, or one EventBridge event delivered the
//! way the rule delivers it (an asynchronous invocation through the same runtime API).

use std::time::Duration;

use lambda_e2e::gateway::ApiRequest;
use lambda_e2e::runtime_api::Outcome;
use lambda_e2e::stack::{DeployedStack, template_path};
use serde_json::{Value, json};

const TENANT: &str = "clinic-42";
const USER: &str = "user-7f3a";
const RETURN_TO: &str = "https://app.example.com/integrations/google";
const ACCOUNT: &str = "demo@example.com";
const BINDING_COOKIE: &str = "__Host-calbridge-oauth";

const FUNCTIONS: [&str; 8] = [
    "auth-start",
    "auth-callback",
    "disconnect",
    "list-calendars",
    "get-availability",
    "sync-appointment",
    "create-meet",
    "send-email",
];

fn sample_event(name: &str) -> Value {
    let path = template_path().with_file_name("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_function_serves_its_part_of_the_api_through_the_runtime_api() {
    let stack = DeployedStack::deploy(&FUNCTIONS).await;

    // Cold starts: configuration and clients only. No connection to AWS, no call to Google.
    for function in stack.functions.values() {
        eprintln!("cold start of {}: {:?}", function.spec.package, function.cold_start);
        let calls = function.aws.calls();
        assert!(calls.is_empty(), "{} called AWS during its cold start: {calls:?}", function.spec.package);
        assert_eq!(
            function.google_calls_during_init, 0,
            "{} called Google during its cold start",
            function.spec.package
        );
    }

    // API Gateway refuses an app route without a token before any function runs.
    assert_eq!(stack.api(ApiRequest::get("/connections/google")).await.status, 401);
    let status = stack.api(ApiRequest::get("/connections/google").as_caller(TENANT, USER)).await;
    assert_eq!((status.status, status.json()), (200, json!({"provider": "google", "status": "not_connected"})));

    // 1. The app asks auth-start for a launch URL on the API's own host.
    let authorize = stack
        .api(
            ApiRequest::post("/connections/google/authorize")
                .as_caller(TENANT, USER)
                .json(json!({"return_to": RETURN_TO, "login_hint": ACCOUNT})),
        )
        .await;
    assert_eq!(authorize.status, 200, "{}", authorize.body);
    let launch_url = authorize.json()["launch_url"].as_str().expect("a launch_url").to_owned();
    let launch_prefix = format!("https://{}/connections/google/launch?ticket=", stack.domain);
    assert!(launch_url.starts_with(&launch_prefix), "{launch_url} is not on {launch_prefix}");

    // 2. The browser opens it (no JWT): a page naming the app account, and the binding cookie;
    //    "Continue" posts the page's form and redirects to Google.
    let page = stack.api(ApiRequest::get(&launch_url).header("accept", "text/html")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(USER), "the page names the app account: {}", page.body);
    let cookie = page.set_cookie(BINDING_COOKIE).expect("the binding cookie is set").to_owned();
    let set_cookie = page.cookies.join("; ");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }
    let launch = stack.api(continue_request(&launch_url, &page.body, &cookie)).await;
    assert_eq!(launch.status, 303, "{}", launch.body);
    let consent = launch.location().expect("a Location");
    assert!(consent.as_str().starts_with(&format!("{}/o/oauth2/v2/auth?", stack.emulator_url())), "{consent}");
    let query: std::collections::HashMap<String, String> = consent.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], stack.deployment.parameters["GoogleClientId"]);
    assert_eq!(query["redirect_uri"], format!("https://{}/connections/google/callback", stack.domain));
    assert_eq!((query["code_challenge_method"].as_str(), query["access_type"].as_str()), ("S256", "offline"));
    let page = stack.http.get(consent.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200, "the emulator shows its consent page");

    // 3. The user approves on Google's consent page.
    let mut form: Vec<(String, String)> = consent.query_pairs().into_owned().collect();
    form.push(("account".into(), ACCOUNT.into()));
    form.push(("decision".into(), "approve".into()));
    let decision = stack
        .http
        .post(format!("{}/o/oauth2/v2/auth/decision", stack.emulator_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), 302);
    let callback = decision.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&query["redirect_uri"]), "{callback}");

    // 4. Google sends the browser back to auth-callback, which stores the connection.
    let done = stack
        .api(ApiRequest::get(&callback).header("accept", "text/html").cookie(&format!("{BINDING_COOKIE}={cookie}")))
        .await;
    assert_eq!(done.status, 302, "{}", done.body);
    assert_eq!(done.header("location"), Some(format!("{RETURN_TO}?status=connected").as_str()));

    let status = stack.api(ApiRequest::get("/connections/google").as_caller(TENANT, USER)).await.json();
    assert_eq!((status["status"].as_str(), status["email"].as_str()), (Some("connected"), Some(ACCOUNT)));
    // The connection belongs to the tenant named by the template's tenant claim, nobody else.
    let stranger = stack.api(ApiRequest::get("/connections/google").as_caller("another-tenant", USER)).await.json();
    assert_eq!(stranger["status"], "not_connected");

    // list-calendars: the connected account's calendars (a token refresh is not needed yet).
    let calendars = stack.api(ApiRequest::get("/calendars").as_caller(TENANT, USER)).await;
    assert_eq!(calendars.status, 200, "{}", calendars.body);
    let calendars = calendars.json();
    let ids: Vec<&str> =
        calendars["calendars"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.contains(&ACCOUNT), "{ids:?}");

    // get-availability: FreeBusy for the caller, after Google expired the access token (a
    // refresh through the token endpoint with the client secret from Secrets Manager).
    stack
        .emulator_control(
            &format!("calendars/{ACCOUNT}/events"),
            json!([{"summary": "Patient A", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T10:00:00Z"}}]),
        )
        .await;
    stack.emulator_control("tokens/expire", json!({"account": ACCOUNT})).await;
    let availability = stack
        .api(
            ApiRequest::post("/availability")
                .as_caller(TENANT, USER)
                .json(json!({"time_min": "2030-01-01T00:00:00Z", "time_max": "2030-01-08T00:00:00Z"})),
        )
        .await;
    assert_eq!(availability.status, 200, "{}", availability.body);
    assert_eq!(
        availability.json()["busy"][USER],
        json!([{"start": "2030-01-02T09:00:00Z", "end": "2030-01-02T10:00:00Z"}])
    );
    assert!(!availability.body.contains("Patient A"), "event details never leave Google");

    // sync-appointment: an AppointmentChanged event, as the EventBridge rule delivers it,
    // lands once at Google without client details; its status is served over HTTP.
    let mut change = sample_event("sync-appointment/create.json");
    change["detail"]["tenant_id"] = TENANT.into();
    change["detail"]["user_id"] = USER.into();
    change["detail"]["appointment_id"] = "a-e2e-1".into();
    change["detail"]["start"] = "2030-01-03T15:00:00Z".into();
    change["detail"]["end"] = "2030-01-03T15:50:00Z".into();
    let Outcome::Response(synced) = stack.invoke("sync-appointment", change).await else {
        panic!("the sync event failed")
    };
    assert_eq!(synced["outcome"], "synced", "{synced}");
    let at_google = stack.emulator_state(&format!("calendars/{ACCOUNT}/events")).await;
    let synced_event = at_google
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["extendedProperties"]["private"]["calbridge_appointment"] == "a-e2e-1")
        .unwrap_or_else(|| panic!("the appointment is not at Google: {at_google}"));
    assert_eq!(synced_event["summary"], "Appointment", "the template's EVENT_TITLE, no client details");
    let sync_status = stack.api(ApiRequest::get("/appointments/a-e2e-1/sync").as_service(TENANT)).await;
    assert_eq!(sync_status.status, 200, "{}", sync_status.body);
    let by_user = stack.api(ApiRequest::get("/appointments/a-e2e-1/sync").as_caller(TENANT, USER)).await;
    assert_eq!(by_user.status, 403, "sync records are the service's: {}", by_user.body);
    assert!(sync_status.body.contains("synced"), "{}", sync_status.body);

    // create-meet: the app's service asks a Google Meet for the host's session; the host
    // reads it on GET and cancels it on DELETE.
    let meeting = stack
        .api(ApiRequest::post("/sessions/s-e2e-1/meeting").as_service(TENANT).json(json!({
            "host_user_id": USER, "start": "2030-01-04T15:00:00Z", "end": "2030-01-04T15:50:00Z", "time_zone": "Europe/Lisbon",
            "title": "Coaching", "participant_user_ids": ["client-1"], "attendee_emails": ["client@example.com"]
        })))
        .await;
    assert_eq!(meeting.status, 201, "{}", meeting.body);
    let view = meeting.json();
    assert!(view["meeting_url"].as_str().is_some_and(|u| u.starts_with("https://meet.google.com/")), "{view}");
    let again = stack.api(ApiRequest::get("/sessions/s-e2e-1/meeting").as_caller(TENANT, USER)).await;
    assert_eq!((again.status, again.json()), (200, view));
    let cancelled = stack.api(ApiRequest::delete("/sessions/s-e2e-1/meeting").as_caller(TENANT, USER)).await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.body);

    // disconnect: revoke at Google (nobody else holds the account: the index says so), then erase.
    let tokens = emulator_tokens(&stack).await;
    let deleted = stack.api(ApiRequest::delete("/connections/google").as_caller(TENANT, USER)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json(), json!({"disconnected": true, "revoked": true}));
    let after = emulator_tokens(&stack).await;
    assert!(
        after["refresh_tokens"].as_array().unwrap().iter().all(|t| t["revoked"] == true),
        "the refresh token was not revoked: {after}"
    );
    let status = stack.api(ApiRequest::get("/connections/google").as_caller(TENANT, USER)).await.json();
    assert_eq!(status, json!({"provider": "google", "status": "not_connected"}));

    // Logs: JSON lines (what CloudWatch and Logs Insights expect), and no secret in them.
    let mut secrets: Vec<String> = vec![lambda_e2e::aws::GOOGLE_CLIENT_SECRET.to_owned(), cookie];
    for (list, field) in [("codes", "code"), ("access_tokens", "token"), ("refresh_tokens", "token")] {
        for item in after[list].as_array().into_iter().flatten().chain(tokens[list].as_array().into_iter().flatten()) {
            secrets.extend(item[field].as_str().map(str::to_owned));
        }
    }
    let mut logged = 0;
    for function in stack.functions.values() {
        let lines = function.process.output_lines();
        logged += lines.len();
        for line in &lines {
            let parsed: Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("{} wrote a line that is not JSON: {line}", function.spec.package));
            if parsed.get("_aws").is_some() {
                // An Embedded Metric Format record: metrics only, never who they were about.
                assert!(
                    !line.contains(TENANT) && !line.contains(USER),
                    "{}: a metric names a tenant or user: {line}",
                    function.spec.package
                );
            } else {
                assert!(parsed.get("level").is_some(), "{}: no level in {line}", function.spec.package);
            }
            for secret in &secrets {
                assert!(!line.contains(secret.as_str()), "{} logged a secret: {line}", function.spec.package);
            }
        }
        assert!(!function.process.has_exited(), "{} exited", function.spec.package);
    }
    assert!(logged > 0, "the flow logged nothing at all");

    // Least privilege holds for what really happened: every request each function sent to
    // DynamoDB, KMS and Secrets Manager is one its role (or the key policy) in template.yaml
    // allows. A permission the code needs but the template forgot would fail in AWS, not here.
    let refused = stack.requests_iam_would_refuse();
    assert!(refused.is_empty(), "template.yaml's IAM would refuse: {refused:#?}");
    // What each function sent: action and key family (`FLOW#state`, `T#<tenant>#U`) or KMS purpose.
    let mut actions = std::collections::BTreeSet::new();
    for function in stack.functions.values() {
        let mut used = std::collections::BTreeSet::new();
        for call in function.aws.calls() {
            let key_family = call.leading_key.map(|k| {
                let parts = if k.starts_with("T#") { 3 } else { 2 };
                k.split('#').take(parts).collect::<Vec<_>>().join("#")
            });
            let purpose = call.encryption_context.and_then(|ctx| ctx.get("purpose").cloned());
            used.insert(format!("{} {}", call.action, key_family.or(purpose).unwrap_or_default()));
            actions.insert(call.action);
        }
        eprintln!("{}: {used:?}", function.spec.package);
    }
    for expected in ["dynamodb:GetItem", "dynamodb:PutItem", "kms:GenerateDataKey", "kms:Decrypt"] {
        assert!(actions.contains(expected), "the flow never sent {expected}: {actions:?}");
    }
    stack.shutdown().await;
}

/// The bearer values one browser connect produced (ticket, state, binding cookie, code).
struct BrowserConnect {
    secrets: Vec<String>,
}

/// authorize -> launch -> approve at the emulator -> callback, asserting only that each step
/// answers; returns every bearer value seen on the way.
async fn connect_through_the_browser(stack: &DeployedStack) -> BrowserConnect {
    let authorize = stack
        .api(
            ApiRequest::post("/connections/google/authorize")
                .as_caller(TENANT, USER)
                .json(json!({"return_to": RETURN_TO})),
        )
        .await;
    assert_eq!(authorize.status, 200, "{}", authorize.body);
    let launch_url = url::Url::parse(authorize.json()["launch_url"].as_str().unwrap()).unwrap();
    let ticket = launch_url.query_pairs().find(|(k, _)| k == "ticket").unwrap().1.into_owned();
    let page = stack.api(ApiRequest::get(launch_url.as_str()).header("accept", "text/html")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.set_cookie(BINDING_COOKIE).expect("the binding cookie is set").to_owned();
    let form_token =
        page.body.split_once("name=\"form_token\" value=\"").unwrap().1.split('"').next().unwrap().to_owned();
    let launch = stack.api(continue_request(launch_url.as_str(), &page.body, &cookie)).await;
    assert_eq!(launch.status, 303, "{}", launch.body);
    let consent = launch.location().expect("a Location");
    let state = consent.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let mut form: Vec<(String, String)> = consent.query_pairs().into_owned().collect();
    form.push(("account".into(), ACCOUNT.into()));
    form.push(("decision".into(), "approve".into()));
    let decision = stack
        .http
        .post(format!("{}/o/oauth2/v2/auth/decision", stack.emulator_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), 302);
    let callback = decision.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let done = stack
        .api(ApiRequest::get(&callback).header("accept", "text/html").cookie(&format!("{BINDING_COOKIE}={cookie}")))
        .await;
    assert_eq!(done.header("location"), Some(format!("{RETURN_TO}?status=connected").as_str()), "{}", done.body);
    BrowserConnect { secrets: vec![ticket, form_token, state, cookie, code] }
}

/// The launch page's "Continue": its form posted back to the launch URL with the cookie.
fn continue_request(launch_url: &str, page: &str, cookie: &str) -> ApiRequest {
    let form_token =
        page.split_once("name=\"form_token\" value=\"").expect("a form token").1.split('"').next().unwrap();
    ApiRequest::post(launch_url)
        .header("accept", "text/html")
        .cookie(&format!("{BINDING_COOKIE}={cookie}"))
        .form(&[("form_token", form_token)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_log_level_trace_the_functions_log_no_raw_event_and_no_secret() {
    // given the connect functions deployed with the template's LogLevel at its most verbose
    let stack =
        DeployedStack::deploy_with(&["auth-start", "auth-callback", "disconnect"], &[("LogLevel", "TRACE")]).await;
    for function in stack.functions.values() {
        let env = stack.process_environment(&function.spec, "http://unused");
        assert_eq!(env.get("AWS_LAMBDA_LOG_LEVEL").map(String::as_str), Some("TRACE"), "{}", function.spec.package);
    }

    // when a user connects through the browser, checks the status and disconnects
    let connect = connect_through_the_browser(&stack).await;
    let status = stack.api(ApiRequest::get("/connections/google").as_caller(TENANT, USER)).await;
    assert_eq!(status.json()["status"], "connected");
    let deleted = stack.api(ApiRequest::delete("/connections/google").as_caller(TENANT, USER)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    // then no log line holds a raw event, a bearer value of the flow, a Google token or secret
    let tokens = emulator_tokens(&stack).await;
    let mut secrets = connect.secrets;
    secrets.push(lambda_e2e::aws::GOOGLE_CLIENT_SECRET.to_owned());
    for (list, field) in [("codes", "code"), ("access_tokens", "token"), ("refresh_tokens", "token")] {
        secrets
            .extend(tokens[list].as_array().into_iter().flatten().filter_map(|t| t[field].as_str().map(str::to_owned)));
    }
    assert!(secrets.len() >= 7, "the flow issued the values to look for: {secrets:?}");
    let mut logged = 0;
    for function in stack.functions.values() {
        for line in function.process.output_lines() {
            logged += 1;
            for leak in ["raw JSON event", "rawQueryString", "requestContext", "Bearer "] {
                assert!(!line.contains(leak), "{} logged {leak:?} at TRACE: {line}", function.spec.package);
            }
            for secret in &secrets {
                assert!(!line.contains(secret.as_str()), "{} logged a secret at TRACE: {line}", function.spec.package);
            }
        }
    }
    assert!(logged > 0, "the flow logged nothing at all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_log_level_trace_every_function_logs_no_raw_event_and_no_secret_through_its_flow() {
    // given every function deployed with the template's LogLevel at its most verbose
    let stack = DeployedStack::deploy_with(&FUNCTIONS, &[("LogLevel", "TRACE")]).await;
    for function in stack.functions.values() {
        let env = stack.process_environment(&function.spec, "http://unused");
        assert_eq!(env.get("AWS_LAMBDA_LOG_LEVEL").map(String::as_str), Some("TRACE"), "{}", function.spec.package);
    }
    let mut secrets = connect_through_the_browser(&stack).await.secrets;

    // when list-calendars lists the user's calendars
    let calendars = stack.api(ApiRequest::get("/calendars").as_caller(TENANT, USER)).await;
    assert_eq!(calendars.status, 200, "{}", calendars.body);
    // and get-availability reads the user's busy time after a token refresh
    stack
        .emulator_control(
            &format!("calendars/{ACCOUNT}/events"),
            json!([{"summary": "Patient A", "start": {"dateTime": "2030-01-02T09:00:00Z"}, "end": {"dateTime": "2030-01-02T10:00:00Z"}}]),
        )
        .await;
    stack.emulator_control("tokens/expire", json!({"account": ACCOUNT})).await;
    let week = json!({"time_min": "2030-01-01T00:00:00Z", "time_max": "2030-01-08T00:00:00Z"});
    let availability = stack.api(ApiRequest::post("/availability").as_caller(TENANT, USER).json(week)).await;
    assert_eq!(availability.status, 200, "{}", availability.body);
    // and the service mints a booking link whose slots someone without a JWT reads, then revokes it
    let expires_at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let minted = stack
        .api(ApiRequest::post("/booking-links").as_service(TENANT).json(json!({
            "user_ids": [USER], "time_min": "2030-01-01T00:00:00Z", "time_max": "2030-01-08T00:00:00Z",
            "slots": {"duration_minutes": 60, "time_zone": "UTC",
                      "working_hours": [{"days": ["wed"], "start": "09:00", "end": "12:00"}]},
            "expires_at": expires_at.to_string(),
        })))
        .await;
    assert_eq!(minted.status, 201, "{}", minted.body);
    let minted = minted.json();
    let (link_id, booking_token) = (minted["id"].as_str().unwrap(), minted["token"].as_str().unwrap());
    let slots = stack.api(ApiRequest::get(minted["url"].as_str().unwrap())).await;
    assert_eq!(slots.status, 200, "{}", slots.body);
    assert!(slots.json()["slots"].as_array().is_some_and(|s| !s.is_empty()), "{}", slots.body);
    let (payload, tag) = booking_token.split_once('.').unwrap();
    let tampered = format!("{payload}.{}{}", if tag.starts_with('A') { "B" } else { "A" }, &tag[1..]);
    let refused = stack.api(ApiRequest::get(&format!("/booking/{tampered}/slots"))).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let revoked = stack.api(ApiRequest::delete(&format!("/booking-links/{link_id}")).as_service(TENANT)).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    secrets.extend([booking_token.to_owned(), tampered, tag.to_owned()]);
    // and sync-appointment applies an EventBridge event and serves its record
    let mut change = sample_event("sync-appointment/create.json");
    change["detail"]["tenant_id"] = TENANT.into();
    change["detail"]["user_id"] = USER.into();
    change["detail"]["appointment_id"] = "a-trace-1".into();
    change["detail"]["start"] = "2030-01-03T15:00:00Z".into();
    change["detail"]["end"] = "2030-01-03T15:50:00Z".into();
    let Outcome::Response(synced) = stack.invoke("sync-appointment", change).await else {
        panic!("the sync event failed")
    };
    assert_eq!(synced["outcome"], "synced", "{synced}");
    let record = stack.api(ApiRequest::get("/appointments/a-trace-1/sync").as_service(TENANT)).await;
    assert_eq!(record.status, 200, "{}", record.body);
    // and create-meet makes a Meet (its join link), which the host reads and cancels
    let meeting = stack
        .api(ApiRequest::post("/sessions/s-trace-1/meeting").as_service(TENANT).json(json!({
            "host_user_id": USER, "start": "2030-01-04T15:00:00Z", "end": "2030-01-04T15:50:00Z",
            "title": "Coaching", "participant_user_ids": ["client-1"], "attendee_emails": ["client@example.com"]
        })))
        .await;
    assert_eq!(meeting.status, 201, "{}", meeting.body);
    let meeting_url = meeting.json()["meeting_url"].as_str().unwrap().to_owned();
    assert!(meeting_url.starts_with("https://meet.google.com/"), "{meeting_url}");
    let read = stack.api(ApiRequest::get("/sessions/s-trace-1/meeting").as_caller(TENANT, USER)).await;
    assert_eq!(read.status, 200, "{}", read.body);
    let cancelled = stack.api(ApiRequest::delete("/sessions/s-trace-1/meeting").as_caller(TENANT, USER)).await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.body);
    secrets.push(meeting_url);
    // and the user disconnects
    let tokens = emulator_tokens(&stack).await;
    let deleted = stack.api(ApiRequest::delete("/connections/google").as_caller(TENANT, USER)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    // then no function logged a raw event, a bearer value, a Google token or secret, the
    // booking token or the meeting's join link (each function served its part above; one that
    // succeeds quietly may log nothing)
    secrets.push(lambda_e2e::aws::GOOGLE_CLIENT_SECRET.to_owned());
    for (list, field) in [("codes", "code"), ("access_tokens", "token"), ("refresh_tokens", "token")] {
        secrets
            .extend(tokens[list].as_array().into_iter().flatten().filter_map(|t| t[field].as_str().map(str::to_owned)));
    }
    assert!(
        tokens["access_tokens"].as_array().is_some_and(|t| t.len() >= 2),
        "the flow refreshed an access token: {tokens}"
    );
    let mut logged = 0;
    for function in stack.functions.values() {
        let lines = function.process.output_lines();
        eprintln!("{}: {} lines at TRACE", function.spec.package, lines.len());
        logged += lines.len();
        for line in lines {
            for leak in ["raw JSON event", "rawQueryString", "requestContext", "Bearer ", "Patient A"] {
                assert!(!line.contains(leak), "{} logged {leak:?} at TRACE: {line}", function.spec.package);
            }
            for secret in &secrets {
                assert!(!line.contains(secret.as_str()), "{} logged a secret at TRACE: {line}", function.spec.package);
            }
        }
    }
    assert!(logged > 0, "the flow logged nothing at all");
    stack.shutdown().await;
}

async fn emulator_tokens(stack: &DeployedStack) -> Value {
    stack.emulator_state("tokens").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variable_missing_from_the_environment_fails_the_cold_start_and_names_it() {
    // given a stack, and auth-start as the template defines it
    let stack = DeployedStack::deploy(&[]).await;
    let spec = lambda_e2e::template::Evaluator { template: &stack.template, deployment: &stack.deployment }
        .function("AuthStartFunction")
        .expect("the template defines auth-start");
    let binaries = tokio::task::spawn_blocking(|| lambda_e2e::binaries::function_binaries(&["auth-start"]))
        .await
        .unwrap()
        .unwrap();
    let moto = lambda_e2e::aws::moto_endpoint();

    // when it starts without GOOGLE_CLIENT_ID and TABLE_NAME
    let started = stack
        .start_function(spec, &binaries["auth-start"], &moto, |env| {
            env.remove("GOOGLE_CLIENT_ID");
            env.remove("TABLE_NAME");
        })
        .await;

    // then it never asks for an event, and its log names both problems at once
    let Err(failure) = started else { panic!("auth-start started without GOOGLE_CLIENT_ID and TABLE_NAME") };
    assert!(failure.contains("GOOGLE_CLIENT_ID is required"), "{failure}");
    assert!(failure.contains("KMS_KEY_ID"), "{failure}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_error_reaches_the_runtime_api_and_the_function_keeps_serving() {
    // A request the handler cannot route is answered by the function itself (never an
    // invocation error), and the same process serves the next event.
    let stack = DeployedStack::deploy(&["disconnect"]).await;
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(template_path().with_file_name("events").join("disconnect/status.json")).unwrap(),
    )
    .unwrap();
    event["rawPath"] = "/nowhere".into();
    event["requestContext"]["http"]["path"] = "/nowhere".into();
    let Outcome::Response(answer) = stack.invoke("disconnect", event).await else {
        panic!("a response, not an invocation error")
    };
    assert_eq!(answer["statusCode"], 404);
    // A malformed event is an invocation error reported on .../error, not a crash.
    match stack.invoke("disconnect", json!({"not": "an API Gateway event"})).await {
        Outcome::Error(error) => assert!(error.get("errorType").is_some(), "{error}"),
        Outcome::Response(answer) => assert!(answer["statusCode"].as_u64().is_some_and(|s| s >= 400), "{answer}"),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let status = stack.api(ApiRequest::get("/connections/google").as_caller(TENANT, USER)).await;
    assert_eq!(status.status, 200, "the process still serves after an invocation error");
    stack.shutdown().await;
}

/// One SQS record as the event source mapping delivers it, carrying `body`.
fn sqs_record(id: &str, body: String) -> Value {
    let mut record = sample_event("sync-appointment/sqs-batch.json")["Records"][0].clone();
    record["messageId"] = id.into();
    record["body"] = body.into();
    record
}

fn appointment_change(appointment: &str, sample: &str) -> String {
    let mut change = sample_event(&format!("sync-appointment/{sample}.json"));
    change["detail"]["tenant_id"] = TENANT.into();
    change["detail"]["user_id"] = USER.into();
    change["detail"]["appointment_id"] = appointment.into();
    change.to_string()
}

/// The message ids a batch response returns to the queue.
fn returned(answer: &Value) -> Vec<&str> {
    let failures = answer["batchItemFailures"].as_array().unwrap_or_else(|| panic!("not a batch response: {answer}"));
    failures.iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_appointment_answers_an_sqs_batch_with_only_its_transient_failure() {
    let stack = DeployedStack::deploy(&["auth-start", "auth-callback", "sync-appointment"]).await;
    connect_through_the_browser(&stack).await;

    // Given Google failing every insert with 503, a batch of a delete (no insert needed), a
    // truncated body and a create:
    stack.emulator_control("faults", json!({"endpoint": "events_insert", "status": 503, "times": 100})).await;
    let batch = json!({"Records": [
        sqs_record("m-delete", appointment_change("a-sqs-gone", "delete")),
        sqs_record("m-truncated", appointment_change("a-sqs-0", "create")[..40].to_owned()),
        sqs_record("m-create", appointment_change("a-sqs-1", "create")),
    ]});
    // when the real binary gets it through the Runtime API, then only the create goes back.
    let Outcome::Response(answer) = stack.invoke("sync-appointment", batch).await else {
        panic!("a batch is answered, never failed as a whole")
    };
    assert_eq!(returned(&answer), vec!["m-create"], "{answer}");
    let gone = stack.api(ApiRequest::get("/appointments/a-sqs-gone/sync").as_service(TENANT)).await;
    assert_eq!(gone.json()["status"], "deleted", "{}", gone.body);
    let pending = stack.api(ApiRequest::get("/appointments/a-sqs-1/sync").as_service(TENANT)).await;
    assert_eq!((pending.json()["status"].clone(), pending.json()["attempts"].clone()), (json!("failed"), json!(1)));

    // The redelivered message alone succeeds once Google is back.
    let cleared = stack.http.delete(format!("{}/_emulator/faults", stack.emulator_url())).send().await.unwrap();
    assert!(cleared.status().is_success());
    let again = json!({"Records": [sqs_record("m-create", appointment_change("a-sqs-1", "create"))]});
    let Outcome::Response(answer) = stack.invoke("sync-appointment", again).await else { panic!("answered") };
    assert!(returned(&answer).is_empty(), "{answer}");
    let synced = stack.api(ApiRequest::get("/appointments/a-sqs-1/sync").as_service(TENANT)).await;
    assert_eq!(synced.json()["status"], "synced", "{}", synced.body);

    // A permanent refusal is recorded and acknowledged, not returned to the queue.
    stack.emulator_control("faults", json!({"endpoint": "events_insert", "status": 400, "times": 1})).await;
    let refused = json!({"Records": [sqs_record("m-refused", appointment_change("a-sqs-2", "create"))]});
    let Outcome::Response(answer) = stack.invoke("sync-appointment", refused).await else { panic!("answered") };
    assert!(returned(&answer).is_empty(), "{answer}");
    let record = stack.api(ApiRequest::get("/appointments/a-sqs-2/sync").as_service(TENANT)).await.json();
    assert_eq!(record["status"], "failed", "{record}");
    assert!(record["error"].as_str().is_some_and(|e| e.starts_with("google_refused: 400")), "{record}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_that_cannot_finish_in_time_answers_a_retryable_503_before_the_deadline() {
    let stack = DeployedStack::deploy(&["auth-start", "auth-callback", "get-availability"]).await;
    connect_through_the_browser(&stack).await;
    let week = json!({"time_min": "2030-01-01T00:00:00Z", "time_max": "2030-01-08T00:00:00Z"});

    // Given a Google whose FreeBusy answers only after 20 s, and an invocation with 4 s left,
    stack
        .emulator_control("faults", json!({"endpoint": "freebusy", "kind": "timeout", "delay_ms": 20_000, "times": 5}))
        .await;
    let limit = Duration::from_secs(4);
    // when the app asks for availability, then the function answers within its 4 s (the
    // harness fails the invocation as killed otherwise) with a retryable 503 of its own.
    let started = std::time::Instant::now();
    let late = stack
        .api_within(ApiRequest::post("/availability").as_caller(TENANT, USER).json(week.clone()), Some(limit))
        .await;
    let took = started.elapsed();
    assert_eq!(late.status, 503, "{}", late.body);
    assert_eq!(late.json()["error"]["code"], "deadline_exceeded", "{}", late.body);
    assert_eq!(late.header("retry-after"), Some("2"));
    assert!(took < limit, "answered after {took:?}, past the deadline");
    let output = stack.function("get-availability").process.output();
    assert!(output.contains("request abandoned at its deadline"), "the abandonment is logged: {output}");

    // The function keeps serving: with Google back, the same request answers.
    let cleared = stack.http.delete(format!("{}/_emulator/faults", stack.emulator_url())).send().await.unwrap();
    assert!(cleared.status().is_success());
    let again = stack.api(ApiRequest::post("/availability").as_caller(TENANT, USER).json(week)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    stack.shutdown().await;
}
