//! Helpers shared by the integration tests: run the built binary from the crate root, the way a
//! user does, and read its JSON output.
#![allow(dead_code)]

pub mod faults;
pub mod fulcio;
pub mod oci;
pub mod tuf;
pub mod webhook;

use assert_cmd::Command;
use serde_json::Value;

/// The built `policyctl` binary, run from the crate root so testdata paths are relative.
pub fn policyctl() -> Command {
    let mut cmd = Command::cargo_bin("policyctl").expect("binary is built by cargo test");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("POLICYCTL_LOG");
    cmd
}

/// `policyctl verify-image -o json --insecure-registry REGISTRY ARGS… IMAGE` with `env` set:
/// (exit code, the image's verdict or null, stderr).
pub fn verify_image(
    registry: &str,
    args: &[&str],
    image: &str,
    env: &[(&str, &str)],
) -> (i32, Value, String) {
    let mut cmd = policyctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args([
            "verify-image",
            "-o",
            "json",
            "--insecure-registry",
            registry,
        ])
        .args(args)
        .arg(image)
        .output()
        .expect("runs");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().expect("exit code"),
        v["images"][0].clone(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Runs `policyctl <args> -o json`; returns the exit code and the parsed report.
pub fn check_json(args: &[&str]) -> (i32, Value) {
    let out = policyctl()
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("runs");
    let code = out.status.code().expect("exit code");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// (severity, file, line, rule, message) of every finding, for compact assertions.
pub fn findings(report: &Value) -> Vec<(String, String, u64, String, String)> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or_default().to_string(),
                f["file"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or_default(),
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// (file, line, message) of every error.
pub fn errors(report: &Value) -> Vec<(String, u64, String)> {
    report["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().unwrap_or_default().to_string(),
                e["line"].as_u64().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
