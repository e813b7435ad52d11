//! Registry access through oci-client: protocol per host (`--insecure-registry` for plain
//! HTTP), credentials from the user's Docker config (and credential helpers), and a request
//! counter so benchmarks and tests can see what a verification cost.

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Media types we accept for manifests.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Largest signature/attestation blob we read (cosign layers are small; SBOMs can be large).
const MAX_BLOB: usize = 32 * 1024 * 1024;

/// Why a registry call failed; `NotFound` is an answer, the others are faults.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Fault(String),
}

#[derive(Clone)]
pub struct Registry {
    client: Arc<Client>,
    requests: Arc<AtomicUsize>,
    errors: Arc<AtomicUsize>,
}

/// Registry settings shared by `check`, `verify-image` and `serve`.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `host[:port]` reached over plain HTTP.
    pub insecure: Vec<String>,
}

fn classify(e: oci_client::errors::OciDistributionError) -> RegistryError {
    use oci_client::errors::OciDistributionError as E;
    match &e {
        E::ImageManifestNotFoundError(_) => RegistryError::NotFound,
        E::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|x| {
                matches!(
                    x.code,
                    oci_client::errors::OciErrorCode::ManifestUnknown
                        | oci_client::errors::OciErrorCode::NameUnknown
                        | oci_client::errors::OciErrorCode::BlobUnknown
                )
            }) =>
        {
            RegistryError::NotFound
        }
        E::ServerError { code: 404, .. } => RegistryError::NotFound,
        _ => {
            // Keep the root cause (connection refused, TLS, timeout): it is the reason a user sees.
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg = format!("{msg}: {text}");
                }
                source = s.source();
            }
            RegistryError::Fault(msg)
        }
    }
}

impl Registry {
    pub fn new(opts: &RegistryOptions) -> Self {
        let config = ClientConfig {
            protocol: if opts.insecure.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(opts.insecure.clone())
            },
            ..Default::default()
        };
        Registry {
            client: Arc::new(Client::new(config)),
            requests: Arc::new(AtomicUsize::new(0)),
            errors: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Registry requests made so far (manifest, blob and referrer calls; token exchanges not
    /// counted).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Registry requests that failed with a fault (not "not found").
    pub fn errors(&self) -> usize {
        self.errors.load(Ordering::Relaxed)
    }

    fn track<T>(&self, r: Result<T, RegistryError>) -> Result<T, RegistryError> {
        if matches!(r, Err(RegistryError::Fault(_))) {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Credentials for `registry` from Docker's config.json / credential helpers, else anonymous.
    pub fn auth_for(registry: &str) -> RegistryAuth {
        let candidates = if registry == "docker.io" || registry == "index.docker.io" {
            vec![
                "https://index.docker.io/v1/".to_string(),
                "index.docker.io".into(),
                "docker.io".into(),
            ]
        } else {
            vec![registry.to_string()]
        };
        for server in candidates {
            match docker_credential::get_credential(&server) {
                Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
                    return RegistryAuth::Basic(u, p)
                }
                Ok(docker_credential::DockerCredential::IdentityToken(t)) => {
                    return RegistryAuth::Bearer(t)
                }
                Err(_) => continue,
            }
        }
        RegistryAuth::Anonymous
    }

    /// The digest a tag (or digest) reference points at.
    pub async fn resolve(&self, reference: &Reference) -> Result<String, RegistryError> {
        self.count();
        let auth = Self::auth_for(reference.resolve_registry());
        let r = self
            .client
            .fetch_manifest_digest(reference, &auth)
            .await
            .map_err(classify);
        self.track(r)
    }

    /// The manifest at `reference`, as JSON.
    pub async fn manifest(
        &self,
        reference: &Reference,
    ) -> Result<serde_json::Value, RegistryError> {
        self.count();
        let auth = Self::auth_for(reference.resolve_registry());
        let r = self
            .client
            .pull_manifest_raw(reference, &auth, MANIFEST_TYPES)
            .await
            .map_err(classify);
        let (bytes, _) = self.track(r)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::Fault(format!("manifest of {reference} is not JSON: {e}")))
    }

    /// The manifest at `reference` as the registry sent it (bytes, for digest checks).
    pub async fn manifest_bytes(&self, reference: &Reference) -> Result<Vec<u8>, RegistryError> {
        self.count();
        let auth = Self::auth_for(reference.resolve_registry());
        let r = self
            .client
            .pull_manifest_raw(reference, &auth, MANIFEST_TYPES)
            .await
            .map_err(classify);
        Ok(self.track(r)?.0.to_vec())
    }

    /// Pushes blobs (bytes with their digests), then a manifest at `reference`; returns the
    /// manifest's digest. Credentials as for pulls (Docker config, helpers).
    pub async fn push(
        &self,
        reference: &Reference,
        blobs: &[(Vec<u8>, String)],
        manifest: Vec<u8>,
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let auth = Self::auth_for(reference.resolve_registry());
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &auth)
            .await;
        for (bytes, digest) in blobs {
            self.count();
            let r = self
                .client
                .push_blob(reference, bytes.clone(), digest)
                .await
                .map(|_| ())
                .map_err(classify);
            self.track(r)?;
        }
        let digest = sha256(&manifest);
        let content_type = reqwest::header::HeaderValue::from_str(media_type)
            .map_err(|e| RegistryError::Fault(format!("bad media type {media_type}: {e}")))?;
        self.count();
        let r = self
            .client
            .push_manifest_raw(reference, manifest, content_type)
            .await
            .map(|_| ())
            .map_err(classify);
        self.track(r)?;
        Ok(digest)
    }

    /// A blob, checked against its descriptor's digest and size.
    pub async fn blob(
        &self,
        reference: &Reference,
        descriptor: &OciDescriptor,
    ) -> Result<Vec<u8>, RegistryError> {
        if descriptor.size < 0 || descriptor.size as usize > MAX_BLOB {
            return Err(RegistryError::Fault(format!(
                "blob {} is {} bytes, over the {MAX_BLOB} byte limit",
                descriptor.digest, descriptor.size
            )));
        }
        self.count();
        let mut out = Vec::with_capacity(descriptor.size as usize);
        let r = self
            .client
            .pull_blob(reference, descriptor, &mut out)
            .await
            .map_err(classify);
        self.track(r)?;
        let actual = format!("sha256:{:x}", Sha256::digest(&out));
        if actual != descriptor.digest {
            return Err(RegistryError::Fault(format!(
                "blob digest mismatch: expected {}, got {actual}",
                descriptor.digest
            )));
        }
        Ok(out)
    }

    /// Referrers of `reference` (a digest reference) of one artifact type; falls back to the
    /// `sha256-<hex>` tag index on registries without the referrers API.
    pub async fn referrers(
        &self,
        reference: &Reference,
        artifact_type: &str,
    ) -> Result<Vec<OciDescriptor>, RegistryError> {
        self.count();
        // pull_referrers takes no credentials: authenticate first.
        let auth = Self::auth_for(reference.resolve_registry());
        self.client
            .store_auth_if_needed(reference.resolve_registry(), &auth)
            .await;
        let r = self
            .client
            .pull_referrers(reference, Some(artifact_type))
            .await
            .map_err(classify);
        let index = self.track(r)?;
        Ok(index
            .manifests
            .into_iter()
            .filter(|m| m.artifact_type.as_deref() == Some(artifact_type))
            .map(|m| OciDescriptor {
                media_type: m.media_type,
                digest: m.digest,
                size: m.size,
                urls: None,
                annotations: m.annotations,
                artifact_type: m.artifact_type,
            })
            .collect())
    }

    /// The underlying client, for tests that push fixtures.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Descriptors of a manifest's layers.
pub fn layers(manifest: &serde_json::Value) -> Vec<OciDescriptor> {
    manifest
        .get("layers")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default()
}
