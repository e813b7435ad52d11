//! sigstore policy-controller's `ClusterImagePolicy` (`policy.sigstore.dev/v1beta1`, `v1alpha1`)
//! taken as written, every field of it either enforced or refused at load with file:line and
//! the field's path (docs/supply-chain.md lists which): image globs, `mode`, `match`, the
//! CIP-level `policy`, and authorities (`key`, `keyless`, `static`, `source`, `ctlog`,
//! `signatureFormat`) with their `attestations`. Unknown fields are load errors, so a typo
//! (`attestation:`) can never make a requirement disappear. Everything that can be checked
//! without a registry is checked here.

use super::glob;
use crate::finding::ToolError;
use crate::strict::{Manifest, Origin};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value as Json;
use sigstore::crypto::CosignVerificationKey;
use std::collections::BTreeMap;
use std::path::Path;
use x509_cert::Certificate;

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
    pub policy: Option<super::verify::SigstorePolicy>,
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
        /// `keyless.ca-cert.data`: these CAs replace the trust root's certificate authorities.
        ca: Option<Vec<Certificate>>,
    },
    /// `static.action: pass|fail` — decided without contacting the registry.
    Static { pass: bool, message: Option<String> },
}

/// Where an authority's signatures live (`source[].oci`, `source[].tagPrefix`), as cosign's
/// `COSIGN_REPOSITORY`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignatureSource {
    /// `registry/repository` holding the signatures, when not the image's own.
    pub repository: Option<String>,
    /// Prefix of cosign's `sha256-<hex>.sig` tags.
    pub tag_prefix: String,
}

/// `authority.ctlog`: whether a Rekor entry is required, and whose log key verifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tlog {
    /// No transparency-log check (key authorities without `ctlog`, or `ctlog: {}`).
    Off,
    Required {
        trust_root: Option<String>,
        url: Option<String>,
    },
}

/// `authority.signatureFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFormat {
    /// Not set: `.sig` tags, then cosign's bundle referrers.
    Any,
    /// `legacy`: `.sig` / `.att` tags only.
    Legacy,
    /// `bundle`: bundle referrers only.
    Bundle,
}

#[derive(Debug, Clone)]
pub struct Authority {
    pub name: String,
    pub kind: AuthorityKind,
    pub attestations: Vec<AttestationReq>,
    pub source: SignatureSource,
    pub tlog: Tlog,
    pub format: SignatureFormat,
}

/// `spec.policy`: Rego over policy-controller's PolicyResult, evaluated once at least one
/// authority passed.
#[derive(Debug, Clone)]
pub struct CipPolicy {
    pub rego: super::verify::SigstorePolicy,
    pub fetch_config_file: bool,
    pub include_spec: bool,
    pub include_object_meta: bool,
    pub include_type_meta: bool,
}

impl CipPolicy {
    /// The policy's input depends on the workload, not only on the image.
    pub fn reads_resource(&self) -> bool {
        self.include_spec || self.include_object_meta || self.include_type_meta
    }
}

/// `spec.match[]`: group/version/resource and a label selector.
#[derive(Debug, Clone)]
pub struct ResourceMatch {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub selector: Option<Json>,
}

/// What a workload looks like to `spec.match` and `spec.policy` (borrowed: built for every
/// workload the webhook reviews).
#[derive(Debug, Clone, Copy)]
pub struct ResourceContext<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub object: &'a Json,
}

impl<'a> ResourceContext<'a> {
    pub fn of(object: &'a Json) -> Self {
        let text = |k: &str| object.get(k).and_then(Json::as_str).unwrap_or_default();
        ResourceContext {
            api_version: text("apiVersion"),
            kind: text("kind"),
            object,
        }
    }

    /// The lower-case plural resource name of the kind, as the API server names it.
    pub fn resource(&self) -> String {
        let k = self.kind.to_ascii_lowercase();
        if k.ends_with('s') {
            format!("{k}es")
        } else if let Some(stem) = k.strip_suffix('y') {
            format!("{stem}ies")
        } else {
            format!("{k}s")
        }
    }
}

impl ResourceMatch {
    fn matches(&self, r: &ResourceContext) -> bool {
        let (group, version) = match r.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", r.api_version),
        };
        if !(self.group == group && self.version == version && self.resource == r.resource()) {
            return false;
        }
        match &self.selector {
            None => true,
            Some(sel) => {
                let labels = r
                    .object
                    .pointer("/metadata/labels")
                    .and_then(Json::as_object)
                    .cloned()
                    .unwrap_or_default();
                // Operators were checked at load; an error cannot happen here, and would not match.
                crate::strict::selector_matches(sel, &labels).unwrap_or(false)
            }
        }
    }
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
    pub policy: Option<CipPolicy>,
    /// `spec.match`; empty = every resource.
    pub resources: Vec<ResourceMatch>,
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

    /// `spec.match` against the workload; no workload (verify-image without `--resource`)
    /// applies every policy, so nothing is skipped for want of context.
    pub fn applies_to(&self, resource: Option<&ResourceContext<'_>>) -> bool {
        match resource {
            Some(r) if !self.resources.is_empty() => self.resources.iter().any(|m| m.matches(r)),
            _ => true,
        }
    }

    /// Only `static` authorities, and no image config for `spec.policy`: the verdict needs no
    /// registry.
    pub fn is_static(&self) -> bool {
        !self.policy.as_ref().is_some_and(|p| p.fetch_config_file)
            && self.authorities.iter().all(|a| {
                matches!(a.kind, AuthorityKind::Static { .. }) && a.attestations.is_empty()
            })
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

// --- The document, as policy-controller's Go types define it (unknown fields refused) --------

type CipDoc = Manifest<SpecDoc>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SpecDoc {
    #[serde(default)]
    images: Vec<ImagePatternDoc>,
    #[serde(default)]
    authorities: Vec<AuthorityDoc>,
    #[serde(default)]
    policy: Option<PolicyDoc>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default, rename = "match")]
    matches: Vec<MatchDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImagePatternDoc {
    glob: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AuthorityDoc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    key: Option<KeyDoc>,
    #[serde(default)]
    keyless: Option<KeylessDoc>,
    #[serde(default, rename = "static")]
    static_: Option<StaticDoc>,
    #[serde(default)]
    source: Vec<SourceDoc>,
    #[serde(default)]
    ctlog: Option<TlogDoc>,
    #[serde(default)]
    attestations: Vec<AttestationDoc>,
    #[serde(default)]
    rfc3161timestamp: Option<Json>,
    #[serde(default)]
    signature_format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeyDoc {
    #[serde(default)]
    secret_ref: Option<Json>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    kms: Option<String>,
    #[serde(default)]
    hash_algorithm: Option<String>,
    /// policyctl's extension: a PEM file beside the policy.
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeylessDoc {
    #[serde(default)]
    #[allow(dead_code)]
    url: Option<String>,
    #[serde(default)]
    identities: Vec<IdentityDoc>,
    #[serde(default, rename = "ca-cert")]
    ca_cert: Option<KeyDoc>,
    #[serde(default)]
    trust_root_ref: Option<String>,
    #[serde(default, rename = "insecureIgnoreSCT")]
    insecure_ignore_sct: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityDoc {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default, rename = "issuerRegExp")]
    issuer_regexp: Option<String>,
    #[serde(default, rename = "subjectRegExp")]
    subject_regexp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticDoc {
    action: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SourceDoc {
    #[serde(default)]
    oci: Option<String>,
    #[serde(default)]
    signature_pull_secrets: Option<Json>,
    #[serde(default)]
    tag_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TlogDoc {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    trust_root_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AttestationDoc {
    name: String,
    predicate_type: String,
    #[serde(default)]
    policy: Option<PolicyDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyDoc {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    remote: Option<Json>,
    #[serde(default)]
    config_map_ref: Option<Json>,
    #[serde(default)]
    fetch_config_file: Option<bool>,
    #[serde(default)]
    include_spec: Option<bool>,
    #[serde(default)]
    include_object_meta: Option<bool>,
    #[serde(default)]
    include_type_meta: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchDoc {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    selector: Option<SelectorDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SelectorDoc {
    #[serde(default)]
    match_labels: BTreeMap<String, String>,
    #[serde(default)]
    match_expressions: Vec<ExpressionDoc>,
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ExpressionDoc {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

// --- Reading ---------------------------------------------------------------------------------

fn parse_keys(pem: &str) -> Result<Vec<CosignVerificationKey>, String> {
    // A `data` field may hold several PEM blocks; each is a trusted key.
    let blocks: Vec<String> = pem
        .split("-----END PUBLIC KEY-----")
        .filter(|b| b.contains("-----BEGIN PUBLIC KEY-----"))
        .map(|b| format!("{}-----END PUBLIC KEY-----\n", b.trim_start()))
        .collect();
    if blocks.is_empty() {
        return Err("holds no PEM public key (-----BEGIN PUBLIC KEY-----)".into());
    }
    blocks
        .iter()
        .map(|b| {
            CosignVerificationKey::try_from_pem(b.as_bytes())
                .map_err(|e| format!("is not a usable public key: {e}"))
        })
        .collect()
}

fn regex_field(v: Option<&String>) -> Result<Option<Regex>, String> {
    v.map(|r| Regex::new(r).map_err(|e| format!("{r:?} is not a valid regular expression: {e}")))
        .transpose()
}

/// One policy under construction: where it came from, for errors on the right line.
struct Reader<'a> {
    origin: Origin<'a>,
    what: String,
    dir: &'a Path,
}

impl Reader<'_> {
    /// An error on the line of `field`: `ClusterImagePolicy x: spec.…: message`.
    fn err(&self, field: &str, message: impl std::fmt::Display) -> ToolError {
        let line = crate::strict::locate(
            self.origin.text,
            self.origin.line,
            &crate::strict::path(field),
        );
        ToolError::new(
            self.origin.file,
            line,
            format!("{}: {field}: {message}", self.what),
        )
    }

    fn fail<T>(&self, field: &str, message: impl std::fmt::Display) -> Result<T, ToolError> {
        Err(self.err(field, message))
    }

    fn key_ref(&self, at: &str, key: &KeyDoc) -> Result<Vec<CosignVerificationKey>, ToolError> {
        if key.kms.is_some() {
            return self.fail(
                &format!("{at}.kms"),
                "KMS keys are not supported (policyctl has no KMS access); put the public key in data",
            );
        }
        if key.secret_ref.is_some() {
            return self.fail(
                &format!("{at}.secretRef"),
                "needs cluster access to read the Secret; put the public key in data",
            );
        }
        match key.hash_algorithm.as_deref() {
            None | Some("sha256") => {}
            Some(other) => {
                return self.fail(
                    &format!("{at}.hashAlgorithm"),
                    format!("{other:?} is not supported; cosign signs with sha256, the only algorithm policyctl verifies"),
                )
            }
        }
        let pem = match (&key.data, &key.path) {
            (Some(d), None) => d.clone(),
            (None, Some(p)) => std::fs::read_to_string(self.dir.join(p))
                .map_err(|e| self.err(&format!("{at}.path"), format!("{p:?}: {e}")))?,
            (Some(_), Some(_)) => {
                return self.fail(at, "give the key in data or in path, not both")
            }
            (None, None) => return self.fail(at, "needs data (a PEM public key) or path"),
        };
        let field = if key.data.is_some() { "data" } else { "path" };
        parse_keys(&pem).map_err(|e| self.err(&format!("{at}.{field}"), e))
    }

    fn rego_policy(
        &self,
        at: &str,
        p: &PolicyDoc,
    ) -> Result<super::verify::SigstorePolicy, ToolError> {
        if p.kind != "rego" {
            return self.fail(
                &format!("{at}.type"),
                format!(
                    "{:?} is not supported; policyctl evaluates rego policies (cue is not implemented)",
                    p.kind
                ),
            );
        }
        if p.config_map_ref.is_some() {
            return self.fail(
                &format!("{at}.configMapRef"),
                "needs cluster access to read the ConfigMap; put the policy in data",
            );
        }
        if p.remote.is_some() {
            return self.fail(
                &format!("{at}.remote"),
                "remote policies (url) are not fetched; put the policy in data",
            );
        }
        let rego = p
            .data
            .clone()
            .ok_or_else(|| self.err(at, "needs data (the Rego policy)"))?;
        super::verify::SigstorePolicy::compile(&rego)
            .map_err(|e| self.err(&format!("{at}.data"), e))
    }

    fn authority(&self, i: usize, a: &AuthorityDoc) -> Result<Authority, ToolError> {
        let at = format!("spec.authorities[{i}]");
        let name = a.name.clone().unwrap_or_else(|| format!("authority-{i}"));
        let kinds = [a.key.is_some(), a.keyless.is_some(), a.static_.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return self.fail(
                &at,
                "an authority needs exactly one of key, keyless or static",
            );
        }
        if a.rfc3161timestamp.is_some() {
            return self.fail(
                &format!("{at}.rfc3161timestamp"),
                "RFC 3161 timestamp verification is not supported yet; remove it to rely on the Rekor entry",
            );
        }
        let kind = if let Some(key) = &a.key {
            AuthorityKind::Key(self.key_ref(&format!("{at}.key"), key)?)
        } else if let Some(kl) = &a.keyless {
            let kat = format!("{at}.keyless");
            let identities = kl
                .identities
                .iter()
                .enumerate()
                .map(|(j, id)| {
                    let iat = format!("{kat}.identities[{j}]");
                    if id.issuer.is_none()
                        && id.subject.is_none()
                        && id.issuer_regexp.is_none()
                        && id.subject_regexp.is_none()
                    {
                        return self.fail(
                            &iat,
                            "an identity needs issuer/issuerRegExp or subject/subjectRegExp",
                        );
                    }
                    Ok(Identity {
                        issuer: id.issuer.clone(),
                        subject: id.subject.clone(),
                        issuer_regexp: regex_field(id.issuer_regexp.as_ref())
                            .map_err(|e| self.err(&format!("{iat}.issuerRegExp"), e))?,
                        subject_regexp: regex_field(id.subject_regexp.as_ref())
                            .map_err(|e| self.err(&format!("{iat}.subjectRegExp"), e))?,
                    })
                })
                .collect::<Result<Vec<_>, ToolError>>()?;
            if identities.is_empty() {
                return self.fail(
                    &format!("{kat}.identities"),
                    "keyless needs at least one identity (issuer/subject)",
                );
            }
            let ca = match &kl.ca_cert {
                None => None,
                Some(c) => {
                    let cat = format!("{kat}.ca-cert");
                    if c.kms.is_some() || c.secret_ref.is_some() || c.hash_algorithm.is_some() {
                        return self.fail(&cat, "only data (PEM certificates) is supported here");
                    }
                    let pem = match (&c.data, &c.path) {
                        (Some(d), None) => d.clone(),
                        (None, Some(p)) => std::fs::read_to_string(self.dir.join(p))
                            .map_err(|e| self.err(&format!("{cat}.path"), format!("{p:?}: {e}")))?,
                        _ => return self.fail(&cat, "needs data (PEM CA certificates)"),
                    };
                    let certs = super::keyless::certificates(&pem)
                        .map_err(|e| self.err(&format!("{cat}.data"), e))?;
                    Some(certs)
                }
            };
            AuthorityKind::Keyless {
                identities,
                trust_root: kl.trust_root_ref.clone(),
                insecure_ignore_sct: kl.insecure_ignore_sct.unwrap_or(false),
                ca,
            }
        } else if let Some(s) = &a.static_ {
            match s.action.as_str() {
                "pass" => AuthorityKind::Static {
                    pass: true,
                    message: s.message.clone(),
                },
                "fail" => AuthorityKind::Static {
                    pass: false,
                    message: s.message.clone(),
                },
                other => {
                    return self.fail(
                        &format!("{at}.static.action"),
                        format!("must be pass or fail, not {other:?}"),
                    )
                }
            }
        } else {
            unreachable!("exactly one kind was checked above")
        };
        let is_static = matches!(kind, AuthorityKind::Static { .. });
        let is_keyless = matches!(kind, AuthorityKind::Keyless { .. });
        if is_static {
            for (field, set) in [
                ("attestations", !a.attestations.is_empty()),
                ("source", !a.source.is_empty()),
                ("ctlog", a.ctlog.is_some()),
                ("signatureFormat", a.signature_format.is_some()),
            ] {
                if set {
                    return self.fail(
                        &format!("{at}.{field}"),
                        "a static authority verifies nothing, so it cannot take this field",
                    );
                }
            }
        }
        let source = match a.source.as_slice() {
            [] => SignatureSource::default(),
            [s] => {
                let sat = format!("{at}.source[0]");
                if s.signature_pull_secrets.is_some() {
                    return self.fail(
                        &format!("{sat}.signaturePullSecrets"),
                        "needs cluster access to read the Secrets; give registry credentials through the \
                         Docker config (DOCKER_CONFIG) instead",
                    );
                }
                let repository = match &s.oci {
                    None => None,
                    Some(repo) => {
                        let parsed = super::reference::ImageRef::parse(repo)
                            .map_err(|e| self.err(&format!("{sat}.oci"), e))?;
                        if parsed
                            .reference
                            .tag()
                            .is_some_and(|t| repo.ends_with(&format!(":{t}")))
                            || parsed.reference.digest().is_some()
                        {
                            return self.fail(
                                &format!("{sat}.oci"),
                                "names a repository, without tag or digest",
                            );
                        }
                        Some(format!(
                            "{}/{}",
                            parsed.reference.registry(),
                            parsed.reference.repository()
                        ))
                    }
                };
                SignatureSource {
                    repository,
                    tag_prefix: s.tag_prefix.clone().unwrap_or_default(),
                }
            }
            _ => {
                return self.fail(
                    &format!("{at}.source[1]"),
                    "one signature source per authority (policy-controller uses only the last); \
                     write one authority per source",
                )
            }
        };
        let tlog = match &a.ctlog {
            None if is_keyless => Tlog::Required {
                trust_root: None,
                url: None,
            },
            None => Tlog::Off,
            Some(t) if t.url.is_none() && t.trust_root_ref.is_none() => {
                if is_keyless {
                    return self.fail(
                        &format!("{at}.ctlog"),
                        "ctlog: {} turns the transparency log off, and a keyless certificate cannot be \
                         judged without the Rekor entry's time; remove it",
                    );
                }
                Tlog::Off
            }
            Some(t) => Tlog::Required {
                trust_root: t.trust_root_ref.clone(),
                url: t.url.clone(),
            },
        };
        let format = match a.signature_format.as_deref() {
            None => SignatureFormat::Any,
            Some("legacy") => SignatureFormat::Legacy,
            Some("bundle") => SignatureFormat::Bundle,
            Some(other) => {
                return self.fail(
                    &format!("{at}.signatureFormat"),
                    format!("{other:?} is not legacy or bundle"),
                )
            }
        };
        if matches!(tlog, Tlog::Required { .. }) && !is_keyless {
            if !a.attestations.is_empty() {
                return self.fail(
                    &format!("{at}.ctlog"),
                    "Rekor entries of attestations are not verified yet, so ctlog with attestations would \
                     pass unlogged attestations; use separate authorities",
                );
            }
            if format == SignatureFormat::Bundle {
                return self.fail(
                    &format!("{at}.ctlog"),
                    "Rekor entries of bundle-format signatures are not verified yet; use signatureFormat: legacy",
                );
            }
        }
        let attestations = a
            .attestations
            .iter()
            .enumerate()
            .map(|(j, att)| {
                let aat = format!("{at}.attestations[{j}]");
                let policy = match &att.policy {
                    None => None,
                    Some(p) => {
                        let pat = format!("{aat}.policy");
                        for (field, set) in [
                            ("fetchConfigFile", p.fetch_config_file.is_some()),
                            ("includeSpec", p.include_spec.is_some()),
                            ("includeObjectMeta", p.include_object_meta.is_some()),
                            ("includeTypeMeta", p.include_type_meta.is_some()),
                        ] {
                            if set {
                                return self.fail(
                                    &format!("{pat}.{field}"),
                                    "only means something on spec.policy (the attestation policy's input is the statement)",
                                );
                            }
                        }
                        Some(self.rego_policy(&pat, p)?)
                    }
                };
                Ok(AttestationReq {
                    name: att.name.clone(),
                    predicate_type: predicate_type(&att.predicate_type),
                    policy,
                })
            })
            .collect::<Result<Vec<_>, ToolError>>()?;
        Ok(Authority {
            name,
            kind,
            attestations,
            source,
            tlog,
            format,
        })
    }
}

/// Reads one ClusterImagePolicy document. `text` is the whole file, `line` where the document
/// starts in it.
pub fn image_policy(
    doc: &Json,
    file: &str,
    text: &str,
    line: usize,
) -> Result<ImagePolicy, ToolError> {
    let name = doc
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let what = format!("ClusterImagePolicy {name}");
    let origin = Origin { file, text, line };
    let cip: CipDoc = origin.read(doc, &what)?;
    let r = Reader {
        origin,
        what,
        dir: Path::new(file).parent().unwrap_or(Path::new(".")),
    };
    let spec = &cip.spec;
    let globs = spec
        .images
        .iter()
        .enumerate()
        .map(|(i, p)| {
            glob::compile(&p.glob).map_err(|e| r.err(&format!("spec.images[{i}].glob"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if globs.is_empty() {
        return r.fail("spec.images", "needs at least one glob");
    }
    let mode = match spec.mode.as_deref().unwrap_or("enforce") {
        "enforce" => Mode::Enforce,
        "warn" => Mode::Warn,
        other => return r.fail("spec.mode", format!("{other:?} is not enforce or warn")),
    };
    let authorities = spec
        .authorities
        .iter()
        .enumerate()
        .map(|(i, a)| r.authority(i, a))
        .collect::<Result<Vec<_>, _>>()?;
    if authorities.is_empty() {
        return r.fail("spec.authorities", "needs at least one authority");
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, a) in authorities.iter().enumerate() {
        if !names.insert(a.name.clone()) {
            return r.fail(
                &format!("spec.authorities[{i}].name"),
                format!("{:?} names two authorities", a.name),
            );
        }
    }
    let policy = match &spec.policy {
        None => None,
        Some(p) => Some(CipPolicy {
            rego: r.rego_policy("spec.policy", p)?,
            fetch_config_file: p.fetch_config_file.unwrap_or(false),
            include_spec: p.include_spec.unwrap_or(false),
            include_object_meta: p.include_object_meta.unwrap_or(false),
            include_type_meta: p.include_type_meta.unwrap_or(false),
        }),
    };
    let resources = spec
        .matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("spec.match[{i}]");
            if m.resource.is_empty() {
                return r.fail(
                    &format!("{at}.resource"),
                    "is required (e.g. pods, deployments, cronjobs)",
                );
            }
            if m.version.is_empty() {
                return r.fail(&format!("{at}.version"), "is required (e.g. v1)");
            }
            let selector = match &m.selector {
                None => None,
                Some(s) => {
                    for (j, e) in s.match_expressions.iter().enumerate() {
                        if !["In", "NotIn", "Exists", "DoesNotExist"].contains(&e.operator.as_str())
                        {
                            return r.fail(
                                &format!("{at}.selector.matchExpressions[{j}].operator"),
                                format!(
                                    "{:?} is not In, NotIn, Exists or DoesNotExist",
                                    e.operator
                                ),
                            );
                        }
                    }
                    Some(serde_json::json!({
                        "matchLabels": s.match_labels,
                        "matchExpressions": s.match_expressions,
                    }))
                }
            };
            Ok(ResourceMatch {
                group: m.group.clone(),
                version: m.version.clone(),
                resource: m.resource.to_ascii_lowercase(),
                selector,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let allow_unsigned_sbom_referrer = cip
        .metadata
        .annotations
        .get("policyctl.dev/allow-unsigned-sbom-referrer")
        .map(String::as_str)
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
        policy,
        resources,
        allow_unsigned_sbom_referrer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_are_the_api_servers_plurals() {
        for (kind, plural) in [
            ("Pod", "pods"),
            ("Deployment", "deployments"),
            ("CronJob", "cronjobs"),
            ("StatefulSet", "statefulsets"),
            ("DaemonSet", "daemonsets"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
        ] {
            let object = serde_json::json!({"kind": kind});
            assert_eq!(ResourceContext::of(&object).resource(), plural);
        }
    }
}
