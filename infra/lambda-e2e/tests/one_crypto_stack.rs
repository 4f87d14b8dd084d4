//! Each function binary links one TLS crypto stack: rustls with ring.
//!
//! reqwest (Google, Zoom, through oauth2 too) and the AWS SDK each pick a rustls crypto
//! provider through features, and the SDK's default (`default-https-client`) is aws-lc-rs:
//! one feature flag in `Cargo.toml` brings a second stack back, a large C library in every
//! binary whose cross-compilation needs more than ring's. So the dependency graph is checked
//! the way `sam build` resolves it for one function (`cargo lambda build --bin <fn>` from the
//! function's folder: that package alone, normal dependencies only), for every function.
//! `shared/src/adapters/aws.rs` says how the SDK gets its ring client.

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
