//! Policy sets from elsewhere: OCI artifacts in conftest's media types, and OPA bundles
//! (`.tar.gz`, a local file or over HTTP(S)). Each `-p` location is resolved once to a digest,
//! fetched (or read from the on-disk cache, which is keyed by digest and checked against it on
//! every read), verified when a signer is configured, and handed to `policy::load` as files.
//! A set that cannot be fetched, read or verified is an error naming its location — never an
//! empty or partial policy set. This module owns fetching and verifying; it does not evaluate.

pub mod bundle;
pub mod cache;
pub mod oci;

use crate::supply::keyless::TrustRoot;
use crate::supply::policy::ImagePolicy;
use crate::supply::registry::RegistryOptions;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// conftest's config media type (`conftest push` before it switched to ORAS's unknown config).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.openpolicyagent.config.v1+json";
/// A Rego file, one per layer, its path in the `org.opencontainers.image.title` annotation.
pub const POLICY_LAYER: &str = "application/vnd.cncf.openpolicyagent.policy.layer.v1+rego";
/// A data file (JSON or YAML as written), one per layer, titled like policy layers.
pub const DATA_LAYER: &str = "application/vnd.cncf.openpolicyagent.data.layer.v1+json";
/// An OPA `.manifest`, as ORAS-era tools pushed it.
pub const MANIFEST_LAYER: &str = "application/vnd.cncf.openpolicyagent.manifest.layer.v1+json";
/// OPA's own OCI bundles: one layer holding the bundle's `.tar.gz`.
pub const BUNDLE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The OCI annotation holding a layer's file name.
pub const TITLE: &str = "org.opencontainers.image.title";

/// Where a `-p` value points, when it is not a local directory or file of policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `oci://REGISTRY/REPO[:TAG|@DIGEST]` (the prefix removed).
    Oci(String),
    /// `http(s)://…` — an OPA bundle served over HTTP.
    BundleUrl(String),
    /// A local OPA bundle archive (`*.tar.gz`, `*.tgz`).
    BundleFile(PathBuf),
}

impl Location {
    /// `None` for a plain local path (a directory or a policy file).
    pub fn parse(value: &str) -> Option<Location> {
        if let Some(r) = value.strip_prefix("oci://") {
            return Some(Location::Oci(r.to_string()));
        }
        if value.starts_with("https://") || value.starts_with("http://") {
            return Some(Location::BundleUrl(value.to_string()));
        }
        if value.ends_with(".tar.gz") || value.ends_with(".tgz") {
            return Some(Location::BundleFile(PathBuf::from(value)));
        }
        None
    }

    /// As the user wrote it.
    pub fn display(&self) -> String {
        match self {
            Location::Oci(r) => format!("oci://{r}"),
            Location::BundleUrl(u) => u.clone(),
            Location::BundleFile(p) => p.display().to_string(),
        }
    }
}

/// What a file of a fetched set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A `.rego` module.
    Policy,
    /// JSON/YAML: a policy document (Gatekeeper, ClusterImagePolicy) or data merged into `data`.
    Data,
    /// Kept only so `pull` writes the set out whole (an OPA bundle's `.manifest`, its data files
    /// — already placed in [`RemoteSet::data`] — and files OPA ignores).
    Raw,
}

/// One file of a fetched set, by its path inside the set (`/`-separated, relative).
#[derive(Debug, Clone)]
pub struct SetFile {
    pub path: String,
    pub bytes: Vec<u8>,
    pub role: Role,
}

/// A fetched, verified policy set.
#[derive(Debug, Clone)]
pub struct RemoteSet {
    /// The `-p` value.
    pub location: String,
    /// `sha256:…` of the OCI manifest, or of the bundle archive.
    pub digest: String,
    /// An OPA bundle's `.manifest` revision.
    pub revision: Option<String>,
    pub files: Vec<SetFile>,
    /// OPA bundle data, already placed at its directory's path: (file, value).
    pub data: Vec<(String, serde_json::Value)>,
    /// Who signed it, when a signer was required (`cosign key`, an identity, a bundle key).
    pub verified: Option<String>,
    /// Read from the cache because the source could not be reached (serve's last good copy).
    pub stale: Option<String>,
}

impl RemoteSet {
    /// `location@digest`, for summaries and decision logs.
    pub fn label(&self) -> String {
        match &self.revision {
            Some(rev) if !rev.is_empty() => {
                format!("{}@{} (revision {rev})", self.location, self.digest)
            }
            _ => format!("{}@{}", self.location, self.digest),
        }
    }

    /// The name findings and errors use for one of its files.
    pub fn file_name(&self, path: &str) -> String {
        format!("{}/{}", self.location.trim_end_matches('/'), path)
    }
}

/// Who must have signed a remote policy set.
#[derive(Debug, Clone)]
pub struct Trust {
    /// For OCI sets: the signer as an image policy (a key or a keyless identity), verified
    /// with the same verifier as images (cosign `.sig` tags and v3 bundles in referrers).
    pub image_policy: ImagePolicy,
    pub roots: Vec<TrustRoot>,
    /// For OPA bundles: the PEM public key `.signatures.json` must verify against (`None`
    /// when the signer is a keyless identity, which OPA bundles cannot carry).
    pub bundle_key: Option<String>,
    /// For messages and the cache's record of what was verified.
    pub description: String,
}

/// How remote sets are fetched.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub registry: RegistryOptions,
    /// The on-disk cache (`None`: no cache).
    pub cache: Option<PathBuf>,
    pub trust: Option<Arc<Trust>>,
    /// The public-good Sigstore root (refreshed through TUF) for keyless signers.
    pub public_root: Option<Arc<TrustRoot>>,
    /// When the source cannot be reached, use the last copy this cache fetched for the same
    /// location (`serve`: keep running on the last good set). `check` and `test` never do:
    /// a CI gate must not pass on a set it could not confirm is current.
    pub offline_fallback: bool,
    /// Deadline for one set (resolve, signature, files).
    pub timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            registry: RegistryOptions::default(),
            cache: cache::default_dir(),
            trust: None,
            public_root: None,
            offline_fallback: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Fetches (and verifies) one remote set.
pub async fn fetch(location: &Location, opts: &FetchOptions) -> Result<RemoteSet, String> {
    let work = async {
        match location {
            Location::Oci(r) => oci::fetch(r, &location.display(), opts).await,
            Location::BundleUrl(u) => bundle::fetch_url(u, opts).await,
            Location::BundleFile(p) => bundle::fetch_file(p, opts),
        }
    };
    match tokio::time::timeout(opts.timeout, work).await {
        Ok(r) => r.map_err(|e| format!("{}: {e}", location.display())),
        Err(_) => Err(format!(
            "{}: not fetched within {}s",
            location.display(),
            opts.timeout.as_secs()
        )),
    }
}

/// Splits `-p` values into local paths and remote locations, fetching the remote ones on a
/// runtime of its own (for the synchronous verbs). Errors name the location; every location is
/// tried so one run reports all of them.
pub fn fetch_all_blocking(
    values: &[String],
    opts: &FetchOptions,
) -> (Vec<String>, Vec<RemoteSet>, Vec<crate::finding::ToolError>) {
    let (local, remote) = split(values);
    if remote.is_empty() {
        return (local, Vec::new(), Vec::new());
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return (
                local,
                Vec::new(),
                vec![crate::finding::ToolError::new(
                    "",
                    0,
                    format!("cannot start a runtime to fetch policies: {e}"),
                )],
            )
        }
    };
    let (sets, errors) = runtime.block_on(fetch_all(&remote, opts));
    (local, sets, errors)
}

/// Fetches every remote location (concurrently).
pub async fn fetch_all(
    remote: &[Location],
    opts: &FetchOptions,
) -> (Vec<RemoteSet>, Vec<crate::finding::ToolError>) {
    let results = futures::future::join_all(remote.iter().map(|l| fetch(l, opts))).await;
    let mut sets = Vec::new();
    let mut errors = Vec::new();
    for (r, l) in results.into_iter().zip(remote) {
        match r {
            Ok(s) => sets.push(s),
            Err(e) => errors.push(crate::finding::ToolError::new(
                l.display(),
                0,
                e.strip_prefix(&format!("{}: ", l.display()))
                    .unwrap_or(&e)
                    .to_string(),
            )),
        }
    }
    (sets, errors)
}

/// `-p` values that are local paths, and the remote locations among them.
pub fn split(values: &[String]) -> (Vec<String>, Vec<Location>) {
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for v in values {
        match Location::parse(v) {
            Some(l) => remote.push(l),
            None => local.push(v.clone()),
        }
    }
    (local, remote)
}

/// A relative path from an archive or an annotation, refused when it could escape the directory
/// it is written into (`..`, absolute, empty segments) — a pulled set must not write elsewhere.
pub fn safe_relative_path(path: &str) -> Result<String, String> {
    let trimmed = path.trim_start_matches("./");
    if trimmed.is_empty()
        || trimmed.starts_with('/')
        || trimmed.contains('\\')
        || trimmed.contains('\0')
        || trimmed
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(format!(
            "file name {path:?} is not a plain relative path (refused: it could write outside the target directory)"
        ));
    }
    Ok(trimmed.to_string())
}

/// The role of a file by its name, for sets whose format does not say.
pub fn role_of(path: &str) -> Option<Role> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".rego") {
        Some(Role::Policy)
    } else if lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(Role::Data)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("oci://ghcr.io/acme/policies:v1"),
            Some(Location::Oci("ghcr.io/acme/policies:v1".into()))
        );
        assert!(matches!(
            Location::parse("https://example.test/b.tar.gz"),
            Some(Location::BundleUrl(_))
        ));
        assert!(matches!(
            Location::parse("dist/bundle.tar.gz"),
            Some(Location::BundleFile(_))
        ));
        assert_eq!(Location::parse("policy/"), None);
        assert_eq!(Location::parse("builtin"), None);
    }

    #[test]
    fn relative_paths_cannot_escape() {
        assert_eq!(safe_relative_path("a/b.rego").unwrap(), "a/b.rego");
        assert_eq!(safe_relative_path("./a.rego").unwrap(), "a.rego");
        for bad in [
            "../x.rego",
            "/etc/passwd",
            "a/../../x",
            "a//b",
            "",
            "a\\..\\b",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
    }
}
