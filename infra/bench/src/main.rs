//! calbridge-bench: the measuring half of `infra/bench/run.sh`.
//!
//! - `coldstart <spec.json> <out.json>`: starts each target binary many times behind a Lambda
//!   Runtime API stub ([`runtime_stub`]) and records process start -> first `/next`, process
//!   start -> first completed invocation, and peak RSS; AWS calls go through a counting proxy.
//! - `warm <out.json>`: drives the local stack (`calbridge-dev` + `google-emulator`, DynamoDB
//!   and KMS on moto behind the counting proxy) with a fixed concurrent load per HTTP operation
//!   and records latency percentiles and calls to Google, KMS and DynamoDB per request,
//!   cache-cold (first request of a fresh process) and cache-warm.
//!
//! Everything it needs comes from the environment `run.sh` sets up (see `run.sh`). It is a
//! measuring tool, not a test: it fails loudly when something is off and never asserts targets.

mod coldstart;
mod runtime_stub;
mod stats;
mod warm;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["coldstart", spec, out] => coldstart::run(spec, out).await,
        ["warm", out] => warm::run(out).await,
        _ => {
            eprintln!("usage: calbridge-bench coldstart <spec.json> <out.json> | warm <out.json>");
            std::process::exit(2)
        }
    }
}
