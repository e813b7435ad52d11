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
    assert_eq!(
        status.ok(),
        Some(413),
        "chunked over-limit body (write failed early: {write_failed})"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The server keeps serving.
    let object = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "d"}});
    let (code, _) = w.review(&review("CREATE", Some(&object), None, false));
    assert_eq!(code, 200);
}

const MARKER: &str = "hunter2-d0-not-leak";
const TOKEN: &str = "tok-9f8e7d-d0-not-leak";

fn secret_object() -> serde_json::Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(MARKER);
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": b64}, "stringData": {"token": TOKEN}})
}

fn leaked(text: &str) -> bool {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(MARKER);
    text.contains(MARKER) || text.contains(&b64) || text.contains(TOKEN)
}

/// Policies that quote Secret values in their messages (by mistake, or by design of an attacker
/// who can write policies but not read Secrets), malformed reviews whose errors would quote the
/// values: the values never reach a response or a log line.
#[test]
fn a_secret_under_review_never_reaches_logs_or_responses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leaky.rego"),
        r#"package main

import rego.v1

deny contains msg if {
	some path, value
	walk(input, [path, value])
	path[count(path) - 1] in {"password", "token"}
	msg := sprintf("found %v = %v (decoded %v)", [path, value, base64.decode(value)])
}

warn contains msg if {
	some path, value
	walk(input, [path, value])
	path[count(path) - 1] == "token"
	msg := sprintf("token %v", [value])
}
"#,
    )
    .unwrap();
    let w = Webhook::start(&["-p", dir.path().to_str().unwrap()]);
    let secret = secret_object();
    let mut bodies = Vec::new();
    for (op, object, old) in [
        ("CREATE", Some(&secret), None),
        ("UPDATE", Some(&secret), Some(&secret)),
        ("DELETE", None, Some(&secret)),
    ] {
        let (code, body) = w.review(&review(op, object, old, false));
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["response"]["allowed"], false, "{body}");
        bodies.push(body.to_string());
    }
    // Malformed reviews carrying the values where a parser error would quote them.
    let mut bad = review("CREATE", Some(&secret), None, false);
    bad["request"]["dryRun"] = serde_json::json!(TOKEN);
    let (code, body) = w.post("/validate", &bad);
    assert_eq!(code, 400, "{body}");
    bodies.push(body.to_string());
    let mut bad = review("CREATE", Some(&secret), None, false);
    bad["request"]["operation"] = serde_json::json!(MARKER);
    let (code, body) = w.post("/validate", &bad);
    assert_eq!(code, 400, "{body}");
    bodies.push(body.to_string());
    let (code, body) = w.post("/mutate", &review("CREATE", Some(&secret), None, false));
    assert_eq!(code, 200);
    bodies.push(body.to_string());
    for b in &bodies {
        assert!(!leaked(b), "a response carries the Secret's value: {b}");
        assert!(
            b.contains("[redacted]") || b.contains("error") || b.contains("\"allowed\":true"),
            "{b}"
        );
    }
    let log = w.log();
    assert!(
        log.contains("policyctl::decision"),
        "decision lines are logged: {log}"
    );
    assert!(!leaked(&log), "the log carries the Secret's value:\n{log}");
}

/// Registry credentials (Docker config) never reach a log line or an answer, even at trace
/// level and when the registry refuses them.
#[test]
fn registry_credentials_never_reach_logs() {
    use common::oci::{b64, TestRegistry};
    let reg = TestRegistry::start_with_auth("alice", "s3cret-pw-d0-not-leak");
    let config = tempfile::tempdir().unwrap();
    let policy = tempfile::tempdir().unwrap();
    std::fs::write(
        policy.path().join("cip.yaml"),
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: any}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n",
    )
    .unwrap();
    for password in ["s3cret-pw-d0-not-leak", "wrong-pw-d0-not-leak"] {
        let basic = b64(format!("alice:{password}").as_bytes());
        std::fs::write(
            config.path().join("config.json"),
            serde_json::to_vec(&serde_json::json!({"auths": {reg.addr.clone(): {"auth": basic}}}))
                .unwrap(),
        )
        .unwrap();
        let out = common::policyctl()
            .env("DOCKER_CONFIG", config.path())
            .env("POLICYCTL_LOG", "trace")
            .args([
                "verify-image",
                "-o",
                "json",
                "--insecure-registry",
                &reg.addr,
                "-p",
            ])
            .arg(policy.path())
            .arg(reg.image("private/app", "1"))
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.len() > 100, "trace logs were written: {all}");
        assert!(
            !all.contains(password) && !all.contains(&basic),
            "credentials in the output:\n{all}"
        );
    }
}
