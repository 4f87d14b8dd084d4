//! The `get-availability` Lambda function: wiring only; the handler is `calbridge::functions::get_availability`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    calbridge::functions::serve(calbridge::functions::get_availability::handle).await
}
