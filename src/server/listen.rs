//! The accept loop: TLS, the connection limit, timeouts and a graceful stop.
//!
//! Written on hyper-util rather than `axum::serve` because `axum::serve` has no
//! TLS, no connection limit and no header-read timeout.

use super::metrics::Metrics;
use super::ServerError;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// Longest a client may take to send a request's headers (slow-loris).
    pub header_timeout: Duration,
    /// Longest to wait at shutdown for the requests under way.
    pub grace: Duration,
    /// Longest a response may wait for the client to read it before the connection is
    /// closed: a client that sends requests and never reads must not hold a connection.
    pub write_stall: Duration,
}

/// A TLS acceptor from a PEM certificate chain and private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServerError> {
    let pem = |path: &Path, e: tokio_rustls::rustls::pki_types::pem::Error| {
        ServerError::Tls(format!("{}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem(cert, e))?;
    if chain.is_empty() {
        return Err(ServerError::Tls(format!("{}: no certificate in the file", cert.display())));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(key).is_ok_and(|m| m.permissions().mode() & 0o007 != 0) {
            eprintln!(
                "eddy serve: warning: {}: the TLS private key is readable by others (chmod o-rwx)",
                key.display()
            );
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| ServerError::Tls(format!("{} and {}: {e}", cert.display(), key.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accept connections until `stop` resolves, then let the requests under way
/// finish (up to `limits.grace`).
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<arc_swap::ArcSwap<TlsAcceptor>>>,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(stop);
    let (mut failed_accepts, mut last_report) = (0u64, None::<std::time::Instant>);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept:
                    // wait a moment rather than spin, and say so once a second at most.
                    failed_accepts += 1;
                    if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        eprintln!("eddy serve: accept: {e} ({failed_accepts} failures)");
                        last_report = Some(std::time::Instant::now());
                        failed_accepts = 0;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics.refused();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = StallGuard::new(stream, limits.write_stall);
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        // The acceptor of the moment: SIGHUP may swap in a renewed certificate.
        let tls = tls.as_ref().map(|t| t.load_full());
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            metrics.connections(1);
            match tls {
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await;
                    if let Ok(Ok(stream)) = handshake {
                        serve_connection(stream, service, watcher, limits.header_timeout).await;
                    }
                }
                None => serve_connection(stream, service, watcher, limits.header_timeout).await,
            }
            metrics.connections(-1);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.grace) => {}
    }
}

async fn serve_connection<I>(io: I, service: TowerToHyperService<Router>, watcher: Watcher, header_timeout: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    // Errors here are the client's (a reset, a malformed request): nothing to do.
    let _ = watcher.watch(conn).await;
}

/// A stream whose writes fail once they have made no progress for `limit`.
///
/// hyper has timeouts for reading a request's headers, none for writing a response;
/// without this, a client that never reads keeps its connection (and a slot of
/// `--max-connections`) for good.
struct StallGuard<I> {
    inner: I,
    limit: Duration,
    /// Running while a write is waiting for the client.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<I> StallGuard<I> {
    fn new(inner: I, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }

    /// After the inner write returned `Pending`: `Ready(error)` once the stall has lasted too long.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let limit = self.limit;
        let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client has not read its response for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for StallGuard<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for StallGuard<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.check(cx).map(Err),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => self.check(cx).map(Err),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.check(cx).map(Err),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
