//! `calbridge-dev`: runs the local stack until Ctrl-C. See the crate docs and README.md.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    calbridge::runtime::init();
    let stack = match calbridge_dev::start(|name| std::env::var(name).ok()).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("calbridge-dev: {}", calbridge::http::ErrorChain(&e));
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = stack.seed_demo_calendars().await {
        eprintln!("calbridge-dev: {}", calbridge::http::ErrorChain(&e));
        return ExitCode::FAILURE;
    }
    let token =
        stack.token_for(calbridge_dev::integrations_page::DEMO_TENANT, calbridge_dev::integrations_page::DEMO_USER);
    let base = &stack.base_url;
    println!("calbridge local stack is up");
    println!();
    println!("  open {base}/   (the integrations page, as demo-user of demo-tenant)");
    println!();
    println!("  API              {base}");
    match &stack.emulator_url {
        Some(url) => {
            println!("  Google emulator  {url}  (accounts demo@example.com, alex@example.com)")
        }
        None => println!("  Google           the GOOGLE_* endpoints from the environment"),
    }
    match &stack.zoom_emulator_url {
        Some(url) => println!("  Zoom emulator    {url}  (accounts demo@example.com, alex@example.com)"),
        None => println!("  Zoom             the ZOOM_* endpoints from the environment"),
    }
    println!("  storage          {}", stack.storage);
    println!();
    println!("  demo bearer token (tenant demo-tenant, user demo-user, 12 h):");
    println!("  export TOKEN={token}");
    println!();
    println!("  curl -s -X POST {base}/connections/google/authorize -H \"authorization: Bearer $TOKEN\"");
    println!("  curl -s {base}/connections/google -H \"authorization: Bearer $TOKEN\"");
    println!("  curl -s -X POST {base}/connections/zoom/authorize -H \"authorization: Bearer $TOKEN\"");
    println!(
        "  curl -s -X POST {base}/_local/token -d '{{\"tenant_id\":\"t1\",\"user_id\":\"u1\"}}' -H 'content-type: application/json'"
    );
    println!();
    if tokio::signal::ctrl_c().await.is_err() {
        eprintln!("calbridge-dev: cannot listen for Ctrl-C; stopping");
    }
    stack.shutdown().await;
    ExitCode::SUCCESS
}
