//! Verification of one image against the image policies that match it: tag -> digest once,
//! then every signature, attestation and SBOM check against that digest. Registry faults,
//! timeouts and malformed material deny (warn in warn mode) with the reason; only verdicts
//! that do not depend on a fault are cached.

use super::keyless::{self, TrustRoot};
use super::policy::{
    AttestationReq, Authority, AuthorityKind, ImagePolicy, Mode, ResourceContext, SignatureFormat,
    SignatureSource, Tlog,
};
use super::reference::{cosign_tag, ImageRef};
use super::registry::{layers, Registry, RegistryError};
use base64::Engine as _;
use oci_client::manifest::OciDescriptor;
use serde::Serialize;
use serde_json::Value as Json;
use sigstore::cosign::payload::SimpleSigning;
use sigstore::crypto::{CosignVerificationKey, Signature};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const INTOTO: &str = "application/vnd.in-toto+json";

/// allow / deny / warn, for an image and for each policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Warn,
    Deny,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyVerdict {
    pub name: String,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    /// Stable finding code of the first reason (`image-unsigned`, `sbom-missing`, …).
    #[serde(skip)]
    pub code: &'static str,
    /// The verdict rests on a registry fault or timeout: policyctl could not decide.
    #[serde(skip)]
    pub undecided: bool,
}

impl PolicyVerdict {
    fn allow(name: &str) -> Self {
        PolicyVerdict {
            name: name.to_string(),
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            code: "",
            undecided: false,
        }
    }
}

/// What to do with an image that no loaded ClusterImagePolicy matches (policy-controller's
/// `no-match-policy`; its default is deny).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum NoMatch {
    #[default]
    Deny,
    Warn,
    Allow,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageVerdict {
    pub image: String,
    pub digest: Option<String>,
    pub verdict: Verdict,
    pub policies: Vec<PolicyVerdict>,
}

/// Why an authority was not satisfied; the code names the kind of problem.
#[derive(Debug, Clone)]
struct Failure {
    code: &'static str,
    reason: String,
    /// Caused by a registry fault or timeout: never cached.
    transient: bool,
}

impl Failure {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Failure {
            code,
            reason: reason.into(),
            transient: false,
        }
    }

    fn fault(reason: impl Into<String>) -> Self {
        Failure {
            code: "registry-error",
            reason: reason.into(),
            transient: true,
        }
    }
}

fn fault(what: &str, image: &ImageRef, e: RegistryError) -> Failure {
    Failure::fault(format!(
        "cannot read {what} from registry {}: {e}",
        image.registry()
    ))
}

/// One `.sig` layer.
struct SigLayer {
    /// The layer's digest (policy-controller's signature `id`).
    id: String,
    payload: Vec<u8>,
    signature: Option<String>,
    certificate: Option<String>,
    bundle: Option<String>,
}

/// A DSSE envelope from a `.att` layer.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<EnvelopeSignature>,
}

#[derive(serde::Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

/// One Sigstore bundle attached to the digest as an OCI referrer (cosign v3).
struct BundleLayer {
    /// The layer digest's hex (policy-controller's `id`).
    id: String,
    /// Its DSSE envelope; `None` for a message-signature bundle.
    envelope: Option<Envelope>,
    /// The bundle's JSON, for full verification (sigstore-verify).
    raw: String,
}

/// What the registry holds for one digest, fetched at most once per verification.
struct Evidence {
    image: ImageRef,
    digest: String,
    /// Where signatures and attestations are read (`source[].oci`, `tagPrefix`).
    source: SignatureSource,
    /// The repository they are read from: the image's, or `source[].oci`.
    store: ImageRef,
    signatures: OnceCell<Result<Vec<SigLayer>, Failure>>,
    attestations: OnceCell<Result<Vec<(String, Envelope)>, Failure>>,
    /// DSSE envelopes of cosign's newer bundle format (OCI referrers), fetched only when the
    /// `.sig`/`.att` tags do not settle the question.
    bundles: OnceCell<Result<Vec<BundleLayer>, Failure>>,
}

/// Verifies images, with verdict and tag caches shared by every caller.
pub struct Verifier {
    registry: Registry,
    policies: Arc<Vec<ImagePolicy>>,
    verdicts: moka::future::Cache<(String, String), Outcome>,
    tags: moka::future::Cache<String, String>,
    deadline: Duration,
    verifications: AtomicUsize,
    lookups: AtomicUsize,
    trust_roots: std::collections::BTreeMap<String, Arc<TrustRoot>>,
    /// The embedded public-good root, for keyless authorities without `trustRootRef`.
    production: std::sync::OnceLock<Result<Arc<TrustRoot>, String>>,
    no_match: NoMatch,
}

/// A cached authority outcome: the policy's verdict before its CIP-level `spec.policy`, and
/// what that policy reads (policy-controller's `authorityMatches`, image configs).
#[derive(Clone)]
struct Outcome {
    verdict: PolicyVerdict,
    matches: Json,
    config: Option<Json>,
}

/// Verifier settings.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    pub deadline: Duration,
    pub verdict_ttl: Duration,
    pub tag_ttl: Duration,
    pub no_match: NoMatch,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            deadline: Duration::from_secs(10),
            verdict_ttl: Duration::from_secs(300),
            tag_ttl: Duration::from_secs(30),
            no_match: NoMatch::Deny,
        }
    }
}

impl Verifier {
    pub fn new(registry: Registry, policies: Vec<ImagePolicy>, opts: &VerifierOptions) -> Self {
        Self::with_trust_roots(registry, policies, Vec::new(), opts)
    }

    /// As [`Verifier::new`], with TrustRoots that keyless authorities name in `trustRootRef`.
    pub fn with_trust_roots(
        registry: Registry,
        policies: Vec<ImagePolicy>,
        roots: Vec<TrustRoot>,
        opts: &VerifierOptions,
    ) -> Self {
        Verifier {
            trust_roots: roots
                .into_iter()
                .map(|r| (r.name.clone(), Arc::new(r)))
                .collect(),
            registry,
            policies: Arc::new(policies),
            verdicts: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(opts.verdict_ttl)
                .build(),
            tags: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(opts.tag_ttl)
                .build(),
            deadline: opts.deadline,
            verifications: AtomicUsize::new(0),
            lookups: AtomicUsize::new(0),
            no_match: opts.no_match,
            production: std::sync::OnceLock::new(),
        }
    }

    pub fn has_policies(&self) -> bool {
        !self.policies.is_empty()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// (digest, policy) verdict lookups, cached or not.
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Policy verifications actually run (cache misses), for tests and benchmarks.
    pub fn verifications(&self) -> usize {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Verifies several images concurrently (a workload's containers).
    pub async fn verify_all(&self, images: &[String]) -> Vec<ImageVerdict> {
        self.verify_all_for(images, None).await
    }

    /// As [`Verifier::verify_all`], for the images of one workload: `spec.match` selects
    /// policies by the resource, and `spec.policy` may read it.
    pub async fn verify_all_for(
        &self,
        images: &[String],
        resource: Option<&ResourceContext<'_>>,
    ) -> Vec<ImageVerdict> {
        futures::future::join_all(images.iter().map(|i| self.verify_for(i, resource))).await
    }

    /// Verifies one image against every matching policy. Never fails: problems are reasons.
    pub async fn verify(&self, image: &str) -> ImageVerdict {
        self.verify_for(image, None).await
    }

    /// Verifies one image of `resource` against every policy matching both.
    pub async fn verify_for(
        &self,
        image: &str,
        resource: Option<&ResourceContext<'_>>,
    ) -> ImageVerdict {
        let parsed = match ImageRef::parse(image) {
            Ok(r) => r,
            Err(e) => {
                return ImageVerdict {
                    image: image.to_string(),
                    digest: None,
                    verdict: Verdict::Deny,
                    policies: vec![PolicyVerdict {
                        name: "<reference>".into(),
                        verdict: Verdict::Deny,
                        reasons: vec![e],
                        code: "image-reference",
                        undecided: false,
                    }],
                }
            }
        };
        let matching: Vec<&ImagePolicy> = self
            .policies
            .iter()
            .filter(|p| p.matches(&parsed) && p.applies_to(resource))
            .collect();
        let mut verdict = ImageVerdict {
            image: image.to_string(),
            digest: parsed.reference.digest().map(str::to_string),
            verdict: Verdict::Allow,
            policies: Vec::new(),
        };
        if matching.is_empty() && self.no_match != NoMatch::Allow {
            verdict.policies.push(PolicyVerdict {
                name: "<no-match-policy>".into(),
                verdict: if self.no_match == NoMatch::Deny {
                    Verdict::Deny
                } else {
                    Verdict::Warn
                },
                reasons: vec![format!(
                    "no ClusterImagePolicy matches image {} (no-match-policy: {}; pass --no-match-policy allow to let such images through)",
                    parsed.glob_name(),
                    if self.no_match == NoMatch::Deny { "deny" } else { "warn" }
                )],
                code: "image-no-policy",
                undecided: false,
            });
        }
        // Static policies never touch the registry.
        let (statics, dynamic): (Vec<&ImagePolicy>, Vec<&ImagePolicy>) =
            matching.into_iter().partition(|p| p.is_static());
        for p in statics {
            verdict
                .policies
                .push(cip_policy_verdict(p, static_outcome(p), resource));
        }
        if !dynamic.is_empty() {
            match tokio::time::timeout(
                self.deadline,
                self.verify_dynamic(&parsed, &dynamic, resource),
            )
            .await
            {
                Ok((digest, verdicts)) => {
                    verdict.digest = digest.or(verdict.digest);
                    verdict.policies.extend(verdicts);
                }
                Err(_) => {
                    for p in dynamic {
                        verdict.policies.push(failed(p, &[Failure {
                            code: "verification-timeout",
                            reason: format!(
                                "verification did not finish within the {:.1}s deadline (registry {} slow or not answering)",
                                self.deadline.as_secs_f64(),
                                parsed.registry()
                            ),
                            transient: true,
                        }]));
                    }
                }
            }
        }
        verdict.verdict = verdict
            .policies
            .iter()
            .map(|p| p.verdict)
            .max()
            .unwrap_or(Verdict::Allow);
        verdict
    }

    async fn verify_dynamic(
        &self,
        image: &ImageRef,
        policies: &[&ImagePolicy],
        resource: Option<&ResourceContext<'_>>,
    ) -> (Option<String>, Vec<PolicyVerdict>) {
        let digest = match self.digest_of(image).await {
            Ok(d) => d,
            Err(f) => {
                return (
                    None,
                    policies
                        .iter()
                        .map(|p| failed(p, std::slice::from_ref(&f)))
                        .collect(),
                )
            }
        };
        // One evidence store per signature source, shared by every policy that reads it.
        let mut evidence: std::collections::BTreeMap<SignatureSource, Evidence> =
            Default::default();
        for p in policies {
            for a in &p.authorities {
                if evidence.contains_key(&a.source) {
                    continue;
                }
                let store = match &a.source.repository {
                    None => image.clone(),
                    Some(repo) => match ImageRef::parse(repo) {
                        Ok(r) => r,
                        Err(_) => image.clone(), // checked at load
                    },
                };
                evidence.insert(
                    a.source.clone(),
                    Evidence {
                        image: image.clone(),
                        digest: digest.clone(),
                        source: a.source.clone(),
                        store,
                        signatures: OnceCell::new(),
                        bundles: OnceCell::new(),
                        attestations: OnceCell::new(),
                    },
                );
            }
        }
        let mut out = Vec::new();
        for p in policies {
            let key = (digest.clone(), p.fingerprint.clone());
            self.lookups.fetch_add(1, Ordering::Relaxed);
            let result = self
                .verdicts
                .try_get_with(key, async {
                    self.verifications.fetch_add(1, Ordering::Relaxed);
                    let (outcome, transient) =
                        self.verify_policy(p, &evidence, image, &digest).await;
                    if transient {
                        Err(outcome)
                    } else {
                        Ok(outcome)
                    }
                })
                .await;
            let outcome = match result {
                Ok(v) => v,
                Err(transient) => (*transient).clone(),
            };
            out.push(cip_policy_verdict(p, outcome, resource));
        }
        (Some(digest), out)
    }

    /// Tag -> digest, cached briefly; a digest reference needs no request.
    async fn digest_of(&self, image: &ImageRef) -> Result<String, Failure> {
        if let Some(d) = image.reference.digest() {
            return Ok(d.to_string());
        }
        let key = image.reference.whole();
        self.tags
            .try_get_with(key, async {
                self.registry
                    .resolve(&image.reference)
                    .await
                    .map_err(|e| match e {
                        RegistryError::NotFound => Failure::new(
                            "image-not-found",
                            format!("image {} not found in the registry", image.original),
                        ),
                        e => fault("the image's digest", image, e),
                    })
            })
            .await
            .map_err(|f| (*f).clone())
    }

    /// A policy's authority outcome, and whether it rests on a transient fault (then it is not
    /// cached). Authorities are OR: without a CIP-level policy the first that passes decides;
    /// with one, every authority is tried, since the policy may ask for several (N of M).
    async fn verify_policy(
        &self,
        p: &ImagePolicy,
        evidence: &std::collections::BTreeMap<SignatureSource, Evidence>,
        image: &ImageRef,
        digest: &str,
    ) -> (Outcome, bool) {
        let mut failures = Vec::new();
        let mut matches = serde_json::Map::new();
        for a in &p.authorities {
            let Some(ev) = evidence.get(&a.source) else {
                continue;
            };
            match self.check_authority(p, a, ev).await {
                Ok(m) => {
                    matches.insert(a.name.clone(), m);
                    if p.policy.is_none() {
                        break;
                    }
                }
                Err(mut f) => {
                    f.reason = format!("{}: {}", a.name, f.reason);
                    failures.push(f);
                }
            }
        }
        if matches.is_empty() {
            let transient = failures.iter().any(|f| f.transient);
            let outcome = Outcome {
                verdict: failed(p, &failures),
                matches: Json::Null,
                config: None,
            };
            return (outcome, transient);
        }
        let mut config = None;
        if p.policy.as_ref().is_some_and(|c| c.fetch_config_file) {
            match self.config_files(image, digest).await {
                Ok(c) => config = Some(c),
                Err(f) => {
                    let transient = f.transient;
                    let outcome = Outcome {
                        verdict: failed(p, &[f]),
                        matches: Json::Null,
                        config: None,
                    };
                    return (outcome, transient);
                }
            }
        }
        let outcome = Outcome {
            verdict: PolicyVerdict::allow(&p.name),
            matches: Json::Object(matches),
            config,
        };
        (outcome, false)
    }

    /// policy-controller's `config`: each platform's OCI image config, keyed
    /// `os/architecture[/variant]`.
    async fn config_files(&self, image: &ImageRef, digest: &str) -> Result<Json, Failure> {
        let reference = image.at_digest(digest);
        let manifest = self
            .registry
            .manifest(&reference)
            .await
            .map_err(|e| fault("the image manifest", image, e))?;
        let mut manifests = Vec::new();
        if let Some(list) = manifest.get("manifests").and_then(Json::as_array) {
            for m in list {
                let Some(d) = m.get("digest").and_then(Json::as_str) else {
                    continue;
                };
                let child = self
                    .registry
                    .manifest(&image.at_digest(d))
                    .await
                    .map_err(|e| fault("a platform manifest", image, e))?;
                manifests.push(child);
            }
        } else {
            manifests.push(manifest);
        }
        let mut out = serde_json::Map::new();
        for m in manifests {
            let Some(desc) = m.get("config") else {
                continue;
            };
            let desc: OciDescriptor = serde_json::from_value(desc.clone()).map_err(|e| {
                Failure::new(
                    "image-config",
                    format!("image manifest has an unreadable config descriptor: {e}"),
                )
            })?;
            let blob = self
                .registry
                .blob(&reference, &desc)
                .await
                .map_err(|e| fault("the image config", image, e))?;
            let cfg: Json = serde_json::from_slice(&blob).map_err(|e| {
                Failure::new(
                    "image-config",
                    format!("image config {} is not JSON: {e}", desc.digest),
                )
            })?;
            let field = |k: &str| cfg.get(k).and_then(Json::as_str).unwrap_or("").to_string();
            let mut platform = format!("{}/{}", field("os"), field("architecture"));
            if !field("variant").is_empty() {
                platform = format!("{platform}/{}", field("variant"));
            }
            out.insert(platform, cfg);
        }
        Ok(Json::Object(out))
    }

    /// Checks one authority; on success returns policy-controller's `AuthorityMatch` for it.
    async fn check_authority(
        &self,
        p: &ImagePolicy,
        a: &Authority,
        ev: &Evidence,
    ) -> Result<Json, Failure> {
        match &a.kind {
            AuthorityKind::Static { pass: true, .. } => Ok(serde_json::json!({"static": true})),
            AuthorityKind::Static {
                pass: false,
                message,
            } => Err(Failure::new(
                "image-static-fail",
                message
                    .clone()
                    .unwrap_or_else(|| "disallowed by static policy".into()),
            )),
            AuthorityKind::Keyless {
                identities,
                trust_root,
                insecure_ignore_sct,
                ca,
            } => {
                let root = self.keyless_root(trust_root.as_deref(), ca.as_deref(), &a.tlog)?;
                let ignore_sct = *insecure_ignore_sct;
                if !a.attestations.is_empty() {
                    // policy-controller: an authority with attestations is satisfied by its
                    // attestations (each verified keylessly, from cosign v3 bundles).
                    let bundles = self.bundles(ev).await?;
                    let mut atts = serde_json::Map::new();
                    for req in &a.attestations {
                        let found = keyless_bundles(
                            bundles,
                            &ev.digest,
                            &root,
                            identities,
                            ignore_sct,
                            &req.predicate_type,
                        )
                        .map_err(|mut f| {
                            if f.code == "attestation-missing" {
                                f.reason = format!(
                                    "{}: {} (keyless attestations are read from cosign v3 bundles attached as \
                                     OCI referrers; legacy .att keyless attestations are not verified)",
                                    req.name, f.reason
                                );
                            }
                            f
                        })?;
                        let mut passed = Vec::new();
                        let mut problem = None;
                        for (m, statement) in found {
                            match check_predicate(&statement, req) {
                                Ok(()) => {
                                    let mut m = m;
                                    m["predicateType"] = Json::String(req.predicate_type.clone());
                                    passed.push(m);
                                }
                                Err(f) => problem = Some(f),
                            }
                        }
                        if passed.is_empty() {
                            return Err(problem.unwrap_or_else(|| {
                                Failure::new("attestation-missing", req.name.clone())
                            }));
                        }
                        atts.insert(req.name.clone(), Json::Array(passed));
                    }
                    return Ok(serde_json::json!({"attestations": atts}));
                }
                let mut failures = Vec::new();
                if a.format != SignatureFormat::Bundle {
                    let sigs = self.signatures(ev).await?;
                    match check_keyless(sigs, &ev.digest, &root, identities, ignore_sct) {
                        Ok(m) => return Ok(serde_json::json!({"signatures": m})),
                        Err(f) => failures.push(f),
                    }
                }
                if a.format != SignatureFormat::Legacy {
                    // cosign v3: a signing statement (sign/v1) in a bundle referrer.
                    let bundles = self.bundles(ev).await?;
                    match keyless_bundles(
                        bundles,
                        &ev.digest,
                        &root,
                        identities,
                        ignore_sct,
                        COSIGN_SIGN_PREDICATE,
                    ) {
                        Ok(found) => {
                            let m: Vec<Json> = found.into_iter().map(|(m, _)| m).collect();
                            return Ok(serde_json::json!({"signatures": m}));
                        }
                        Err(f) => failures.push(f),
                    }
                }
                // The most specific problem: one about a signature that exists beats absence.
                failures.sort_by_key(|f| u8::from(f.code == "image-unsigned"));
                Err(failures
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Failure::new("image-unsigned", "no signature")))
            }
            AuthorityKind::Key(keys) => {
                let tlog_keys = match &a.tlog {
                    Tlog::Off => None,
                    Tlog::Required { trust_root, url } => {
                        Some(self.tlog_keys(trust_root.as_deref(), url.as_deref())?)
                    }
                };
                let mut signed = Err(Failure::new("image-unsigned", "no signature"));
                if a.format != SignatureFormat::Bundle {
                    let sigs = self.signatures(ev).await?;
                    signed = check_signatures(sigs, &ev.digest, keys, tlog_keys.as_ref());
                }
                if signed.is_err() && a.format != SignatureFormat::Legacy && tlog_keys.is_none() {
                    // cosign's newer bundle format: a signing statement in a referrer.
                    let bundles = self.bundles(ev).await?;
                    let req = AttestationReq {
                        name: "signature bundle".into(),
                        predicate_type: COSIGN_SIGN_PREDICATE.into(),
                        policy: None,
                    };
                    let ids: Vec<Json> = bundles
                        .iter()
                        .filter(|b| {
                            b.envelope.as_ref().is_some_and(|env| {
                                envelope_satisfies(env, &ev.digest, keys, &req).is_ok()
                            })
                        })
                        .map(|b| serde_json::json!({"id": b.id}))
                        .collect();
                    if !ids.is_empty() {
                        signed = Ok(ids);
                    } else if a.format == SignatureFormat::Bundle {
                        signed = Err(Failure::new(
                            "image-unsigned",
                            format!(
                                "no cosign signature bundle for {} (signatureFormat: bundle)",
                                ev.digest
                            ),
                        ));
                    }
                }
                let signatures = signed?;
                if a.attestations.is_empty() {
                    return Ok(serde_json::json!({"signatures": signatures}));
                }
                let mut atts = serde_json::Map::new();
                for req in &a.attestations {
                    let found = self.check_attestation(p, a, req, keys, ev).await?;
                    atts.insert(req.name.clone(), Json::Array(found));
                }
                Ok(serde_json::json!({"attestations": atts}))
            }
        }
    }

    /// A loaded TrustRoot by name.
    fn root(&self, name: &str, field: &str) -> Result<&Arc<TrustRoot>, Failure> {
        self.trust_roots.get(name).ok_or_else(|| {
            Failure::new(
                "trust-root-missing",
                format!("{field} {name:?} names no loaded TrustRoot (pass it with -p)"),
            )
        })
    }

    /// The transparency-log keys `ctlog` names: its TrustRoot's, or the loaded TrustRoot
    /// whose `tLogs[].baseURL` is `url`.
    fn tlog_keys(
        &self,
        trust_root: Option<&str>,
        url: Option<&str>,
    ) -> Result<std::collections::BTreeMap<String, CosignVerificationKey>, Failure> {
        let refuse = |m: String| Failure::new("trust-root-missing", m);
        match trust_root {
            Some(name) => self
                .root(name, "ctlog.trustRootRef")?
                .tlog_keys_for(url)
                .map_err(refuse),
            None => {
                let url = url.unwrap_or_default();
                let production = self.production().ok();
                self.trust_roots
                    .values()
                    .chain(production.as_ref())
                    .find_map(|r| r.tlog_keys_for(Some(url)).ok())
                    .ok_or_else(|| {
                        refuse(format!(
                            "ctlog.url {url} names no transparency log of a loaded TrustRoot nor of the public-good \
                             Sigstore root; load a TrustRoot with -p and name it in ctlog.trustRootRef"
                        ))
                    })
            }
        }
    }

    /// The trust a keyless authority verifies with: its TrustRoot, with `ca-cert` replacing
    /// the certificate authorities and `ctlog` choosing the transparency log.
    fn keyless_root(
        &self,
        trust_root: Option<&str>,
        ca: Option<&[x509_cert::Certificate]>,
        tlog: &Tlog,
    ) -> Result<TrustRoot, Failure> {
        let mut root = match trust_root {
            Some(name) => TrustRoot::clone(self.root(name, "trustRootRef")?),
            None => TrustRoot::clone(&*self.production()?),
        };
        if let Some(ca) = ca {
            root.cas = ca.to_vec();
            root.material.ca_chains = ca
                .iter()
                .filter_map(|c| der::Encode::to_der(c).ok())
                .map(|d| vec![d])
                .collect();
            root.sigstore = None;
        }
        if let Tlog::Required {
            trust_root: log_root,
            url,
        } = tlog
        {
            if log_root.is_some() || url.is_some() {
                let logs = match log_root.as_deref().or(trust_root) {
                    Some(n) => self.root(n, "ctlog.trustRootRef")?.clone(),
                    None => self.production()?,
                };
                root.tlog_keys = logs
                    .tlog_keys_for(url.as_deref())
                    .map_err(|m| Failure::new("trust-root-missing", m))?;
                root.material.tlogs = logs
                    .material
                    .tlogs
                    .iter()
                    .filter(|(u, _)| {
                        url.as_deref().is_none_or(|want| {
                            u.as_deref().map(|u| u.trim_end_matches('/'))
                                == Some(want.trim_end_matches('/'))
                        })
                    })
                    .cloned()
                    .collect();
                root.sigstore = None;
            }
        }
        Ok(root)
    }

    /// The embedded public-good Sigstore root, loaded once.
    fn production(&self) -> Result<Arc<TrustRoot>, Failure> {
        self.production
            .get_or_init(|| TrustRoot::production().map(Arc::new))
            .clone()
            .map_err(|e| Failure::new("trust-root-invalid", e))
    }

    async fn signatures<'a>(&self, ev: &'a Evidence) -> Result<&'a [SigLayer], Failure> {
        ev.signatures
            .get_or_init(|| self.fetch_signatures(ev))
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// The layers of one media type under cosign's `sha256-<hex>.<suffix>` tag, with their
    /// blobs; no tag means no layers.
    async fn cosign_layers(
        &self,
        ev: &Evidence,
        suffix: &str,
        media_type: &str,
        what: &str,
    ) -> Result<Vec<(OciDescriptor, Vec<u8>)>, Failure> {
        let tag = format!("{}{}", ev.source.tag_prefix, cosign_tag(&ev.digest, suffix));
        let reference = ev.store.at_tag(&tag);
        Ok(self
            .layers_at(&ev.store, &reference, media_type, what)
            .await?
            .unwrap_or_default())
    }

    /// The layers of one media type in the manifest at `reference`, with their blobs; `None`
    /// when there is no such manifest.
    async fn layers_at(
        &self,
        image: &ImageRef,
        reference: &oci_client::Reference,
        media_type: &str,
        what: &str,
    ) -> Result<Option<Vec<(OciDescriptor, Vec<u8>)>>, Failure> {
        let manifest = match self.registry.manifest(reference).await {
            Ok(m) => m,
            Err(RegistryError::NotFound) => return Ok(None),
            Err(e) => return Err(fault(what, image, e)),
        };
        let mut out = Vec::new();
        for layer in layers(&manifest)
            .into_iter()
            .filter(|l| l.media_type == media_type)
        {
            let blob = self
                .registry
                .blob(reference, &layer)
                .await
                .map_err(|e| fault(what, image, e))?;
            out.push((layer, blob));
        }
        Ok(Some(out))
    }

    async fn fetch_signatures(&self, ev: &Evidence) -> Result<Vec<SigLayer>, Failure> {
        let layers = self
            .cosign_layers(ev, "sig", SIMPLESIGNING, "signatures")
            .await?;
        Ok(layers
            .into_iter()
            .map(|(layer, payload)| {
                let note = |k: &str| layer.annotations.as_ref().and_then(|a| a.get(k)).cloned();
                SigLayer {
                    id: layer.digest.trim_start_matches("sha256:").to_string(),
                    payload,
                    signature: note(SIGNATURE_ANNOTATION),
                    certificate: note("dev.sigstore.cosign/certificate"),
                    bundle: note("dev.sigstore.cosign/bundle"),
                }
            })
            .collect())
    }

    async fn fetch_attestations(&self, ev: &Evidence) -> Result<Vec<(String, Envelope)>, Failure> {
        let layers = self.cosign_layers(ev, "att", DSSE, "attestations").await?;
        layers
            .into_iter()
            .map(|(layer, blob)| {
                let id = layer.digest.trim_start_matches("sha256:").to_string();
                serde_json::from_slice::<Envelope>(&blob)
                    .map(|e| (id, e))
                    .map_err(|e| {
                        Failure::new(
                            "attestation-malformed",
                            format!(
                                "attestation layer {} is not a DSSE envelope: {e}",
                                layer.digest
                            ),
                        )
                    })
            })
            .collect()
    }

    /// The verified attestations of `req`'s type (policy-controller's `PolicyAttestation`s);
    /// none that verifies is an error naming the most specific problem.
    async fn check_attestation(
        &self,
        p: &ImagePolicy,
        a: &Authority,
        req: &AttestationReq,
        keys: &[CosignVerificationKey],
        ev: &Evidence,
    ) -> Result<Vec<Json>, Failure> {
        let tagged: &[(String, Envelope)] = if a.format == SignatureFormat::Bundle {
            &[]
        } else {
            ev.attestations
                .get_or_init(|| self.fetch_attestations(ev))
                .await
                .as_ref()
                .map_err(Clone::clone)?
        };
        let mut problems = Vec::new();
        let has_tagged_type = tagged
            .iter()
            .any(|(_, e)| statement_type(e).as_deref() == Some(req.predicate_type.as_str()));
        let bundled: &[BundleLayer] = if has_tagged_type || a.format == SignatureFormat::Legacy {
            &[]
        } else {
            self.bundles(ev).await?
        };
        let mut verified = Vec::new();
        let candidates = tagged.iter().map(|(id, env)| (id, env)).chain(
            bundled
                .iter()
                .filter_map(|b| b.envelope.as_ref().map(|env| (&b.id, env))),
        );
        for (id, env) in candidates {
            let Ok(payload) = base64::engine::general_purpose::STANDARD.decode(&env.payload) else {
                problems.push(Failure::new(
                    "attestation-malformed",
                    "an attestation payload is not base64",
                ));
                continue;
            };
            let Ok(statement) = serde_json::from_slice::<Json>(&payload) else {
                problems.push(Failure::new(
                    "attestation-malformed",
                    "an attestation payload is not an in-toto statement",
                ));
                continue;
            };
            if statement.get("predicateType").and_then(Json::as_str)
                != Some(req.predicate_type.as_str())
            {
                continue;
            }
            match check_statement(env, &payload, &statement, &ev.digest, keys, req) {
                Ok(()) => verified
                    .push(serde_json::json!({"id": id, "predicateType": req.predicate_type})),
                Err(f) => problems.push(f),
            }
        }
        if !verified.is_empty() {
            return Ok(verified);
        }
        if let Some(f) = problems.into_iter().next() {
            return Err(f);
        }
        // No attestation of this type at all.
        let is_sbom = req.predicate_type == "https://cyclonedx.org/bom"
            || req.predicate_type == "https://spdx.dev/Document";
        if is_sbom && p.allow_unsigned_sbom_referrer {
            let artifact_type = if req.predicate_type.contains("cyclonedx") {
                "application/vnd.cyclonedx+json"
            } else {
                "application/spdx+json"
            };
            match self
                .registry
                .referrers(&ev.store.at_digest(&ev.digest), artifact_type)
                .await
            {
                Ok(found) if !found.is_empty() => {
                    return Ok(found
                        .iter()
                        .map(|d| serde_json::json!({"id": d.digest.trim_start_matches("sha256:"), "predicateType": req.predicate_type}))
                        .collect())
                }
                Ok(_) => {}
                Err(RegistryError::NotFound) => {}
                Err(e) => return Err(fault("referrers", &ev.image, e)),
            }
        }
        let code = if is_sbom {
            "sbom-missing"
        } else {
            "attestation-missing"
        };
        Err(Failure::new(
            code,
            format!(
                "no {} attestation (predicate type {}) for {}",
                req.name, req.predicate_type, ev.digest
            ),
        ))
    }
}

/// The in-toto predicate type of cosign's newer bundle-format image signatures.
const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
const BUNDLE_ARTIFACT: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn statement_type(env: &Envelope) -> Option<String> {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .ok()?;
    let statement: Json = serde_json::from_slice(&payload).ok()?;
    statement.get("predicateType")?.as_str().map(str::to_string)
}

/// A DSSE envelope that is a valid statement of `req`'s type about `digest`, signed by a key.
fn envelope_satisfies(
    env: &Envelope,
    digest: &str,
    keys: &[CosignVerificationKey],
    req: &AttestationReq,
) -> Result<(), Failure> {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .map_err(|_| Failure::new("attestation-malformed", "payload is not base64"))?;
    let statement: Json = serde_json::from_slice(&payload)
        .map_err(|_| Failure::new("attestation-malformed", "payload is not JSON"))?;
    if statement.get("predicateType").and_then(Json::as_str) != Some(req.predicate_type.as_str()) {
        return Err(Failure::new(
            "attestation-missing",
            "another predicate type",
        ));
    }
    check_statement(env, &payload, &statement, digest, keys, req)
}

impl Verifier {
    /// Bundle-format envelopes attached to the digest as OCI referrers (referrers API or its
    /// `sha256-<hex>` tag fallback), fetched once per verification.
    async fn bundles<'a>(&self, ev: &'a Evidence) -> Result<&'a [BundleLayer], Failure> {
        ev.bundles
            .get_or_init(|| self.fetch_bundles(&ev.store, &ev.digest))
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    async fn fetch_bundles(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<BundleLayer>, Failure> {
        let subject = image.at_digest(digest);
        let referrers = match self.registry.referrers(&subject, BUNDLE_ARTIFACT).await {
            Ok(r) => r,
            Err(RegistryError::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(fault("signature bundles (referrers)", image, e)),
        };
        let mut out = Vec::new();
        for r in referrers {
            let reference = image.at_digest(&r.digest);
            // A referrer the index lists but the registry cannot serve is a fault, not absence.
            let layers = self
                .layers_at(image, &reference, BUNDLE_ARTIFACT, "a signature bundle")
                .await?
                .ok_or_else(|| {
                    Failure::fault(format!(
                        "signature bundle {} is listed but missing",
                        r.digest
                    ))
                })?;
            for (layer, blob) in layers {
                let bundle: Json = serde_json::from_slice(&blob).map_err(|e| {
                    Failure::new(
                        "image-signature-invalid",
                        format!("signature bundle {} is not JSON: {e}", layer.digest),
                    )
                })?;
                out.push(BundleLayer {
                    id: layer.digest.trim_start_matches("sha256:").to_string(),
                    envelope: bundle
                        .get("dsseEnvelope")
                        .and_then(|e| serde_json::from_value::<Envelope>(e.clone()).ok()),
                    raw: String::from_utf8_lossy(&blob).into_owned(),
                });
            }
        }
        Ok(out)
    }
}

/// The outcome of a policy whose authorities are all `static`.
fn static_outcome(p: &ImagePolicy) -> Outcome {
    let mut matches = serde_json::Map::new();
    let mut failures = Vec::new();
    for a in &p.authorities {
        match &a.kind {
            AuthorityKind::Static { pass: true, .. } => {
                matches.insert(a.name.clone(), serde_json::json!({"static": true}));
            }
            AuthorityKind::Static {
                pass: false,
                message,
            } => failures.push(Failure::new(
                "image-static-fail",
                format!(
                    "{}: {}",
                    a.name,
                    message.as_deref().unwrap_or("disallowed by static policy")
                ),
            )),
            _ => {}
        }
    }
    Outcome {
        verdict: if matches.is_empty() {
            failed(p, &failures)
        } else {
            PolicyVerdict::allow(&p.name)
        },
        matches: Json::Object(matches),
        config: None,
    }
}

/// Applies the CIP-level `spec.policy` to a policy's authority outcome: policy-controller's
/// PolicyResult (`authorityMatches`, and `config`, `spec`, `metadata`, `typemeta` as the policy
/// asks) is the input, and `data.sigstore.isCompliant` must hold. A policy that cannot be
/// evaluated denies.
fn cip_policy_verdict(
    p: &ImagePolicy,
    outcome: Outcome,
    resource: Option<&ResourceContext<'_>>,
) -> PolicyVerdict {
    let Some(policy) = &p.policy else {
        return outcome.verdict;
    };
    if outcome.verdict.verdict != Verdict::Allow {
        return outcome.verdict;
    }
    let mut input = serde_json::Map::new();
    input.insert("authorityMatches".into(), outcome.matches);
    if let Some(config) = outcome.config {
        input.insert("config".into(), config);
    }
    if let Some(r) = resource {
        if policy.include_spec {
            if let Some(spec) = r.object.get("spec") {
                input.insert("spec".into(), spec.clone());
            }
        }
        if policy.include_object_meta {
            if let Some(meta) = r.object.get("metadata") {
                input.insert("metadata".into(), meta.clone());
            }
        }
        if policy.include_type_meta && r.kind != "Pod" {
            input.insert(
                "typemeta".into(),
                serde_json::json!({"apiVersion": r.api_version, "kind": r.kind}),
            );
        }
    }
    match policy.rego.evaluate(&Json::Object(input)) {
        Ok(()) => outcome.verdict,
        Err(e) => failed(
            p,
            &[Failure::new(
                "image-policy-noncompliant",
                format!("spec.policy: {e}"),
            )],
        ),
    }
}

fn failed(p: &ImagePolicy, failures: &[Failure]) -> PolicyVerdict {
    PolicyVerdict {
        name: p.name.clone(),
        verdict: match p.mode {
            Mode::Enforce => Verdict::Deny,
            Mode::Warn => Verdict::Warn,
        },
        reasons: failures.iter().map(|f| f.reason.clone()).collect(),
        code: failures.first().map_or("image-verification", |f| f.code),
        undecided: failures.iter().any(|f| f.transient),
    }
}

/// Any `.sig` layer whose signature verifies with a trusted key and whose payload names this
/// digest satisfies the authority.
fn check_signatures(
    layers: &[SigLayer],
    digest: &str,
    keys: &[CosignVerificationKey],
    tlog_keys: Option<&std::collections::BTreeMap<String, CosignVerificationKey>>,
) -> Result<Vec<Json>, Failure> {
    if layers.is_empty() {
        return Err(Failure::new(
            "image-unsigned",
            format!(
                "no cosign signature for {digest} (no {} tag)",
                cosign_tag(digest, "sig")
            ),
        ));
    }
    let mut problems: Vec<Failure> = Vec::new();
    let mut verified_ids = Vec::new();
    for layer in layers {
        let Some(sig) = &layer.signature else {
            problems.push(Failure::new(
                "image-signature-invalid",
                "a signature layer has no signature annotation",
            ));
            continue;
        };
        let verified = keys.iter().any(|k| {
            k.verify_signature(Signature::Base64Encoded(sig.as_bytes()), &layer.payload)
                .is_ok()
        });
        if !verified {
            problems.push(Failure::new(
                "image-signature-invalid",
                "signature does not verify with the authority's key (signed by an untrusted key, or the payload was altered)",
            ));
            continue;
        }
        let payload: SimpleSigning = match serde_json::from_slice(&layer.payload) {
            Ok(p) => p,
            Err(e) => {
                problems.push(Failure::new(
                    "image-signature-invalid",
                    format!("signed payload is not a cosign simple-signing document: {e}"),
                ));
                continue;
            }
        };
        let signed = &payload.critical.image.docker_manifest_digest;
        if signed != digest {
            problems.push(Failure::new(
                "image-signature-mismatch",
                format!("signature is for {signed}, not this image's {digest} (a signature copied from another image)"),
            ));
            continue;
        }
        if let Some(tlog_keys) = tlog_keys {
            let kl = keyless::KeylessLayer {
                payload: &layer.payload,
                signature: sig,
                certificate: None,
                bundle: layer.bundle.as_deref(),
            };
            if let Err((code, reason)) = keyless::rekor_entry(&kl, "", tlog_keys, "ctlog") {
                problems.push(Failure::new(code, reason));
                continue;
            }
        }
        verified_ids.push(serde_json::json!({"id": layer.id}));
    }
    if !verified_ids.is_empty() {
        return Ok(verified_ids);
    }
    // The most specific problem first: a valid signature of another image beats a bad signature.
    problems.sort_by_key(|f| match f.code {
        "image-signature-mismatch" => 0,
        "tlog-entry-missing" | "keyless-rekor-invalid" => 1,
        _ => 2,
    });
    let code = problems[0].code;
    let mut reasons: Vec<String> = problems.into_iter().map(|f| f.reason).collect();
    reasons.dedup();
    Err(Failure::new(code, reasons.join("; ")))
}

/// Any `.sig` layer with a keyless signature that passes every keyless check for this digest.
fn check_keyless(
    layers: &[SigLayer],
    digest: &str,
    root: &TrustRoot,
    identities: &[super::policy::Identity],
    insecure_ignore_sct: bool,
) -> Result<Vec<Json>, Failure> {
    if layers.is_empty() {
        return Err(Failure::new(
            "image-unsigned",
            format!(
                "no cosign signature for {digest} (no {} tag)",
                cosign_tag(digest, "sig")
            ),
        ));
    }
    let mut problems = Vec::new();
    let mut verified = Vec::new();
    for layer in layers {
        let Some(sig) = &layer.signature else {
            continue;
        };
        let kl = keyless::KeylessLayer {
            payload: &layer.payload,
            signature: sig,
            certificate: layer.certificate.as_deref(),
            bundle: layer.bundle.as_deref(),
        };
        let (issuer, subjects) = match keyless::verify(&kl, root, identities, insecure_ignore_sct) {
            Ok(identity) => identity,
            Err((code, reason)) => {
                problems.push(Failure::new(code, reason));
                continue;
            }
        };
        match serde_json::from_slice::<SimpleSigning>(&layer.payload) {
            Ok(p) if p.critical.image.docker_manifest_digest == digest => {
                verified.push(serde_json::json!({
                    "id": layer.id,
                    "subject": subjects.first().cloned().unwrap_or_default(),
                    "issuer": issuer.unwrap_or_default(),
                }));
            }
            Ok(p) => problems.push(Failure::new(
                "image-signature-mismatch",
                format!(
                    "signature is for {}, not this image's {digest} (a signature copied from another image)",
                    p.critical.image.docker_manifest_digest
                ),
            )),
            Err(e) => problems.push(Failure::new("image-signature-invalid", format!("signed payload is not a cosign simple-signing document: {e}"))),
        }
    }
    if !verified.is_empty() {
        return Ok(verified);
    }
    let first = problems
        .first()
        .map_or("image-signature-invalid", |f| f.code);
    let mut reasons: Vec<String> = problems.into_iter().map(|f| f.reason).collect();
    reasons.dedup();
    if reasons.is_empty() {
        reasons.push("no signature layer carries a signature".into());
    }
    Err(Failure::new(first, reasons.join("; ")))
}

/// DSSE pre-authentication encoding.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn check_statement(
    env: &Envelope,
    payload: &[u8],
    statement: &Json,
    digest: &str,
    keys: &[CosignVerificationKey],
    req: &AttestationReq,
) -> Result<(), Failure> {
    if env.payload_type != INTOTO {
        return Err(Failure::new(
            "attestation-malformed",
            format!(
                "attestation payload type is {}, not {INTOTO}",
                env.payload_type
            ),
        ));
    }
    let message = pae(&env.payload_type, payload);
    let verified = env.signatures.iter().any(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(&s.sig)
            .ok()
            .is_some_and(|raw| {
                keys.iter()
                    .any(|k| k.verify_signature(Signature::Raw(&raw), &message).is_ok())
            })
    });
    if !verified {
        return Err(Failure::new(
            "attestation-signature-invalid",
            format!(
                "{} attestation signature does not verify with the authority's key",
                req.name
            ),
        ));
    }
    let hex = digest.trim_start_matches("sha256:");
    let subjects: Vec<&str> = statement
        .get("subject")
        .and_then(Json::as_array)
        .map(|s| {
            s.iter()
                .filter_map(|x| x.pointer("/digest/sha256").and_then(Json::as_str))
                .collect()
        })
        .unwrap_or_default();
    if !subjects.contains(&hex) {
        return Err(Failure::new(
            "attestation-subject-mismatch",
            format!(
                "{} attestation is about sha256:{}, not this image's {digest}",
                req.name,
                subjects.first().copied().unwrap_or("<none>")
            ),
        ));
    }
    check_predicate(statement, req)
}

/// What an attestation's content must satisfy once its signature and subject are verified: a
/// CycloneDX predicate must parse, and the attestation's Rego policy must hold.
fn check_predicate(statement: &Json, req: &AttestationReq) -> Result<(), Failure> {
    let predicate = statement.get("predicate").cloned().unwrap_or(Json::Null);
    if req.predicate_type == "https://cyclonedx.org/bom" {
        check_cyclonedx(&predicate)
            .map_err(|e| Failure::new("sbom-malformed", format!("{}: {e}", req.name)))?;
    }
    if let Some(rego) = &req.policy {
        rego.evaluate(statement)
            .map_err(|e| Failure::new("attestation-policy", format!("{} policy: {e}", req.name)))?;
    }
    Ok(())
}

/// Keyless bundles (cosign v3 referrers) whose DSSE statement has `predicate_type`, verified
/// with sigstore-verify against `root` for this digest, whose certificate matches one of the
/// identities: (policy-controller's match record, the statement) for each.
fn keyless_bundles(
    bundles: &[BundleLayer],
    digest: &str,
    root: &TrustRoot,
    identities: &[super::policy::Identity],
    insecure_ignore_sct: bool,
    predicate_type: &str,
) -> Result<Vec<(Json, Json)>, Failure> {
    let sigstore_root = root.sigstore_root().map_err(|e| {
        Failure::new(
            "trust-root-invalid",
            format!("trust root {}: {e}", root.name),
        )
    })?;
    let hex = digest.trim_start_matches("sha256:").to_string();
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for b in bundles {
        let Some(env) = &b.envelope else {
            continue;
        };
        if statement_type(env).as_deref() != Some(predicate_type) {
            continue;
        }
        let signer = super::bundle::Signer::AnyIdentity {
            skip_sct: insecure_ignore_sct,
        };
        match super::bundle::verify(
            &b.raw,
            super::bundle::Subject::Sha256(hex.clone()),
            &signer,
            &sigstore_root,
        ) {
            Ok(v) => {
                let subjects: Vec<String> = v.identity.iter().cloned().collect();
                if !keyless::identity_matches(identities, v.issuer.as_deref(), &subjects) {
                    problems.push(Failure::new(
                        "keyless-identity-mismatch",
                        format!(
                            "bundle {}: certificate identity (issuer {:?}, subject {:?}) matches none of the policy's identities",
                            b.id,
                            v.issuer.unwrap_or_default(),
                            subjects
                        ),
                    ));
                    continue;
                }
                let statement = base64::engine::general_purpose::STANDARD
                    .decode(&env.payload)
                    .ok()
                    .and_then(|p| serde_json::from_slice::<Json>(&p).ok())
                    .unwrap_or(Json::Null);
                out.push((
                    serde_json::json!({"id": b.id, "subject": subjects.first(), "issuer": v.issuer}),
                    statement,
                ));
            }
            Err((code, reason)) => {
                problems.push(Failure::new(code, format!("bundle {}: {reason}", b.id)))
            }
        }
    }
    if !out.is_empty() {
        return Ok(out);
    }
    Err(problems.into_iter().next().unwrap_or_else(|| {
        Failure::new(
            if predicate_type == COSIGN_SIGN_PREDICATE {
                "image-unsigned"
            } else {
                "attestation-missing"
            },
            format!(
                "no Sigstore bundle with predicate type {predicate_type} is attached to {digest}"
            ),
        )
    }))
}

/// Parses a CycloneDX predicate with cyclonedx-bom where it supports the spec version (1.3-1.5);
/// newer versions are accepted as raw JSON with a `bomFormat` check.
fn check_cyclonedx(predicate: &Json) -> Result<(), String> {
    if predicate.get("bomFormat").and_then(Json::as_str) != Some("CycloneDX") {
        return Err("predicate is not a CycloneDX BOM (bomFormat)".into());
    }
    let version = predicate
        .get("specVersion")
        .and_then(Json::as_str)
        .unwrap_or("");
    if matches!(version, "1.3" | "1.4" | "1.5") {
        let bytes = serde_json::to_vec(predicate).map_err(|e| e.to_string())?;
        cyclonedx_bom::models::bom::Bom::parse_from_json(bytes.as_slice())
            .map_err(|e| format!("invalid CycloneDX {version} document: {e}"))?;
    }
    Ok(())
}

/// A policy-controller Rego policy (`package sigstore`, rule `isCompliant`), compiled and
/// prepared once at load; each evaluation clones the prepared engine.
#[derive(Clone)]
pub struct SigstorePolicy {
    engine: regorus::Engine,
}

impl std::fmt::Debug for SigstorePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigstorePolicy")
    }
}

impl SigstorePolicy {
    pub fn compile(rego: &str) -> Result<Self, String> {
        let mut engine = crate::policy::new_engine();
        let src = crate::policy::Source {
            path: "sigstore-policy.rego".into(),
            text: rego.to_string(),
            builtin: false,
        };
        crate::policy::add_source(&mut engine, &src, None).map_err(|e| e.display())?;
        if !rego.contains("package sigstore") {
            return Err("policies must be `package sigstore` with an `isCompliant` rule".into());
        }
        // regorus prepares on the first evaluation; do it here so clones start prepared
        // (a compile error surfaces now, at load).
        crate::policy::prepare_rule(&mut engine, "data.sigstore.isCompliant")?;
        Ok(SigstorePolicy { engine })
    }

    /// policy-controller's contract: `data.sigstore.isCompliant` must be true (or an object
    /// with `result: true`) for `input`.
    pub fn evaluate(&self, input: &Json) -> Result<(), String> {
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::from(input.clone()));
        let v = engine
            .eval_rule("data.sigstore.isCompliant".into())
            .map_err(|e| e.to_string())?;
        let json = serde_json::to_value(&v).unwrap_or(Json::Null);
        let ok = json == Json::Bool(true) || json.get("result") == Some(&Json::Bool(true));
        if ok {
            Ok(())
        } else {
            let detail = json
                .get("error")
                .and_then(Json::as_str)
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            Err(format!("isCompliant is not true{detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn attestation_policy_contract() {
        let rego = "package sigstore\nimport rego.v1\ndefault isCompliant := false\nisCompliant if count(input.predicate.components) > 0\n";
        let policy = SigstorePolicy::compile(rego).unwrap();
        assert!(policy
            .evaluate(&serde_json::json!({"predicate": {"components": [1]}}))
            .is_ok());
        assert!(policy
            .evaluate(&serde_json::json!({"predicate": {"components": []}}))
            .is_err());
        assert!(SigstorePolicy::compile("package other\nx := 1").is_err());
    }

    #[test]
    fn cyclonedx_versions() {
        assert!(check_cyclonedx(&serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": []})).is_ok());
        assert!(
            check_cyclonedx(
                &serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1})
            )
            .is_ok(),
            "raw JSON path"
        );
        assert!(check_cyclonedx(&serde_json::json!({"specVersion": "1.5"})).is_err());
    }
}
