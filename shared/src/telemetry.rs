//! Logging setup shared by every binary: JSON lines in Lambda (CloudWatch), readable text on
//! stderr locally. The level comes from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`), default
//! `info`. Nothing calbridge logs carries a token, code, verifier, state, ticket or cookie.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|l| l.to_lowercase()))
        .and_then(|raw| EnvFilter::try_new(raw).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // CloudWatch adds its own timestamp; JSON lines are queryable with Logs Insights.
        builder.json().with_current_span(false).without_time().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
