//! The `auth-callback` Lambda function: wiring only; the handler is `calbridge::handlers::auth_callback`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::auth_callback::handle).await
}
