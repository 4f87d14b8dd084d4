//! The function binaries, built by cargo for this machine from their own workspace packages.
//!
//! `env!("CARGO_BIN_EXE_<name>")` only exists for binaries of the package under test, and the
//! functions are packages of their own, so the tests run `cargo build --workspace --bins
//! --tests` once per test process, with the cargo and target directory of the test run, and
//! take each binary's path from cargo's own JSON messages rather than guessing the target
//! directory's layout. `--tests` is there for feature unification: it makes cargo resolve
//! features exactly as `cargo test --workspace` does (dev-dependencies included), so the
//! dependencies the test run compiled are reused and only the function binaries are linked.
//! `LAMBDA_E2E_BIN_DIR` points at prebuilt binaries instead (one file per package name):
//! `infra/scripts/test.sh` sets it to the binaries its `cargo build --workspace --all-targets`
//! just linked, so the test run does not build them a second time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

/// The workspace root (this crate lives in `infra/lambda-e2e`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root exists")
}

/// The path of the binary of each package in `packages`, building them if needed.
pub fn function_binaries(packages: &[&str]) -> Result<HashMap<String, PathBuf>, BuildError> {
    if let Some(dir) = std::env::var_os("LAMBDA_E2E_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return packages
            .iter()
            .map(|p| {
                let path = dir.join(p);
                if path.is_file() {
                    Ok(((*p).to_owned(), path))
                } else {
                    Err(BuildError(format!("LAMBDA_E2E_BIN_DIR has no {}", path.display())))
                }
            })
            .collect();
    }
    static BUILT: OnceLock<Result<HashMap<String, PathBuf>, BuildError>> = OnceLock::new();
    let built = BUILT.get_or_init(build_workspace_binaries).clone()?;
    packages
        .iter()
        .map(|p| {
            built.get(*p).map(|path| ((*p).to_owned(), path.clone())).ok_or_else(|| {
                BuildError(format!("cargo built no binary named {p} (is functions/{p} a workspace member?)"))
            })
        })
        .collect()
}

fn build_workspace_binaries() -> Result<HashMap<String, PathBuf>, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["build", "--workspace", "--bins", "--tests", "--message-format=json-render-diagnostics"])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| BuildError(format!("cannot run {}: {e}", cargo.to_string_lossy())))?;
    if !output.status.success() {
        return Err(BuildError(format!("cargo build --workspace --bins --tests failed ({})", output.status)));
    }
    let mut binaries = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        // `--tests` also builds each binary's unit-test harness: a "bin" target too, but a test.
        let is_bin = message["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"))
            && message["profile"]["test"] == false;
        if let (true, Some(name), Some(executable)) =
            (is_bin, message["target"]["name"].as_str(), message["executable"].as_str())
        {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    Ok(binaries)
}
