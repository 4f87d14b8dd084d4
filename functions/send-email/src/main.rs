//! The `send-email` Lambda function: wiring only; the handler is `calbridge::handlers::send_email`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::send_email::handle).await
}
