//! Build metadata for `policyctl version`: the git commit of the checkout (when built from one)
//! and the versions of the crates that decide verdicts, read from Cargo.lock.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let commit = commit.unwrap_or_else(|| "unknown (not built from a git checkout)".to_string());
    println!("cargo:rustc-env=POLICYCTL_GIT_COMMIT={commit}");

    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("regorus", "POLICYCTL_REGORUS_VERSION"),
        ("sigstore", "POLICYCTL_SIGSTORE_VERSION"),
        ("oci-client", "POLICYCTL_OCI_CLIENT_VERSION"),
        ("cyclonedx-bom", "POLICYCTL_CYCLONEDX_VERSION"),
    ] {
        println!("cargo:rustc-env={var}={}", locked_version(&lock, krate));
    }
    println!("cargo:rerun-if-changed=Cargo.lock");
    // A new commit changes the branch's ref, not HEAD; watch both, and only when they exist
    // (a missing path would rerun this script on every build).
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            let path = format!(".git/{r}");
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}

/// The version Cargo.lock pins for `krate` (the first entry when several are locked).
fn locked_version(lock: &str, krate: &str) -> String {
    let needle = format!("name = \"{krate}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| {
            let rest = &lock[i + needle.len()..];
            rest.find('"').map(|j| rest[..j].to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}
