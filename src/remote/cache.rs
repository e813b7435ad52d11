//! The on-disk cache of remote policy sets: content-addressed blobs (`blobs/sha256/<hex>`, checked
//! against their digest on every read, so a corrupted or edited entry is a miss, never a policy),
//! the last digest each location resolved to (`refs/`, for `serve`'s last good copy), and which
//! digests were verified for which signer (`verified/`).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// `$POLICYCTL_CACHE_DIR`, else `$XDG_CACHE_HOME/policyctl`, else `~/.cache/policyctl`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("POLICYCTL_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("policyctl"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("policyctl"))
}

/// `sha256:<hex>` of bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn hex_of(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

fn key_of(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A blob by digest, if cached and intact.
pub fn blob(dir: Option<&Path>, digest: &str) -> Option<Vec<u8>> {
    let path = dir?.join("blobs/sha256").join(hex_of(digest)?);
    let bytes = std::fs::read(path).ok()?;
    (self::digest(&bytes) == digest).then_some(bytes)
}

/// Stores a blob whose digest was checked. Best effort: a cache that cannot be written only
/// costs a download next time.
pub fn put_blob(dir: Option<&Path>, digest: &str, bytes: &[u8]) {
    let (Some(dir), Some(hex)) = (dir, hex_of(digest)) else {
        return;
    };
    write_atomic(&dir.join("blobs/sha256"), hex, bytes);
}

/// The digest `location` last resolved to, and when.
pub fn last_digest(dir: Option<&Path>, location: &str) -> Option<String> {
    let path = dir?.join("refs").join(key_of(location));
    let text = std::fs::read_to_string(path).ok()?;
    let (loc, digest) = text.trim_end().split_once('\n')?;
    (loc == location && hex_of(digest).is_some()).then(|| digest.to_string())
}

pub fn put_last_digest(dir: Option<&Path>, location: &str, digest: &str) {
    let Some(dir) = dir else { return };
    write_atomic(
        &dir.join("refs"),
        &key_of(location),
        format!("{location}\n{digest}\n").as_bytes(),
    );
}

/// Whether `digest` was verified for the signer `trust` describes.
pub fn was_verified(dir: Option<&Path>, digest: &str, trust: &str) -> bool {
    let (Some(dir), Some(hex)) = (dir, hex_of(digest)) else {
        return false;
    };
    dir.join("verified")
        .join(format!("{hex}-{}", key_of(trust)))
        .is_file()
}

pub fn put_verified(dir: Option<&Path>, digest: &str, trust: &str) {
    let (Some(dir), Some(hex)) = (dir, hex_of(digest)) else {
        return;
    };
    write_atomic(
        &dir.join("verified"),
        &format!("{hex}-{}", key_of(trust)),
        trust.as_bytes(),
    );
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    use std::io::Write;
    if tmp.write_all(bytes).is_ok() {
        let _ = tmp.persist(dir.join(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = digest(b"package main\n");
        put_blob(Some(dir.path()), &d, b"package main\n");
        assert_eq!(blob(Some(dir.path()), &d).unwrap(), b"package main\n");
        let hex = d.strip_prefix("sha256:").unwrap();
        std::fs::write(dir.path().join("blobs/sha256").join(hex), b"package evil\n").unwrap();
        assert!(
            blob(Some(dir.path()), &d).is_none(),
            "an edited entry is a miss"
        );
        assert!(blob(Some(dir.path()), "sha256:../../etc/passwd").is_none());
    }

    #[test]
    fn last_digest_and_verification_records() {
        let dir = tempfile::tempdir().unwrap();
        let d = digest(b"x");
        assert!(last_digest(Some(dir.path()), "oci://r/p:v1").is_none());
        put_last_digest(Some(dir.path()), "oci://r/p:v1", &d);
        assert_eq!(last_digest(Some(dir.path()), "oci://r/p:v1").unwrap(), d);
        assert!(!was_verified(Some(dir.path()), &d, "key A"));
        put_verified(Some(dir.path()), &d, "key A");
        assert!(was_verified(Some(dir.path()), &d, "key A"));
        assert!(!was_verified(Some(dir.path()), &d, "key B"));
    }
}
