//! The `disconnect` Lambda function: wiring only; the handler is `calbridge::handlers::disconnect`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::disconnect::handle).await
}
