//! Each function binary links one TLS crypto stack (rustls with ring) and one HTTP client
//! (reqwest), and nothing only the local stack needs.
//!
//! reqwest (Google, Zoom, through oauth2 too) and the AWS SDK each pick a rustls crypto
//! provider through features, and the SDK's default (`default-https-client`) is aws-lc-rs:
//! one feature flag in `Cargo.toml` brings a second stack back, a large C library in every
//! binary whose cross-compilation needs more than ring's. So the dependency graph is checked
//! the way `sam build` resolves it for one function (`cargo lambda build --bin <fn>` from the
//! function's folder: that package alone, normal dependencies only), for every function.
//! `shared/src/adapters/aws.rs` says how the SDK gets its ring client.
//!
//! The same graphs must not hold what was taken out of the binaries to make them smaller
//! (BENCHMARKS.md, binary sizes): the SDK's own HTTP client with its HTTP/2 stack and system
//! trust store loader, the embedded store, and tracing-subscriber's regex-based env filter.

use std::collections::BTreeSet;
use std::process::Command;

use lambda_e2e::binaries::workspace_root;

/// The crypto stack every binary uses.
const THE_STACK: &str = "ring";

/// Crates that mean a second crypto or TLS stack in the binary.
const OTHER_STACKS: [&str; 6] = ["aws-lc-rs", "aws-lc-sys", "aws-lc-fips-sys", "openssl-sys", "native-tls", "s2n-tls"];

/// The function packages: every folder of `functions/` (package name = folder name).
fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("functions"))
        .expect("functions/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The names of every crate in `package`'s normal (non-dev, non-build) dependency graph.
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["tree", "--locked", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo tree -p {package} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Crates a function binary does without, and what brings each back.
const LEFT_OUT: [(&str, &str); 5] = [
    ("aws-smithy-http-client", "the SDK's default HTTP client (calbridge gives the SDK reqwest)"),
    ("h2", "an HTTP/2 client: reqwest's `http2` feature or the SDK's HTTP client"),
    (
        "rustls-native-certs",
        "a system trust store loader: the SDK's HTTP client or reqwest's `rustls-tls-native-roots`",
    ),
    ("redb", "the embedded store: calbridge's `embedded-store` feature, which only calbridge-dev turns on"),
    ("regex-automata", "tracing-subscriber's `env-filter`: lambda_runtime's `tracing` feature or the workspace entry"),
];

#[test]
fn every_function_links_ring_and_no_other_crypto_stack() {
    let functions = functions();
    assert!(functions.len() >= 7, "expected the seven function packages, found {functions:?}");
    for function in &functions {
        let crates = normal_dependencies(function);
        assert!(crates.contains("calbridge"), "{function}: `cargo tree` listed no calbridge, so it was misread");
        assert!(crates.contains(THE_STACK), "{function} does not link {THE_STACK}: which stack does its TLS use?");
        let others: Vec<&str> = OTHER_STACKS.into_iter().filter(|name| crates.contains(*name)).collect();
        assert!(
            others.is_empty(),
            "{function} links {others:?} beside {THE_STACK}; `cargo tree -p {function} -e features -i {}` says who \
             turns it on (the AWS SDK's `default-https-client`, reqwest's default or `native-tls` features?)",
            others[0]
        );
    }
}

#[test]
fn no_function_links_what_only_the_local_stack_or_the_sdk_default_client_needs() {
    for function in &functions() {
        let crates = normal_dependencies(function);
        assert!(crates.contains("reqwest"), "{function}: `cargo tree` listed no reqwest, so it was misread");
        for (name, brought_by) in LEFT_OUT {
            assert!(
                !crates.contains(name),
                "{function} links {name}, {brought_by}; `cargo tree -p {function} -e features -i {name}` says who"
            );
        }
    }
}
