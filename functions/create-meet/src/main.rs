//! The `create-meet` Lambda function: wiring only; the handler is `calbridge::functions::create_meet`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::functions::serve(calbridge::functions::create_meet::handle).await
}
