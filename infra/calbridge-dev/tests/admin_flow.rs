//! End-to-end: the service's admin view over HTTP through the local stack. The service lists
//! its tenant's connections page by page and offboards a user; a user gets 403 on both; another
//! tenant's service sees none of them.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::start;

fn users(page: &Value) -> Vec<String> {
    page["connections"].as_array().unwrap().iter().map(|c| c["user_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_service_lists_and_offboards_and_users_may_not() {
    let s = start().await;
    let (alice, bob) = (s.token("t1", "alice"), s.token("t1", "bob"));
    s.connect(&alice, "demo@example.com").await;
    s.connect(&bob, "demo@example.com").await;
    let service = s.service("t1");

    // The service pages through its tenant, one at a time.
    let first = s.api(Method::GET, "/connections?limit=1", &service, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(users(&first), ["alice"]);
    assert_eq!(first["connections"][0]["status"], "connected");
    assert_eq!(first["connections"][0]["email"], "demo@example.com");
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second: Value = s
        .api(Method::GET, &format!("/connections?limit=1&cursor={cursor}"), &service, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users(&second), ["bob"]);
    assert!(second.get("next_cursor").is_none());

    // Another tenant's service sees nothing of it, and cannot use its cursor.
    let other = s.service("t2");
    let theirs: Value = s.api(Method::GET, "/connections", &other, None).await.json().await.unwrap();
    assert!(users(&theirs).is_empty());
    let foreign = s.api(Method::GET, &format!("/connections?cursor={cursor}"), &other, None).await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);

    // Users may do neither.
    assert_eq!(s.api(Method::GET, "/connections", &alice, None).await.status(), StatusCode::FORBIDDEN);
    let path = "/users/bob/connections/google";
    assert_eq!(s.api(Method::DELETE, path, &alice, None).await.status(), StatusCode::FORBIDDEN);

    // The service offboards bob: erased, as a disconnect would.
    let offboarded = s.api(Method::DELETE, path, &service, None).await;
    assert_eq!(offboarded.status(), StatusCode::OK);
    let offboarded: Value = offboarded.json().await.unwrap();
    assert_eq!(offboarded["disconnected"], true);
    assert_eq!(s.status(&bob).await["status"], "not_connected");
    let after: Value = s.api(Method::GET, "/connections", &service, None).await.json().await.unwrap();
    assert_eq!(users(&after), ["alice"]);
    s.stack.shutdown().await;
}
