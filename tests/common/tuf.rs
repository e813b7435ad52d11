//! A TUF repository for tests: root, targets, snapshot and timestamp metadata signed with one
//! ECDSA P-256 key (canonical JSON, as the TUF spec defines it), serving one target
//! (`trusted_root.json`) over plain HTTP on loopback from a thread that stops by itself.
#![allow(dead_code)]

use super::oci::Key;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// OLPC canonical JSON, as TUF signs it: keys sorted, no whitespace, and in strings only `\`
/// and `"` escaped (a PEM key's newlines stay raw). The metadata holds only strings, integers
/// and booleans.
pub fn canonical(v: &Value) -> String {
    let string = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    match v {
        Value::String(s) => string(s),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let body: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", string(k), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct TufRepo {
    pub dir: tempfile::TempDir,
    /// The trusted `root.json` a client bootstraps from.
    pub root_json: PathBuf,
}

impl TufRepo {
    /// A repository whose `trusted_root.json` target is `target`.
    pub fn new(target: &[u8]) -> TufRepo {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::generate();
        let public = json!({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": key.public_pem}});
        let keyid = hex(&Sha256::digest(canonical(&public).as_bytes()));
        let expires = "2099-01-01T00:00:00Z";
        let sign = |signed: Value| -> Vec<u8> {
            let sig = key.sign(canonical(&signed).as_bytes());
            serde_json::to_vec(
                &json!({"signed": signed, "signatures": [{"keyid": keyid, "sig": hex(&sig)}]}),
            )
            .unwrap()
        };
        let role = json!({"keyids": [keyid], "threshold": 1});
        let root = sign(
            json!({"_type": "root", "spec_version": "1.0", "version": 1, "expires": expires,
            "consistent_snapshot": false, "keys": {keyid.clone(): public},
            "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role}}),
        );
        let targets = sign(
            json!({"_type": "targets", "spec_version": "1.0", "version": 1, "expires": expires,
            "targets": {"trusted_root.json": {"length": target.len(), "hashes": {"sha256": hex(&Sha256::digest(target))}}}}),
        );
        let snapshot = sign(
            json!({"_type": "snapshot", "spec_version": "1.0", "version": 1, "expires": expires,
            "meta": {"targets.json": {"version": 1}}}),
        );
        let timestamp = sign(
            json!({"_type": "timestamp", "spec_version": "1.0", "version": 1, "expires": expires,
            "meta": {"snapshot.json": {"version": 1}}}),
        );
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join("repo").join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        };
        write("1.root.json", &root);
        write("targets.json", &targets);
        write("snapshot.json", &snapshot);
        write("timestamp.json", &timestamp);
        write("targets/trusted_root.json", target);
        let root_json = dir.path().join("root.json");
        std::fs::write(&root_json, &root).unwrap();
        TufRepo { dir, root_json }
    }

    /// Serves the repository over HTTP on a free loopback port until `lifetime` passes;
    /// returns its base URL.
    pub fn serve(&self, lifetime: Duration) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let root: PathBuf = self.dir.path().join("repo");
        std::thread::spawn(move || serve_files(listener, &root, lifetime));
        format!("http://{addr}")
    }
}

fn serve_files(listener: std::net::TcpListener, root: &Path, lifetime: Duration) {
    let deadline = Instant::now() + lifetime;
    while Instant::now() < deadline {
        let Ok((mut stream, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).unwrap_or(0);
        let request = String::from_utf8_lossy(&buf[..n]);
        let path = request
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/")
            .trim_start_matches('/')
            .to_string();
        let file = root.join(&path);
        let response = match (path.contains(".."), std::fs::read(&file)) {
            (false, Ok(body)) => {
                let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
                r.extend(body);
                r
            }
            _ => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
        };
        let _ = stream.write_all(&response);
    }
}
