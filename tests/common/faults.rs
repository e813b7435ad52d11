//! A fault-injecting HTTP proxy in front of the real loopback registry: requests pass through
//! to the registry, except that blob downloads (`/v2/…/blobs/sha256:…`) suffer the current
//! fault — a hang after the headers, a one-byte-a-second drip, a reset halfway through, a
//! 5xx/429 with Retry-After, altered bytes, or a redirect to another host. The fault can be
//! switched while the proxy runs; the proxy stops by itself after its lifetime.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    None,
    HangAfterHeaders,
    Drip,
    ResetMidBody,
    Status(u16, u64),
    AlterBytes,
    RedirectTo(String),
}

pub struct FaultProxy {
    pub addr: String,
    fault: Arc<Mutex<Fault>>,
    /// Blob requests seen (each one a fresh fetch: nothing was served from a cache).
    pub blob_requests: Arc<Mutex<usize>>,
}

impl FaultProxy {
    pub fn start(upstream: &str, lifetime: Duration) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        listener.set_nonblocking(true).unwrap();
        let fault = Arc::new(Mutex::new(Fault::None));
        let blob_requests = Arc::new(Mutex::new(0));
        let (f, b, up) = (fault.clone(), blob_requests.clone(), upstream.to_string());
        std::thread::spawn(move || {
            let end = Instant::now() + lifetime;
            while Instant::now() < end {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (f, b, up) = (f.clone(), b.clone(), up.clone());
                        std::thread::spawn(move || serve(conn, &up, &f, &b, end));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            addr,
            fault,
            blob_requests,
        }
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    pub fn blob_requests(&self) -> usize {
        *self.blob_requests.lock().unwrap()
    }
}

fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 || head.len() > 65536 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn serve(
    mut conn: TcpStream,
    upstream: &str,
    fault: &Mutex<Fault>,
    blobs: &Mutex<usize>,
    end: Instant,
) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let Some(head) = read_head(&mut conn) else {
        return;
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("").to_string();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    // Forward with Connection: close so the upstream answer ends with the connection.
    let mut forwarded = format!("{request_line}\r\n");
    for l in lines.filter(|l| !l.is_empty()) {
        let lower = l.to_ascii_lowercase();
        if !lower.starts_with("connection:") && !lower.starts_with("host:") {
            forwarded.push_str(l);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    let current = fault.lock().unwrap().clone();
    let is_blob = path.contains("/blobs/sha256:");
    if is_blob {
        *blobs.lock().unwrap() += 1;
    }
    if is_blob {
        match &current {
            Fault::Status(code, retry_after) => {
                let _ = write!(conn, "HTTP/1.1 {code} Fault\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            Fault::RedirectTo(host) => {
                let _ = write!(conn, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{host}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            _ => {}
        }
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    if up.write_all(forwarded.as_bytes()).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(answer.len());
    let (head, body) = answer.split_at(split);
    if !is_blob || body.is_empty() {
        let _ = conn.write_all(&answer);
        return;
    }
    match current {
        Fault::HangAfterHeaders => {
            let _ = conn.write_all(head);
            let _ = conn.flush();
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(100));
                let mut b = [0u8; 1];
                conn.set_read_timeout(Some(Duration::from_millis(1))).ok();
                if matches!(conn.read(&mut b), Ok(0)) {
                    return; // the client gave up
                }
            }
        }
        Fault::Drip => {
            let _ = conn.write_all(head);
            for b in body {
                if Instant::now() >= end || conn.write_all(&[*b]).is_err() {
                    return;
                }
                let _ = conn.flush();
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Fault::ResetMidBody => {
            let _ = conn.write_all(head);
            let _ = conn.write_all(&body[..body.len() / 2]);
            let _ = conn.flush();
            // SO_LINGER 0: close with a reset, as a dying load balancer does.
            let sock = socket2::SockRef::from(&conn);
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
        Fault::AlterBytes => {
            let mut altered = body.to_vec();
            altered[0] ^= 0x20;
            let _ = conn.write_all(head);
            let _ = conn.write_all(&altered);
        }
        _ => {
            let _ = conn.write_all(&answer);
        }
    }
}
