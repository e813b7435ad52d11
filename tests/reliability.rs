//! Reliability under faults and hostile input (issue 14): the webhook's answers past its limits,
//! registries that misbehave in every way a network can, shutdown and reload under fire, and
//! secrets that must never reach a log or a response. Real processes on loopback; every loop is
//! bounded.

mod common;

use common::webhook::{read_status, review, tls_stream, Webhook};
use std::io::Write;
use std::time::{Duration, Instant};

/// A body over the 3 MiB limit without Content-Length (chunked): 413, not a reset connection.
#[test]
fn chunked_body_over_the_limit_gets_413() {
    let w = Webhook::start(&["-p", "builtin"]);
    let mut tls = tls_stream(&w);
    write!(
        tls,
        "POST /validate HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        w.addr
    )
    .unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let started = Instant::now();
    let mut write_failed = false;
    for _ in 0..512 {
        // 32 MiB in 64 KiB chunks: far more than the socket buffers hold, so the server must
        // answer while the client is still sending.
        if write!(tls, "{:x}\r\n", chunk.len()).is_err()
            || tls.write_all(&chunk).is_err()
            || tls.write_all(b"\r\n").is_err()
        {
            write_failed = true;
            break;
        }
    }
    if !write_failed {
        let _ = tls.write_all(b"0\r\n\r\n");
        let _ = tls.flush();
    }
    let status = read_status(&mut tls);
    assert_eq!(status.ok(), Some(413), "chunked over-limit body (write failed early: {write_failed})");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The server keeps serving.
    let object = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "d"}});
    let (code, _) = w.review(&review("CREATE", Some(&object), None, false));
    assert_eq!(code, 200);
}
