//! Verification of one image against the image policies that match it: tag -> digest once,
//! then every signature, attestation and SBOM check against that digest. Registry faults,
//! timeouts and malformed material deny (warn in warn mode) with the reason; only verdicts
//! that do not depend on a fault are cached.

pub use super::attestation::SigstorePolicy;
mod evidence;

use super::attestation::{
    check_predicate, check_statement, envelope_satisfies, statement_type, Envelope,
    COSIGN_SIGN_PREDICATE,
};
use super::failure::{fault, Failure};
use super::keyless::TrustRoot;
use super::policy::{
    AttestationReq, Authority, AuthorityKind, ImagePolicy, Mode, ResourceContext, SignatureFormat,
    SignatureSource, Tlog,
};
use super::reference::ImageRef;
use super::registry::{Registry, RegistryError};
use super::signature::{check_keyless, check_signatures, keyless_bundles, BundleLayer};
use base64::Engine as _;
use evidence::Evidence;
use serde::Serialize;
use serde_json::Value as Json;
use sigstore::crypto::CosignVerificationKey;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const BUNDLE_ARTIFACT: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

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
    /// The public-good root refreshed through TUF; `None` is the embedded snapshot.
    pub public_root: Option<Arc<TrustRoot>>,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            deadline: Duration::from_secs(10),
            verdict_ttl: Duration::from_secs(300),
            tag_ttl: Duration::from_secs(30),
            no_match: NoMatch::Deny,
            public_root: None,
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
            production: match &opts.public_root {
                Some(root) => std::sync::OnceLock::from(Ok(root.clone())),
                None => std::sync::OnceLock::new(),
            },
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
