//! Bounds on what the webhook takes on at once, each with a clear answer past it: requests in
//! flight (`--max-requests`) and open connections (`--max-connections`). Past either bound a
//! request is answered 503 with `Retry-After: 1` and a reason (and, for connections, `Connection:
//! close`, shedding that connection) instead of queueing without limit. Health, readiness and
//! metrics are never shed.

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn shed(reason: String, close: bool) -> Response {
    tracing::warn!(%reason, "request shed");
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({ "error": reason })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    if close {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Admits a review request, or sheds it with 503.
pub async fn admit(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let connections = state.connections.load(Ordering::SeqCst);
    if connections > state.opts.max_connections {
        state.metrics.shed.inc();
        return shed(
            format!(
                "policyctl has {connections} connections open, over its limit of {} (--max-connections); this connection is closed, retry on another",
                state.opts.max_connections
            ),
            true,
        );
    }
    let n = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&state.in_flight);
    if n > state.opts.max_requests {
        state.metrics.shed.inc();
        return shed(
            format!(
                "policyctl is answering {} requests, its limit (--max-requests); retry",
                state.opts.max_requests
            ),
            false,
        );
    }
    next.run(req).await
}

/// Counts open connections (after the TCP accept, around the TLS stream).
#[derive(Clone)]
pub struct Counting<A> {
    pub inner: A,
    pub live: Arc<AtomicUsize>,
}

impl<I, S, A> axum_server::accept::Accept<I, S> for Counting<A>
where
    A: axum_server::accept::Accept<I, S> + Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Counted<A::Stream>;
    type Service = A::Service;
    type Future = Pin<
        Box<dyn std::future::Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>,
    >;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let live = self.live.clone();
        live.fetch_add(1, Ordering::SeqCst);
        let counted = CountGuard(live);
        let fut = self.inner.accept(stream, service);
        Box::pin(async move {
            let (inner, service) = fut.await?;
            Ok((
                Counted {
                    inner,
                    _count: counted,
                },
                service,
            ))
        })
    }
}

/// Decrements the connection count when the connection (or its failed handshake) is dropped.
pub struct CountGuard(Arc<AtomicUsize>);

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that holds its connection's place in the count.
pub struct Counted<S> {
    inner: S,
    _count: CountGuard,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
