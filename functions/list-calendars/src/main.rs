//! The `list-calendars` Lambda function: wiring only; the handler is `calbridge::functions::list_calendars`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::functions::serve(calbridge::functions::list_calendars::handle).await
}
