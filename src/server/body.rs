//! The request body, read up to [`super::MAX_BODY`]. A body announced larger by Content-Length
//! is refused with 413 before it is read. A body that grows past the limit without one
//! (chunked) is also answered 413 — after reading and discarding what the client is still
//! sending, bounded in bytes and time (the "lingering close" nginx does): a client that sends
//! its whole request before reading the answer then gets the 413 instead of a reset connection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;
use std::time::Duration;

/// At most this much of an over-limit body is read and discarded before the 413.
const DRAIN_BYTES: usize = 64 * 1024 * 1024;
/// For at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(5);

fn too_large() -> Response {
    super::handler::bad_request(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "request body is over {} MiB (the API server's own request limit is 3 MiB)",
            super::MAX_BODY / (1024 * 1024)
        ),
    )
}

/// The whole body, at most `MAX_BODY` bytes.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let mut stream = req.into_body().into_data_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                super::handler::bad_request(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {e}"),
                )
            })?;
            if buf.len() + chunk.len() > super::MAX_BODY {
                let mut drained = buf.len() + chunk.len();
                drop(buf);
                let _ = tokio::time::timeout(DRAIN_TIME, async {
                    while drained < DRAIN_BYTES {
                        match stream.next().await {
                            Some(Ok(c)) => drained += c.len(),
                            _ => break,
                        }
                    }
                })
                .await;
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Body(Bytes::from(buf)))
    }
}

/// Refuses a request whose Content-Length is over the limit before reading its body.
pub async fn refuse_announced_oversize(req: Request, next: axum::middleware::Next) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > super::MAX_BODY as u64) {
        return too_large();
    }
    next.run(req).await
}
