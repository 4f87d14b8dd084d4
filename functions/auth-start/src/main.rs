//! The `auth-start` Lambda function: wiring only; the handler is `calbridge::handlers::auth_start`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::auth_start::handle).await
}
