//! The `auth-start` Lambda function: wiring only; the handler is `calbridge::functions::auth_start`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::functions::serve(calbridge::functions::auth_start::handle).await
}
