//! The `get-availability` Lambda function: wiring only; the handler is `calbridge::handlers::get_availability`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::runtime::serve(calbridge::handlers::get_availability::handle).await
}
