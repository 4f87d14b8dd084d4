//! The `list-calendars` Lambda function: wiring only; the handler is `calbridge::handlers::list_calendars`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::list_calendars::handle).await
}
