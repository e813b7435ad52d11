//! Image signatures: cosign `.sig` layers signed by a key (optionally logged in Rekor) or
//! keylessly (Fulcio certificate, Rekor SET, SCT), and cosign v3 bundles attached as OCI
//! referrers, verified keylessly with sigstore-verify. Each returns policy-controller's match
//! records, or the most specific problem.

use super::attestation::{statement_type, Envelope, COSIGN_SIGN_PREDICATE};
use super::failure::Failure;
use super::keyless::{self, TrustRoot};
use super::reference::cosign_tag;
use base64::Engine as _;
use serde_json::Value as Json;
use sigstore::cosign::payload::SimpleSigning;
use sigstore::crypto::{CosignVerificationKey, Signature};

/// One `.sig` layer.
pub(super) struct SigLayer {
    /// The layer's digest (policy-controller's signature `id`).
    pub(super) id: String,
    pub(super) payload: Vec<u8>,
    pub(super) signature: Option<String>,
    pub(super) certificate: Option<String>,
    pub(super) bundle: Option<String>,
}

/// One Sigstore bundle attached to the digest as an OCI referrer (cosign v3).
pub(super) struct BundleLayer {
    /// The layer digest's hex (policy-controller's `id`).
    pub(super) id: String,
    /// Its DSSE envelope; `None` for a message-signature bundle.
    pub(super) envelope: Option<Envelope>,
    /// The bundle's JSON, for full verification (sigstore-verify).
    pub(super) raw: String,
}

/// Any `.sig` layer whose signature verifies with a trusted key and whose payload names this
/// digest satisfies the authority.
pub(super) fn check_signatures(
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
            if let Err((code, reason)) = keyless::rekor_entry(&kl, "", tlog_keys, "named by ctlog")
            {
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
pub(super) fn check_keyless(
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

/// Keyless bundles (cosign v3 referrers) whose DSSE statement has `predicate_type`, verified
/// with sigstore-verify against `root` for this digest, whose certificate matches one of the
/// identities: (policy-controller's match record, the statement) for each.
pub(super) fn keyless_bundles(
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
