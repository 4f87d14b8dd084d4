//! The `disconnect` Lambda function: wiring only; the handler is `calbridge::functions::disconnect`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::functions::serve(calbridge::functions::disconnect::handle).await
}
