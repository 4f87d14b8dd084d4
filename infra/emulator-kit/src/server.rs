//! Listening, serving connections and shutting down, for any emulator's router.
//!
//! Contract: [`Server::start`] binds (port 0 allowed), serves the router on one host over
//! HTTP/1.1 and returns at once; [`Server::shutdown`] stops accepting, lets in-flight requests
//! finish for a short grace period and then cuts what is left. Connections are served by hand
//! instead of through `axum::serve` so that a handler can close its own connection without
//! answering ([`ConnectionControl`]), which is how `drop` and `apply_then_drop` faults make a
//! client see a lost response instead of an HTTP error.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

/// How long shutdown waits for in-flight requests (a `timeout` fault may be
/// stalling one for 30 s) before closing their connections anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A router serving on a local port until [`Server::shutdown`] (or drop, which stops it
/// abruptly).
pub struct Server {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and starts serving `router` in the background; `name` is for the log.
    pub async fn start(router: Router, addr: SocketAddr, name: &'static str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let serving = tokio::spawn(serve(listener, router, stopped));
        tracing::info!(%local_addr, "{name} listening");
        Ok(Server { local_addr, stop: Some(stop), serving: Some(serving) })
    }

    /// `http://IP:PORT`, no trailing slash: the base of every endpoint.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits (briefly) for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(serving) = self.serving.take() else {
            return;
        };
        if let Err(error) = serving.await {
            tracing::warn!(%error, "emulator server task ended abnormally");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
    }
}

async fn serve(listener: TcpListener, router: Router, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    serve_connection(stream, peer, router.clone(), &graceful, &mut connections);
                }
                Err(error) => {
                    // Typically EMFILE; backing off beats spinning on the error.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut stop => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::info!("closing connections still busy after the shutdown grace period");
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    graceful: &GracefulShutdown,
    connections: &mut JoinSet<()>,
) {
    let close_request = Arc::new(Notify::new());
    let control = ConnectionControl { close_request: Some(close_request.clone()) };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(control.clone());
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let connection = graceful.watch(connection);
    connections.spawn(async move {
        tokio::select! {
            result = connection => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
            }
            // Dropping the connection future closes the socket mid-request; the
            // handler that asked for it is dropped with it.
            () = close_request.notified() => {
                tracing::info!(%peer, "closed a connection without answering (fault)");
            }
        }
    });
}

/// Lets a handler close the connection it is answering on, without a response.
#[derive(Clone, Default)]
pub struct ConnectionControl {
    close_request: Option<Arc<Notify>>,
}

impl ConnectionControl {
    /// Closes the connection; the returned future never completes when that works.
    /// Outside a [`Server`] (no connection to close) it answers 500 instead.
    pub async fn close_without_response(&self) -> Response {
        match &self.close_request {
            Some(close_request) => {
                close_request.notify_one();
                std::future::pending::<Response>().await
            }
            None => (StatusCode::INTERNAL_SERVER_ERROR, "this fault needs the emulator's own connection handling")
                .into_response(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ConnectionControl {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ConnectionControl>().cloned().unwrap_or_default())
    }
}
