//! The public-good Sigstore root, refreshed through TUF when the user asks for it
//! (`--tuf-mirror`): the mirror's metadata is verified from a trusted TUF `root.json` (the one
//! Sigstore publishes, embedded, or `--tuf-root`), cached in `--tuf-cache`, and its
//! `trusted_root.json` target becomes the root keyless authorities without `trustRootRef` use.
//! Any failure falls back to the embedded snapshot, with a log line: verification never waits
//! on a mirror it cannot reach.

use super::keyless::TrustRoot;
use sigstore_trust_root::{SigstoreInstance, TrustedRoot, TufBootstrap, TufConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Where to refresh the public-good root from.
#[derive(Debug, Clone)]
pub struct TufSource {
    pub mirror: String,
    /// A trusted TUF `root.json`; `None` is Sigstore's production TUF root, embedded.
    pub root: Option<Vec<u8>>,
    pub cache: Option<PathBuf>,
}

/// Fetches and verifies `trusted_root.json` from the mirror.
pub async fn fetch(source: &TufSource) -> Result<TrustRoot, String> {
    let root = source
        .root
        .clone()
        .unwrap_or_else(|| SigstoreInstance::PublicGood.tuf_root().to_vec());
    let mut config = TufConfig::custom(source.mirror.clone(), TufBootstrap::trusted(root));
    config = match &source.cache {
        Some(dir) => config.with_cache_dir(dir.clone()),
        None => config.without_cache(),
    };
    let trusted = tokio::time::timeout(Duration::from_secs(10), TrustedRoot::from_tuf(config))
        .await
        .map_err(|_| format!("TUF mirror {} did not answer within 10 s", source.mirror))?
        .map_err(|e| format!("TUF refresh from {} failed: {e}", source.mirror))?;
    let json = serde_json::to_string(&trusted).map_err(|e| e.to_string())?;
    TrustRoot::from_trusted_root_json("sigstore-public-good (TUF)", &json)
}

/// The public-good root: refreshed from `source` when given and reachable, else the embedded
/// snapshot (logged).
pub async fn public_root(source: Option<&TufSource>) -> Result<TrustRoot, String> {
    if let Some(s) = source {
        match fetch(s).await {
            Ok(root) => {
                tracing::info!(mirror = %s.mirror, "public-good Sigstore root refreshed through TUF");
                return Ok(root);
            }
            Err(e) => tracing::warn!(
                error = %e,
                "using the public-good Sigstore root embedded in policyctl instead"
            ),
        }
    }
    TrustRoot::production()
}

/// TrustRoot `spec.repository`: an offline TUF repository (policy-controller's `mirrorFS`, a
/// gzipped tar of the repository: metadata files and a `targets/` directory, at its top or
/// under one directory), verified from the trusted initial `root.json` like a mirror; its
/// `trusted_root.json` target becomes the root.
pub fn from_repository(
    name: &str,
    root_json: &[u8],
    mirror_fs: &[u8],
) -> Result<TrustRoot, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot unpack: {e}"))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(mirror_fs));
    for entry in archive
        .entries()
        .map_err(|e| format!("mirrorFS is not a gzipped tar: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("mirrorFS is not a gzipped tar: {e}"))?;
        // unpack_in refuses paths that leave the directory.
        entry
            .unpack_in(dir.path())
            .map_err(|e| format!("cannot unpack mirrorFS: {e}"))?;
    }
    let base = locate_repository(dir.path()).ok_or(
        "mirrorFS holds no TUF repository (no timestamp.json at its top or one level down)",
    )?;
    let repo = sigstore_tuf::StoreRepository::new(sigstore_tuf::FileStore::new(base));
    let mut updater = sigstore_tuf::Updater::new(repo, root_json)
        .map_err(|e| format!("the initial root.json is not usable: {e}"))?;
    let now = jiff::Timestamp::now();
    let target = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(async {
            updater.refresh(now).await?;
            updater.get_target("trusted_root.json", now).await
        })
        .map_err(|e| format!("TUF verification of mirrorFS failed: {e}"))?;
    let text = String::from_utf8(target).map_err(|_| "trusted_root.json is not UTF-8")?;
    TrustRoot::from_trusted_root_json(name, &text)
}

fn locate_repository(dir: &std::path::Path) -> Option<PathBuf> {
    if dir.join("timestamp.json").exists() {
        return Some(dir.to_path_buf());
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("timestamp.json").exists())
}
