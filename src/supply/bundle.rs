//! Sigstore bundles (v0.1–v0.3: message signatures and DSSE envelopes; Rekor v1 entries with
//! SET and inclusion proof, Rekor v2 entries with checkpoint and RFC 3161 timestamp; SCTs),
//! verified offline against a Sigstore `trusted_root.json` with the sigstore-rust verifier
//! (`sigstore-verify`), plus what it leaves to its caller: identity and issuer regular
//! expressions. The public-good production root is embedded. This module owns "is this bundle
//! valid for this artifact and this signer"; registries and policies are not its business.

use regex::Regex;
pub use sigstore_trust_root::TrustedRoot;
use sigstore_verify::types::{Artifact, ArtifactDigest, Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};

/// The public-good Sigstore production trusted root, as distributed through Sigstore's TUF
/// repository (the snapshot the sigstore-trust-root crate embeds).
pub fn production_root() -> Result<TrustedRoot, String> {
    TrustedRoot::from_json(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
        .map_err(|e| format!("the embedded production trusted root does not load: {e}"))
}

/// A `trusted_root.json`.
pub fn trusted_root(json: &str) -> Result<TrustedRoot, String> {
    TrustedRoot::from_json(json).map_err(|e| format!("not a Sigstore trusted root: {e}"))
}

/// An expected certificate value: exact, or a regular expression that must match it whole
/// (cosign's `--certificate-identity-regexp` semantics are Go's `MatchString`, unanchored;
/// policy-controller's are the same — so is ours).
#[derive(Debug, Clone)]
pub enum Expect {
    Exact(String),
    Regex(Regex),
}

impl Expect {
    fn matches(&self, actual: &str) -> bool {
        match self {
            Expect::Exact(e) => e == actual,
            Expect::Regex(r) => r.is_match(actual),
        }
    }

    fn describe(&self) -> String {
        match self {
            Expect::Exact(e) => format!("{e:?}"),
            Expect::Regex(r) => format!("matching /{}/", r.as_str()),
        }
    }
}

/// Who must have signed: a managed key, or a keyless identity and issuer.
#[derive(Debug, Clone)]
pub enum Signer {
    Key(String),
    Keyless {
        identity: Expect,
        issuer: Expect,
    },
    /// Any Fulcio certificate that verifies; the caller matches the identity it returns
    /// (policy-controller identities are a list). `skip_sct` is `insecureIgnoreSCT`.
    AnyIdentity {
        skip_sct: bool,
    },
}

/// What was signed: the bytes, or only their sha256 digest (`sha256:<hex>`).
pub enum Subject<'a> {
    Bytes(&'a [u8]),
    Sha256(String),
}

/// Why a bundle was not accepted: a stable code and the reason.
pub type Refusal = (&'static str, String);

/// What a verified bundle proved.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    pub identity: Option<String>,
    pub issuer: Option<String>,
}

/// Verifies one bundle (its JSON) for `subject` and `signer` against `root`.
pub fn verify(
    bundle_json: &str,
    subject: Subject<'_>,
    signer: &Signer,
    root: &TrustedRoot,
) -> Result<Verified, Refusal> {
    let bundle = Bundle::from_json(bundle_json)
        .map_err(|e| ("bundle-invalid", format!("not a Sigstore bundle: {e}")))?;
    let artifact = match &subject {
        Subject::Bytes(b) => Artifact::Blob(b),
        Subject::Sha256(hex) => Artifact::Digest(ArtifactDigest::sha256(
            Sha256Hash::from_hex(hex).map_err(|e| ("bundle-invalid", format!("digest: {e}")))?,
        )),
    };
    let verifier = Verifier::new(root)
        .map_err(|e| ("trust-root-invalid", format!("trusted root unusable: {e}")))?;
    match signer {
        Signer::Key(pem) => {
            let key = DerPublicKey::from_pem(pem)
                .map_err(|e| ("key-invalid", format!("not a PEM public key: {e}")))?;
            verifier
                .verify(artifact, &bundle, &PublicKeyVerificationPolicy::new(key))
                .map_err(refusal)?;
            Ok(Verified::default())
        }
        Signer::AnyIdentity { skip_sct } => {
            let mut policy = VerificationPolicy::any_identity();
            if *skip_sct {
                policy = policy.skip_sct();
            }
            let result = verifier
                .verify(artifact, &bundle, &policy)
                .map_err(refusal)?;
            Ok(Verified {
                identity: result.identity().map(|i| i.as_str().to_string()),
                issuer: result.issuer().map(str::to_string),
            })
        }
        Signer::Keyless { identity, issuer } => {
            let mut policy = VerificationPolicy::any_identity();
            if let Expect::Exact(e) = identity {
                policy = policy.require_identity(e.as_str());
            }
            if let Expect::Exact(e) = issuer {
                policy = policy.require_issuer(e.as_str());
            }
            let result = verifier
                .verify(artifact, &bundle, &policy)
                .map_err(refusal)?;
            let actual_identity = result.identity().map(|i| i.as_str().to_string());
            let actual_issuer = result.issuer().map(str::to_string);
            if !actual_identity
                .as_deref()
                .is_some_and(|i| identity.matches(i))
            {
                return Err((
                    "keyless-identity-mismatch",
                    format!(
                        "certificate identity {:?} is not {}",
                        actual_identity.unwrap_or_default(),
                        identity.describe()
                    ),
                ));
            }
            if !actual_issuer.as_deref().is_some_and(|i| issuer.matches(i)) {
                return Err((
                    "keyless-identity-mismatch",
                    format!(
                        "certificate OIDC issuer {:?} is not {}",
                        actual_issuer.unwrap_or_default(),
                        issuer.describe()
                    ),
                ));
            }
            Ok(Verified {
                identity: actual_identity,
                issuer: actual_issuer,
            })
        }
    }
}

/// The verifier's error as a stable code and a reason.
fn refusal(e: sigstore_verify::Error) -> Refusal {
    use sigstore_verify::Error as E;
    let code = match &e {
        E::IdentityMismatch { .. } | E::IssuerMismatch { .. } => "keyless-identity-mismatch",
        E::SignatureInvalid(_) => "bundle-signature-invalid",
        E::ArtifactMismatch(_) => "bundle-subject-mismatch",
        E::Certificate(_) => "keyless-certificate-invalid",
        E::TransparencyLog(_) => "tlog-entry-invalid",
        E::Timestamp(_) => "timestamp-invalid",
        E::InvalidBundle(_) | E::UnsupportedBundle(_) | E::Bundle(_) | E::Types(_) => {
            "bundle-invalid"
        }
        _ => "bundle-invalid",
    };
    (code, e.to_string())
}
