//! The `zoom-emulator` binary: serves the emulator on `ZOOM_EMULATOR_LISTEN_ADDR`
//! (default `127.0.0.1:8789`) with the seed described by `ZOOM_EMULATOR_*` variables,
//! until Ctrl-C or SIGTERM.
//!
//! Contract: wiring only. Configuration problems are reported all at once and
//! exit with status 2; everything else lives in the library.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;
use zoom_emulator::{EmulatorConfig, RunningEmulator, listen_addr_from_env};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();

    let (config, listen_addr) = match (EmulatorConfig::from_env(), listen_addr_from_env()) {
        (Ok(config), Ok(addr)) => (config, addr),
        (config, addr) => {
            for error in [config.err(), addr.err()].into_iter().flatten() {
                eprintln!("zoom-emulator: {error}");
            }
            return ExitCode::from(2);
        }
    };
    let seed = config.clone();
    let emulator = match RunningEmulator::start(config, listen_addr).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("zoom-emulator: cannot listen on {listen_addr}: {error}");
            return ExitCode::FAILURE;
        }
    };

    let base = emulator.base_url();
    println!("zoom-emulator listening on {base}");
    println!("  authorize: {base}/oauth/authorize   token: {base}/oauth/token");
    println!("  api base:  {base}{}", seed.api_base_path);
    for client in &seed.clients {
        println!("  app:       {} / {} -> {}", client.client_id, client.client_secret, client.redirect_uris.join(", "));
        println!("             webhook secret token {}", client.webhook_secret_token);
    }
    for user in &seed.users {
        println!("  user:      {} (id {})", user.email, user.id.as_deref().unwrap_or("generated"));
    }

    wait_for_stop_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
