//! The emulator on a port: its routes, served by [`emulator_kit::Server`] (hand-served
//! HTTP/1.1 connections, so the `drop` and `apply_then_drop` faults can close one without
//! answering through [`ConnectionControl`]). Every request
//! outside `/_emulator` is logged before it is routed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use emulator_kit::Server;

pub(crate) use emulator_kit::ConnectionControl;

use crate::config::EmulatorConfig;
use crate::state::{Emulator, SharedEmulator};
use crate::{api, control, oauth};

/// An emulator serving on a local port until [`RunningEmulator::shutdown`] (or drop,
/// which stops it abruptly).
pub struct RunningEmulator {
    server: Server,
}

impl RunningEmulator {
    /// Binds `addr` and starts serving `config`'s seed in the background.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let emulator: SharedEmulator = Arc::new(Emulator::new(config));
        Ok(RunningEmulator { server: Server::start(router(emulator), addr, "zoom emulator").await? })
    }

    /// `http://IP:PORT`, no trailing slash: the base of every endpoint.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops accepting connections and waits (briefly) for in-flight requests.
    pub async fn shutdown(self) {
        self.server.shutdown().await
    }
}

/// Every route the emulator serves. Requests outside `/_emulator` are logged
/// (method and path) before routing, so a test can assert that calbridge made no
/// Zoom call at all, including calls to paths Zoom does not have.
fn router(emulator: SharedEmulator) -> Router {
    let api_base = emulator.config.api_base_path.clone();
    Router::new()
        .merge(oauth::routes())
        .nest(&api_base, api::routes())
        .merge(api::start_url_routes())
        .merge(control::routes())
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn_with_state(emulator.clone(), log_call))
        .with_state(emulator)
}

async fn log_call(
    State(emulator): State<SharedEmulator>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/_emulator/") {
        emulator.store().log_call(request.method().as_str(), path);
    }
    next.run(request).await
}

async fn unknown_route() -> Response {
    crate::zoom_errors::ApiError::new(StatusCode::NOT_FOUND, 404, "Not Found").into_response()
}
