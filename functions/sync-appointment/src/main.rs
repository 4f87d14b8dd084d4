//! The `sync-appointment` Lambda function: wiring only. API Gateway requests go to
//! `calbridge::handlers::sync_appointment::handle`, EventBridge events to `handle_event`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve_http_and_events(
        calbridge::handlers::sync_appointment::handle,
        calbridge::handlers::sync_appointment::handle_event,
    )
    .await
}
