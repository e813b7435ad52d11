//! sigstore policy-controller's `ClusterImagePolicy` (`policy.sigstore.dev/v1beta1`, `v1alpha1`)
//! taken as written: image globs, `mode`, authorities (`key`, `keyless`, `static`) and their
//! `attestations` (predicate type plus an optional Rego policy). Everything that can be checked
//! without a registry is checked here, at load time, with file:line errors.

use super::glob;
use crate::finding::ToolError;
use regex::Regex;
use serde_json::Value as Json;
use sigstore::crypto::CosignVerificationKey;
use std::path::Path;

/// `spec.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Warn,
}

/// A required attestation of an authority.
#[derive(Debug, Clone)]
pub struct AttestationReq {
    pub name: String,
    /// Full predicate type URI (short names already expanded).
    pub predicate_type: String,
    /// Rego evaluated with the verified statement as `input` (`data.sigstore.isCompliant`).
    pub policy: Option<String>,
}

/// `keyless.identities[]`.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub issuer_regexp: Option<Regex>,
    pub subject_regexp: Option<Regex>,
}

#[derive(Debug, Clone)]
pub enum AuthorityKind {
    /// Public keys (`key.data` PEM, or `key.path`, our extension).
    Key(Vec<CosignVerificationKey>),
    Keyless {
        identities: Vec<Identity>,
        trust_root: Option<String>,
        insecure_ignore_sct: bool,
    },
    /// `static.action: pass|fail` — decided without contacting the registry.
    Static(bool),
}

#[derive(Debug, Clone)]
pub struct Authority {
    pub name: String,
    pub kind: AuthorityKind,
    pub attestations: Vec<AttestationReq>,
}

/// A loaded ClusterImagePolicy.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub globs: Vec<Regex>,
    pub mode: Mode,
    pub authorities: Vec<Authority>,
    /// `metadata.annotations["policyctl.dev/allow-unsigned-sbom-referrer"] == "true"`: an SBOM
    /// attached as a plain OCI referrer satisfies a missing CycloneDX/SPDX attestation.
    pub allow_unsigned_sbom_referrer: bool,
    /// Identifies this policy's content in verdict caches.
    pub fingerprint: String,
}

impl ImagePolicy {
    pub fn matches(&self, image: &super::reference::ImageRef) -> bool {
        self.globs.iter().any(|g| glob::matches(g, image))
    }

    /// Only `static` authorities: the verdict needs no registry.
    pub fn is_static(&self) -> bool {
        self.authorities
            .iter()
            .all(|a| matches!(a.kind, AuthorityKind::Static(_)) && a.attestations.is_empty())
    }
}

pub fn is_image_policy(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("ClusterImagePolicy") && is_sigstore(doc)
}

pub fn is_trust_root(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("TrustRoot") && is_sigstore(doc)
}

fn is_sigstore(doc: &Json) -> bool {
    doc.get("apiVersion")
        .and_then(Json::as_str)
        .is_some_and(|v| v.starts_with("policy.sigstore.dev/"))
}

/// policy-controller's short predicate names.
pub fn predicate_type(name: &str) -> String {
    match name {
        "cyclonedx" => "https://cyclonedx.org/bom",
        "spdx" => "https://spdx.dev/Document",
        "spdxjson" => "https://spdx.dev/Document",
        "slsaprovenance" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "link" => "https://in-toto.io/Link/v1",
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        other => other,
    }
    .to_string()
}

fn parse_keys(pem: &str) -> Result<Vec<CosignVerificationKey>, String> {
    // A `data` field may hold several PEM blocks; each is a trusted key.
    let blocks: Vec<String> = pem
        .split("-----END PUBLIC KEY-----")
        .filter(|b| b.contains("-----BEGIN PUBLIC KEY-----"))
        .map(|b| format!("{}-----END PUBLIC KEY-----\n", b.trim_start()))
        .collect();
    if blocks.is_empty() {
        return Err("key.data holds no PEM public key (-----BEGIN PUBLIC KEY-----)".into());
    }
    blocks
        .iter()
        .map(|b| {
            CosignVerificationKey::try_from_pem(b.as_bytes())
                .map_err(|e| format!("key.data is not a usable public key: {e}"))
        })
        .collect()
}

fn regex_field(v: &Json, key: &str) -> Result<Option<Regex>, String> {
    v.get(key)
        .and_then(Json::as_str)
        .map(|r| {
            Regex::new(r).map_err(|e| format!("{key} {r:?} is not a valid regular expression: {e}"))
        })
        .transpose()
}

fn authority(a: &Json, index: usize, policy_dir: &Path) -> Result<Authority, String> {
    let name = a
        .get("name")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("authority-{index}"));
    let kind = if let Some(key) = a.get("key") {
        if key.get("kms").is_some() {
            return Err(format!(
                "{name}: key.kms is not supported (no KMS access); put the public key in key.data"
            ));
        }
        if key.get("secretRef").is_some() {
            return Err(format!(
                "{name}: key.secretRef needs cluster access; put the public key in key.data"
            ));
        }
        let pem = match (
            key.get("data").and_then(Json::as_str),
            key.get("path").and_then(Json::as_str),
        ) {
            (Some(d), _) => d.to_string(),
            (None, Some(p)) => std::fs::read_to_string(policy_dir.join(p))
                .map_err(|e| format!("{name}: key.path {p:?}: {e}"))?,
            (None, None) => return Err(format!("{name}: key needs data (PEM) or path")),
        };
        AuthorityKind::Key(parse_keys(&pem).map_err(|e| format!("{name}: {e}"))?)
    } else if let Some(kl) = a.get("keyless") {
        let identities = kl
            .get("identities")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                Ok(Identity {
                    issuer: i.get("issuer").and_then(Json::as_str).map(str::to_string),
                    subject: i.get("subject").and_then(Json::as_str).map(str::to_string),
                    issuer_regexp: regex_field(i, "issuerRegExp")?,
                    subject_regexp: regex_field(i, "subjectRegExp")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| format!("{name}: {e}"))?;
        if identities.is_empty() {
            return Err(format!(
                "{name}: keyless needs at least one identity (issuer/subject)"
            ));
        }
        AuthorityKind::Keyless {
            identities,
            trust_root: kl
                .get("trustRootRef")
                .and_then(Json::as_str)
                .map(str::to_string),
            insecure_ignore_sct: kl
                .get("insecureIgnoreSCT")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        }
    } else if let Some(s) = a.get("static") {
        match s.get("action").and_then(Json::as_str) {
            Some("pass") => AuthorityKind::Static(true),
            Some("fail") => AuthorityKind::Static(false),
            other => {
                return Err(format!(
                    "{name}: static.action must be pass or fail, not {other:?}"
                ))
            }
        }
    } else {
        return Err(format!("{name}: an authority needs key, keyless or static"));
    };
    let attestations = a
        .get("attestations")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, att)| {
            let pt = att
                .get("predicateType")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("{name}: attestations[{i}] has no predicateType"))?;
            let policy = match att.get("policy") {
                None => None,
                Some(p) => match p.get("type").and_then(Json::as_str) {
                    Some("rego") => Some(
                        p.get("data")
                            .and_then(Json::as_str)
                            .ok_or_else(|| format!("{name}: attestations[{i}].policy.data is missing"))?
                            .to_string(),
                    ),
                    other => {
                        return Err(format!(
                            "{name}: attestations[{i}].policy.type {other:?} is not supported (only rego)"
                        ))
                    }
                },
            };
            Ok(AttestationReq {
                name: att.get("name").and_then(Json::as_str).unwrap_or(pt).to_string(),
                predicate_type: predicate_type(pt),
                policy,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    for att in &attestations {
        if let Some(rego) = &att.policy {
            super::verify::compile_attestation_policy(rego)
                .map_err(|e| format!("{name}: attestation {} policy: {e}", att.name))?;
        }
    }
    if matches!(kind, AuthorityKind::Static(_)) && !attestations.is_empty() {
        return Err(format!(
            "{name}: a static authority cannot require attestations"
        ));
    }
    Ok(Authority {
        name,
        kind,
        attestations,
    })
}

/// Reads one ClusterImagePolicy document.
pub fn image_policy(doc: &Json, file: &str, line: usize) -> Result<ImagePolicy, ToolError> {
    let name = doc
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let err = |m: String| ToolError::new(file, line, format!("ClusterImagePolicy {name}: {m}"));
    let spec = doc
        .get("spec")
        .ok_or_else(|| err("spec is missing".into()))?;
    let globs = spec
        .get("images")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| {
            let g = i
                .get("glob")
                .and_then(Json::as_str)
                .ok_or("images[] entry without glob")?;
            glob::compile(g)
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(err)?;
    if globs.is_empty() {
        return Err(err("spec.images needs at least one glob".into()));
    }
    let mode = match spec.get("mode").and_then(Json::as_str).unwrap_or("enforce") {
        "enforce" => Mode::Enforce,
        "warn" => Mode::Warn,
        other => return Err(err(format!("spec.mode {other:?} is not enforce or warn"))),
    };
    let dir = Path::new(file).parent().unwrap_or(Path::new("."));
    let authorities = spec
        .get("authorities")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, a)| authority(a, i, dir))
        .collect::<Result<Vec<_>, String>>()
        .map_err(err)?;
    if authorities.is_empty() {
        return Err(err("spec.authorities needs at least one authority".into()));
    }
    let allow_unsigned_sbom_referrer = doc
        .pointer("/metadata/annotations/policyctl.dev~1allow-unsigned-sbom-referrer")
        .and_then(Json::as_str)
        == Some("true");
    Ok(ImagePolicy {
        fingerprint: format!(
            "{name}:{}",
            crate::supply::digest_of(doc.to_string().as_bytes())
        ),
        name,
        file: file.to_string(),
        line,
        globs,
        mode,
        authorities,
        allow_unsigned_sbom_referrer,
    })
}
