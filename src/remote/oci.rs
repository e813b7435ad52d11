//! Policy sets as OCI artifacts, in conftest's format: config
//! `application/vnd.cncf.openpolicyagent.config.v1+json`, one layer per file —
//! `…policy.layer.v1+rego` for Rego, `…data.layer.v1+json` for data and policy documents — named
//! by the `org.opencontainers.image.title` annotation. `conftest pull` reads what `push` writes,
//! and `fetch` reads what `conftest push` writes (also OPA's OCI bundles: one `tar+gzip` layer).

use super::{cache, safe_relative_path, FetchOptions, RemoteSet, Role, SetFile};
use crate::supply::registry::{Registry, RegistryError, RegistryOptions};
use crate::supply::verify::{Verdict, Verifier, VerifierOptions};
use oci_client::manifest::OciDescriptor;
use oci_client::Reference;
use serde_json::{json, Value as Json};
use std::path::Path;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Config media types of policy artifacts: conftest's (old and current, ORAS's "unknown"), OPA's
/// bundles (an image config), and the OCI empty descriptor.
const CONFIG_TYPES: &[&str] = &[
    super::CONFIG_MEDIA_TYPE,
    "application/vnd.unknown.config.v1+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.oci.empty.v1+json",
];

fn parse_reference(reference: &str) -> Result<Reference, String> {
    reference
        .parse::<Reference>()
        .map_err(|e| format!("not a valid OCI reference ({e}); expected oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]"))
}

/// A registry fault in words: content that does not match its digest is tampering or
/// corruption, not an unreachable registry.
fn fault(what: &str, f: &str) -> String {
    if let Some(i) = f.find("Expected sha256:") {
        let detail = f[i..].split(": Invalid digest").next().unwrap_or(&f[i..]);
        return format!(
            "{what} is corrupt or tampered: the registry sent content that does not match its digest ({})",
            detail.replacen("Expected", "expected", 1)
        );
    }
    format!("registry unreachable: {f}")
}

fn at_digest(reference: &Reference, digest: &str) -> Reference {
    Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        digest.to_string(),
    )
}

/// Resolves, verifies and reads one policy set.
pub async fn fetch(
    reference: &str,
    display: &str,
    opts: &FetchOptions,
) -> Result<RemoteSet, String> {
    let reference = parse_reference(reference)?;
    let registry = Registry::new(&opts.registry);
    let dir = opts.cache.as_deref();
    let mut stale = None;
    let digest = match reference.digest() {
        Some(d) => d.to_string(),
        None => match registry.resolve(&reference).await {
            Ok(d) => d,
            Err(RegistryError::NotFound) => {
                return Err(format!(
                    "not found: the registry has no tag {:?} in {}/{}",
                    reference.tag().unwrap_or("latest"),
                    reference.registry(),
                    reference.repository()
                ))
            }
            Err(RegistryError::Fault(e)) => {
                match cache::last_digest(dir, display).filter(|_| opts.offline_fallback) {
                    Some(d) => {
                        stale = Some(format!(
                            "registry unreachable ({e}); serving the last copy fetched"
                        ));
                        d
                    }
                    None => return Err(format!("registry unreachable: {e}")),
                }
            }
        },
    };
    let pinned = at_digest(&reference, &digest);
    let manifest_bytes = match cache::blob(dir, &digest) {
        Some(b) => b,
        None => {
            let bytes = registry
                .manifest_bytes(&pinned)
                .await
                .map_err(|e| match e {
                    RegistryError::NotFound => format!(
                        "not found: no manifest {digest} in {}/{}",
                        reference.registry(),
                        reference.repository()
                    ),
                    RegistryError::Fault(f) => fault(&format!("manifest {digest}"), &f),
                })?;
            let actual = cache::digest(&bytes);
            if actual != digest {
                return Err(format!(
                    "the registry answered {digest} with a manifest whose digest is {actual}: refused (tampered or corrupt)"
                ));
            }
            cache::put_blob(dir, &digest, &bytes);
            bytes
        }
    };
    let verified = match &opts.trust {
        None => None,
        Some(trust) if stale.is_some() => {
            if !cache::was_verified(dir, &digest, &trust.description) {
                return Err(format!(
                    "registry unreachable and the cached copy {digest} was never verified for {}",
                    trust.description
                ));
            }
            Some(trust.description.clone())
        }
        Some(trust) => {
            let verifier = Verifier::with_trust_roots(
                registry.clone(),
                vec![trust.image_policy.clone()],
                trust.roots.clone(),
                &VerifierOptions {
                    deadline: opts.timeout,
                    public_root: opts.public_root.clone(),
                    ..Default::default()
                },
            );
            let image = format!(
                "{}/{}@{digest}",
                reference.registry(),
                reference.repository()
            );
            let verdict = verifier.verify(&image).await;
            if verdict.verdict != Verdict::Allow {
                let reasons: Vec<String> = verdict
                    .policies
                    .iter()
                    .flat_map(|p| p.reasons.iter().cloned())
                    .collect();
                return Err(format!(
                    "policy set {digest} is not signed by {}: {}",
                    trust.description,
                    if reasons.is_empty() {
                        "no valid signature".to_string()
                    } else {
                        reasons.join("; ")
                    }
                ));
            }
            cache::put_verified(dir, &digest, &trust.description);
            Some(trust.description.clone())
        }
    };
    let manifest: Json = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| format!("manifest {digest} is not JSON: {e}"))?;
    let media_type = manifest
        .get("mediaType")
        .and_then(Json::as_str)
        .unwrap_or(OCI_MANIFEST);
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        return Err(format!(
            "{digest} is a {media_type}, not a policy set (an image manifest with policy layers)"
        ));
    }
    let config_type = manifest
        .pointer("/config/mediaType")
        .and_then(Json::as_str)
        .unwrap_or("");
    if !CONFIG_TYPES.contains(&config_type) {
        return Err(format!(
            "{digest} is not a policy set: its config media type is {config_type:?} (a container image?); expected conftest's {}",
            super::CONFIG_MEDIA_TYPE
        ));
    }
    let layers: Vec<OciDescriptor> = serde_json::from_value(
        manifest
            .get("layers")
            .cloned()
            .unwrap_or(Json::Array(Vec::new())),
    )
    .map_err(|e| format!("manifest {digest} has malformed layers: {e}"))?;
    if layers.is_empty() {
        return Err(format!(
            "policy set {digest} has no layers (nothing to enforce)"
        ));
    }
    let mut set = RemoteSet {
        location: display.to_string(),
        digest: digest.clone(),
        revision: None,
        files: Vec::new(),
        data: Vec::new(),
        verified,
        stale,
    };
    for layer in &layers {
        let bytes = match cache::blob(dir, &layer.digest) {
            Some(b) => b,
            None => {
                let b = registry.blob(&pinned, layer).await.map_err(|e| match e {
                    RegistryError::NotFound => {
                        format!("layer {} is missing from the registry", layer.digest)
                    }
                    RegistryError::Fault(f) => fault(&format!("layer {}", layer.digest), &f),
                })?;
                cache::put_blob(dir, &layer.digest, &b);
                b
            }
        };
        let title = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(super::TITLE))
            .cloned();
        match layer.media_type.as_str() {
            super::POLICY_LAYER
            | "application/vnd.cncf.openpolicyagent.rego.layer.v1+rego"
            | super::DATA_LAYER
            | super::MANIFEST_LAYER => {
                let title = title.ok_or_else(|| {
                    format!("layer {} has no {} annotation (its file name)", layer.digest, super::TITLE)
                })?;
                let path = safe_relative_path(&title)?;
                let role = match layer.media_type.as_str() {
                    super::DATA_LAYER => Role::Data,
                    super::MANIFEST_LAYER => {
                        set.revision = serde_json::from_slice::<Json>(&bytes)
                            .ok()
                            .and_then(|m| m.get("revision").and_then(Json::as_str).map(str::to_string));
                        Role::Raw
                    }
                    _ => Role::Policy,
                };
                if std::str::from_utf8(&bytes).is_err() {
                    return Err(format!("layer {path} ({}) is not UTF-8 text", layer.digest));
                }
                if set.files.iter().any(|f| f.path == path) {
                    return Err(format!("policy set holds {path} twice"));
                }
                set.files.push(SetFile { path, bytes, role });
            }
            super::BUNDLE_LAYER => {
                let inner = super::bundle::read(display, &bytes, None, "")?;
                set.revision = inner.revision;
                set.files.extend(inner.files);
                set.data.extend(inner.data);
            }
            other => {
                return Err(format!(
                    "layer {} has media type {other}, which is not part of a policy set (expected {} or {}, or an OPA bundle layer)",
                    layer.digest,
                    super::POLICY_LAYER,
                    super::DATA_LAYER
                ))
            }
        }
    }
    if set.stale.is_none() {
        cache::put_last_digest(dir, display, &digest);
    }
    set.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(set)
}

/// The files `push` publishes from `dir`: every `.rego` (tests included, so `policyctl test -p
/// oci://…` and `conftest verify` work) and every JSON/YAML file, as conftest's push does; hidden
/// files and directories skipped.
pub fn collect(dir: &Path) -> Result<Vec<SetFile>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let Some(role) = super::role_of(&rel) else {
            continue;
        };
        let bytes = std::fs::read(entry.path())
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        files.push(SetFile {
            path: rel,
            bytes,
            role,
        });
    }
    if !files.iter().any(|f| f.role == Role::Policy) {
        return Err(format!(
            "no .rego files in {} (a policy set needs at least one policy)",
            dir.display()
        ));
    }
    Ok(files)
}

/// The manifest `push` writes for `files` (deterministic: the same files give the same digest),
/// and the blobs it references.
pub fn artifact(files: &[SetFile]) -> (Vec<u8>, Vec<(Vec<u8>, String)>) {
    let config = b"{}".to_vec();
    let config_digest = cache::digest(&config);
    let mut blobs = vec![(config.clone(), config_digest.clone())];
    let mut layers = Vec::new();
    for f in files {
        let digest = cache::digest(&f.bytes);
        let media_type = match f.role {
            Role::Policy => super::POLICY_LAYER,
            _ => super::DATA_LAYER,
        };
        layers.push(json!({
            "mediaType": media_type,
            "digest": digest,
            "size": f.bytes.len(),
            "annotations": {super::TITLE: f.path},
        }));
        if !blobs.iter().any(|(_, d)| d == &digest) {
            blobs.push((f.bytes.clone(), digest));
        }
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": super::CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len()},
        "layers": layers,
    });
    (serde_json::to_vec(&manifest).unwrap_or_default(), blobs)
}

/// Pushes `dir` to `reference` (tag `latest` when none is given, as conftest does); returns the
/// pinned reference `REGISTRY/REPO@DIGEST` and the files published.
pub async fn push(
    reference: &str,
    dir: &Path,
    registry: &RegistryOptions,
) -> Result<(String, Vec<SetFile>), String> {
    let reference = parse_reference(reference.trim_start_matches("oci://"))?;
    if reference.digest().is_some() {
        return Err("push needs a tag, not a digest (the digest is what the push produces)".into());
    }
    let files = collect(dir)?;
    let (manifest, blobs) = artifact(&files);
    let digest = Registry::new(registry)
        .push(&reference, &blobs, manifest, OCI_MANIFEST)
        .await
        .map_err(|e| format!("cannot push to {reference}: {e}"))?;
    Ok((
        format!(
            "{}/{}@{digest}",
            reference.registry(),
            reference.repository()
        ),
        files,
    ))
}

/// Writes a fetched set's files under `out` (byte for byte), creating directories.
pub fn write_out(set: &RemoteSet, out: &Path) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    for f in &set.files {
        let rel = safe_relative_path(&f.path)?;
        let path = out.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, &f.bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(rel);
    }
    Ok(written)
}
