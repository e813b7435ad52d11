//! Verification of one image against the image policies that match it: tag -> digest once,
//! then every signature, attestation and SBOM check against that digest. Registry faults,
//! timeouts and malformed material deny (warn in warn mode) with the reason; only verdicts
//! that do not depend on a fault are cached.

use super::keyless::{self, TrustRoot};
use super::policy::{AttestationReq, Authority, AuthorityKind, ImagePolicy, Mode};
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

/// What the registry holds for one digest, fetched at most once per verification.
struct Evidence {
    image: ImageRef,
    digest: String,
    signatures: OnceCell<Result<Vec<SigLayer>, Failure>>,
    attestations: OnceCell<Result<Vec<Envelope>, Failure>>,
    /// DSSE envelopes of cosign's newer bundle format (OCI referrers), fetched only when the
    /// `.sig`/`.att` tags do not settle the question.
    bundles: OnceCell<Result<Vec<Envelope>, Failure>>,
}

/// Verifies images, with verdict and tag caches shared by every caller.
pub struct Verifier {
    registry: Registry,
    policies: Arc<Vec<ImagePolicy>>,
    verdicts: moka::future::Cache<(String, String), PolicyVerdict>,
    tags: moka::future::Cache<String, String>,
    deadline: Duration,
    verifications: AtomicUsize,
    lookups: AtomicUsize,
    trust_roots: std::collections::BTreeMap<String, Arc<TrustRoot>>,
}

/// Verifier settings.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    pub deadline: Duration,
    pub verdict_ttl: Duration,
    pub tag_ttl: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            deadline: Duration::from_secs(10),
            verdict_ttl: Duration::from_secs(300),
            tag_ttl: Duration::from_secs(30),
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
        futures::future::join_all(images.iter().map(|i| self.verify(i))).await
    }

    /// Verifies one image against every matching policy. Never fails: problems are reasons.
    pub async fn verify(&self, image: &str) -> ImageVerdict {
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
                    }],
                }
            }
        };
        let matching: Vec<&ImagePolicy> = self
            .policies
            .iter()
            .filter(|p| p.matches(&parsed))
            .collect();
        let mut verdict = ImageVerdict {
            image: image.to_string(),
            digest: parsed.reference.digest().map(str::to_string),
            verdict: Verdict::Allow,
            policies: Vec::new(),
        };
        // Static policies never touch the registry.
        let (statics, dynamic): (Vec<&ImagePolicy>, Vec<&ImagePolicy>) =
            matching.into_iter().partition(|p| p.is_static());
        for p in statics {
            verdict.policies.push(static_verdict(p));
        }
        if !dynamic.is_empty() {
            match tokio::time::timeout(self.deadline, self.verify_dynamic(&parsed, &dynamic)).await
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
        let evidence = Evidence {
            image: image.clone(),
            digest: digest.clone(),
            signatures: OnceCell::new(),
            bundles: OnceCell::new(),
            attestations: OnceCell::new(),
        };
        let mut out = Vec::new();
        for p in policies {
            let key = (digest.clone(), p.fingerprint.clone());
            self.lookups.fetch_add(1, Ordering::Relaxed);
            let result = self
                .verdicts
                .try_get_with(key, async {
                    self.verifications.fetch_add(1, Ordering::Relaxed);
                    let v = self.verify_policy(p, &evidence).await;
                    if v.1 {
                        Err(v.0)
                    } else {
                        Ok(v.0)
                    }
                })
                .await;
            out.push(match result {
                Ok(v) => v,
                Err(transient) => (*transient).clone(),
            });
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

    /// A policy's verdict, and whether it rests on a transient fault (then it is not cached).
    async fn verify_policy(&self, p: &ImagePolicy, ev: &Evidence) -> (PolicyVerdict, bool) {
        let mut failures = Vec::new();
        for a in &p.authorities {
            match self.check_authority(p, a, ev).await {
                Ok(()) => {
                    return (
                        PolicyVerdict {
                            name: p.name.clone(),
                            verdict: Verdict::Allow,
                            reasons: Vec::new(),
                            code: "",
                        },
                        false,
                    )
                }
                Err(mut f) => {
                    f.reason = format!("{}: {}", a.name, f.reason);
                    failures.push(f);
                }
            }
        }
        let transient = failures.iter().any(|f| f.transient);
        (failed(p, &failures), transient)
    }

    async fn check_authority(
        &self,
        p: &ImagePolicy,
        a: &Authority,
        ev: &Evidence,
    ) -> Result<(), Failure> {
        match &a.kind {
            AuthorityKind::Static(true) => Ok(()),
            AuthorityKind::Static(false) => {
                Err(Failure::new("image-static-fail", "static action is fail"))
            }
            AuthorityKind::Keyless {
                identities,
                trust_root,
                insecure_ignore_sct,
            } => {
                let root = match trust_root {
                    Some(name) => self.trust_roots.get(name).ok_or_else(|| {
                        Failure::new("keyless-no-trust-root", format!("trustRootRef {name:?} names no loaded TrustRoot (pass it with -p)"))
                    })?,
                    None => {
                        return Err(Failure::new(
                            "keyless-no-trust-root",
                            "keyless without trustRootRef needs the public Sigstore instance, which policyctl does not \
                             contact; load a TrustRoot with -p and name it in trustRootRef",
                        ))
                    }
                };
                let sigs = ev
                    .signatures
                    .get_or_init(|| self.fetch_signatures(&ev.image, &ev.digest))
                    .await
                    .as_ref()
                    .map_err(Clone::clone)?;
                check_keyless(sigs, &ev.digest, root, identities, *insecure_ignore_sct)?;
                if !a.attestations.is_empty() {
                    return Err(Failure::new(
                        "keyless-unsupported",
                        "attestations of keyless authorities are not verified by this version; use a key authority for attestations",
                    ));
                }
                Ok(())
            }
            AuthorityKind::Key(keys) => {
                let sigs = ev
                    .signatures
                    .get_or_init(|| self.fetch_signatures(&ev.image, &ev.digest))
                    .await
                    .as_ref()
                    .map_err(Clone::clone)?;
                if let Err(f) = check_signatures(sigs, &ev.digest, keys) {
                    // cosign's newer bundle format: a signing statement in a referrer.
                    let bundles = self.bundles(ev).await?;
                    let req = AttestationReq {
                        name: "signature bundle".into(),
                        predicate_type: COSIGN_SIGN_PREDICATE.into(),
                        policy: None,
                    };
                    let signed = bundles
                        .iter()
                        .any(|env| envelope_satisfies(env, &ev.digest, keys, &req).is_ok());
                    if !signed {
                        return Err(f);
                    }
                }
                for req in &a.attestations {
                    self.check_attestation(p, req, keys, ev).await?;
                }
                Ok(())
            }
        }
    }

    /// The layers of one media type under cosign's `sha256-<hex>.<suffix>` tag, with their
    /// blobs; no tag means no layers.
    async fn cosign_layers(
        &self,
        image: &ImageRef,
        digest: &str,
        suffix: &str,
        media_type: &str,
        what: &str,
    ) -> Result<Vec<(OciDescriptor, Vec<u8>)>, Failure> {
        let reference = image.at_tag(&cosign_tag(digest, suffix));
        Ok(self
            .layers_at(image, &reference, media_type, what)
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

    async fn fetch_signatures(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<SigLayer>, Failure> {
        let layers = self
            .cosign_layers(image, digest, "sig", SIMPLESIGNING, "signatures")
            .await?;
        Ok(layers
            .into_iter()
            .map(|(layer, payload)| {
                let note = |k: &str| layer.annotations.as_ref().and_then(|a| a.get(k)).cloned();
                SigLayer {
                    payload,
                    signature: note(SIGNATURE_ANNOTATION),
                    certificate: note("dev.sigstore.cosign/certificate"),
                    bundle: note("dev.sigstore.cosign/bundle"),
                }
            })
            .collect())
    }

    async fn fetch_attestations(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<Envelope>, Failure> {
        let layers = self
            .cosign_layers(image, digest, "att", DSSE, "attestations")
            .await?;
        layers
            .into_iter()
            .map(|(layer, blob)| {
                serde_json::from_slice::<Envelope>(&blob).map_err(|e| {
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

    async fn check_attestation(
        &self,
        p: &ImagePolicy,
        req: &AttestationReq,
        keys: &[CosignVerificationKey],
        ev: &Evidence,
    ) -> Result<(), Failure> {
        let tagged = ev
            .attestations
            .get_or_init(|| self.fetch_attestations(&ev.image, &ev.digest))
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        let mut problems = Vec::new();
        let has_tagged_type = tagged
            .iter()
            .any(|e| statement_type(e).as_deref() == Some(req.predicate_type.as_str()));
        let bundled: &[Envelope] = if has_tagged_type {
            &[]
        } else {
            self.bundles(ev).await?
        };
        for env in tagged.iter().chain(bundled) {
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
                Ok(()) => return Ok(()),
                Err(f) => problems.push(f),
            }
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
                .referrers(&ev.image.at_digest(&ev.digest), artifact_type)
                .await
            {
                Ok(found) if !found.is_empty() => return Ok(()),
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
    async fn bundles<'a>(&self, ev: &'a Evidence) -> Result<&'a [Envelope], Failure> {
        ev.bundles
            .get_or_init(|| self.fetch_bundles(&ev.image, &ev.digest))
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    async fn fetch_bundles(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<Envelope>, Failure> {
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
                if let Some(env) = bundle
                    .get("dsseEnvelope")
                    .and_then(|e| serde_json::from_value::<Envelope>(e.clone()).ok())
                {
                    out.push(env);
                }
            }
        }
        Ok(out)
    }
}

fn static_verdict(p: &ImagePolicy) -> PolicyVerdict {
    let pass = p
        .authorities
        .iter()
        .any(|a| matches!(a.kind, AuthorityKind::Static(true)));
    if pass {
        PolicyVerdict {
            name: p.name.clone(),
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            code: "",
        }
    } else {
        failed(
            p,
            &[Failure::new("image-static-fail", "static action is fail")],
        )
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
    }
}

/// Any `.sig` layer whose signature verifies with a trusted key and whose payload names this
/// digest satisfies the authority.
fn check_signatures(
    layers: &[SigLayer],
    digest: &str,
    keys: &[CosignVerificationKey],
) -> Result<(), Failure> {
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
        return Ok(());
    }
    // The most specific problem first: a valid signature of another image beats a bad signature.
    problems.sort_by_key(|f| {
        if f.code == "image-signature-mismatch" {
            0
        } else {
            1
        }
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
) -> Result<(), Failure> {
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
        if let Err((code, reason)) = keyless::verify(&kl, root, identities, insecure_ignore_sct) {
            problems.push(Failure::new(code, reason));
            continue;
        }
        match serde_json::from_slice::<SimpleSigning>(&layer.payload) {
            Ok(p) if p.critical.image.docker_manifest_digest == digest => return Ok(()),
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
    let predicate = statement.get("predicate").cloned().unwrap_or(Json::Null);
    if req.predicate_type == "https://cyclonedx.org/bom" {
        check_cyclonedx(&predicate)
            .map_err(|e| Failure::new("sbom-malformed", format!("{}: {e}", req.name)))?;
    }
    if let Some(rego) = &req.policy {
        evaluate_attestation_policy(rego, statement)
            .map_err(|e| Failure::new("attestation-policy", format!("{} policy: {e}", req.name)))?;
    }
    Ok(())
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

/// Compiles an attestation policy (`package sigstore`, rule `isCompliant`).
pub fn compile_attestation_policy(rego: &str) -> Result<regorus::Engine, String> {
    let mut engine = crate::policy::new_engine();
    let src = crate::policy::Source {
        path: "attestation-policy.rego".into(),
        text: rego.to_string(),
        builtin: false,
    };
    crate::policy::add_source(&mut engine, &src, None).map_err(|e| e.display())?;
    if !rego.contains("package sigstore") {
        return Err(
            "attestation policies must be `package sigstore` with an `isCompliant` rule".into(),
        );
    }
    Ok(engine)
}

/// policy-controller's contract: `data.sigstore.isCompliant` must be true (or an object with
/// `result: true`) for the verified statement as input.
fn evaluate_attestation_policy(rego: &str, statement: &Json) -> Result<(), String> {
    let mut engine = compile_attestation_policy(rego)?;
    engine.set_input(regorus::Value::from(statement.clone()));
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
        assert!(evaluate_attestation_policy(
            rego,
            &serde_json::json!({"predicate": {"components": [1]}})
        )
        .is_ok());
        assert!(evaluate_attestation_policy(
            rego,
            &serde_json::json!({"predicate": {"components": []}})
        )
        .is_err());
        assert!(compile_attestation_policy("package other\nx := 1").is_err());
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
