//! The `auth-callback` Lambda function: wiring only; the handler is `calbridge::functions::auth_callback`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::functions::serve(calbridge::functions::auth_callback::handle).await
}
