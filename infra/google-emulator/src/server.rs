//! The emulator on a port: its routes, served by [`emulator_kit::Server`] (hand-served
//! HTTP/1.1 connections, so the `drop` and `apply_then_drop` faults can close one without
//! answering through [`ConnectionControl`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use emulator_kit::Server;

pub(crate) use emulator_kit::ConnectionControl;

use crate::config::EmulatorConfig;
use crate::state::{Emulator, SharedEmulator};
use crate::{calendar, control, gmail, oauth};

/// An emulator serving on a local port until [`RunningEmulator::shutdown`] (or drop,
/// which stops it abruptly).
pub struct RunningEmulator {
    server: Server,
}

impl RunningEmulator {
    /// Binds `addr` and starts serving `config`'s seed in the background.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let emulator: SharedEmulator = Arc::new(Emulator::new(config));
        Ok(RunningEmulator { server: Server::start(router(emulator), addr, "google emulator").await? })
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

/// Every route the emulator serves.
fn router(emulator: SharedEmulator) -> Router {
    Router::new()
        .merge(oauth::routes())
        .merge(calendar::routes())
        .merge(gmail::routes())
        .merge(control::routes())
        .fallback(unknown_route)
        .with_state(emulator)
}

async fn unknown_route() -> Response {
    crate::google_errors::ApiError::new(StatusCode::NOT_FOUND, "notFound", "Not Found").into_response()
}
