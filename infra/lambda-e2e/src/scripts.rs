//! The operator scripts under `infra/scripts/`, run for real: with the AWS CLI that
//! `infra/scripts/deploy-checks.sh` installs into `.venv` (`CALBRIDGE_VENV`), pointed at moto,
//! and nothing else from the caller's environment.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::aws::{self, moto_endpoint};
use crate::binaries::workspace_root;

/// The virtualenv's `bin` with the AWS CLI (`CALBRIDGE_VENV`, default `.venv`, as in moto.sh).
fn venv_bin() -> PathBuf {
    let venv = std::env::var("CALBRIDGE_VENV").unwrap_or_else(|_| ".venv".to_owned());
    let bin = workspace_root().join(venv).join("bin");
    assert!(
        bin.join("aws").is_file(),
        "no AWS CLI at {}: run infra/scripts/deploy-checks.sh (or infra/scripts/test.sh), which installs it",
        bin.join("aws").display()
    );
    bin
}

/// `infra/scripts/{name}` with a clean environment: the AWS CLI on `PATH`, moto's endpoint,
/// its region and test credentials, no stdin.
pub fn command(name: &str) -> Command {
    let path = format!("{}:{}", venv_bin().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(workspace_root().join("infra/scripts").join(name));
    command
        .env_clear()
        .env("PATH", path)
        .env("HOME", std::env::temp_dir())
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        // As a shell set up for the SDKs has it; the AWS CLI itself reads AWS_DEFAULT_REGION.
        .env("AWS_REGION", aws::REGION)
        .env("AWS_ACCESS_KEY_ID", aws::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", aws::SECRET_ACCESS_KEY)
        .stdin(Stdio::null());
    command
}
