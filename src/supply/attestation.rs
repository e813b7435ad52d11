//! DSSE envelopes and in-toto statements: cosign's `.att` layers and the statements inside
//! bundles — the PAE signature with an authority key, the subject digest, CycloneDX predicates,
//! and policy-controller's Rego policies (`package sigstore`, `isCompliant`).

use super::failure::Failure;
use super::policy::AttestationReq;
use base64::Engine as _;
use serde_json::Value as Json;
use sigstore::crypto::{CosignVerificationKey, Signature};

const INTOTO: &str = "application/vnd.in-toto+json";

/// A DSSE envelope from a `.att` layer.
#[derive(serde::Deserialize)]
pub(super) struct Envelope {
    #[serde(rename = "payloadType")]
    pub(super) payload_type: String,
    pub(super) payload: String,
    #[serde(default)]
    pub(super) signatures: Vec<EnvelopeSignature>,
}

#[derive(serde::Deserialize)]
pub(super) struct EnvelopeSignature {
    pub(super) sig: String,
}

/// The in-toto predicate type of cosign's newer bundle-format image signatures.
pub(super) const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

pub(super) fn statement_type(env: &Envelope) -> Option<String> {
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&env.payload)
        .ok()?;
    let statement: Json = serde_json::from_slice(&payload).ok()?;
    statement.get("predicateType")?.as_str().map(str::to_string)
}

/// A DSSE envelope that is a valid statement of `req`'s type about `digest`, signed by a key.
pub(super) fn envelope_satisfies(
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

/// DSSE pre-authentication encoding.
pub(super) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
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

pub(super) fn check_statement(
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
pub(super) fn check_predicate(statement: &Json, req: &AttestationReq) -> Result<(), Failure> {
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

/// Parses a CycloneDX predicate with cyclonedx-bom where it supports the spec version (1.3-1.5);
/// newer versions are accepted as raw JSON with a `bomFormat` check.
pub(super) fn check_cyclonedx(predicate: &Json) -> Result<(), String> {
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
    pub(super) engine: regorus::Engine,
}

impl std::fmt::Debug for SigstorePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigstorePolicy")
    }
}

impl SigstorePolicy {
    pub fn compile(rego: &str) -> Result<Self, String> {
        let mut engine = crate::rego::new_engine();
        let src = crate::rego::Source {
            path: "sigstore-policy.rego".into(),
            text: rego.to_string(),
            builtin: false,
        };
        crate::rego::add_source(&mut engine, &src, None).map_err(|e| e.display())?;
        if !rego.contains("package sigstore") {
            return Err("policies must be `package sigstore` with an `isCompliant` rule".into());
        }
        // regorus prepares on the first evaluation; do it here so clones start prepared
        // (a compile error surfaces now, at load).
        crate::rego::prepare_rule(&mut engine, "data.sigstore.isCompliant")?;
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
