//! The `create-meet` Lambda function: wiring only; the handler is `calbridge::handlers::create_meet`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::create_meet::handle).await
}
