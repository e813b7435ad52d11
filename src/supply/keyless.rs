//! Keyless (Fulcio) signatures, verified offline against a policy-controller `TrustRoot`:
//! the certificate must chain to a trusted CA, carry a matching identity (SAN subject, OIDC
//! issuer extension), hold an SCT from a trusted CT log (unless the policy sets
//! `insecureIgnoreSCT`), and be valid at the Rekor entry's integrated time, proven by a Rekor
//! SET signed by a trusted transparency-log key. Then the signature must verify with the
//! certificate's key. Fulcio certificates live ten minutes, so "now" is the wrong clock.

use super::policy::Identity;
use crate::finding::ToolError;
use base64::Engine as _;
use der::{Decode, Encode};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};
use std::collections::BTreeMap;
use x509_cert::Certificate;

/// OIDC issuer extensions Fulcio writes: legacy raw string (…1.1), DER UTF8String (…1.8).
const ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
const ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
/// Embedded SCT list (RFC 6962).
const SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
const SAN: &str = "2.5.29.17";

/// policy-controller `TrustRoot` (`spec.sigstoreKeys`), offline.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    pub name: String,
    pub cas: Vec<Certificate>,
    /// Rekor keys by log ID (hex sha256 of the key's DER SPKI).
    pub tlog_keys: BTreeMap<String, CosignVerificationKey>,
    /// `tLogs[].baseURL` → log ID, so `ctlog.url` can name one log.
    pub tlog_urls: BTreeMap<String, String>,
    /// CT log keys by log ID (sha256 of the key's DER SPKI).
    pub ct_keys: BTreeMap<[u8; 32], CosignVerificationKey>,
    /// The same material as Sigstore's `trusted_root.json` describes it, for bundle
    /// verification (sigstore-verify): CA chains, logs (URL, DER SPKI), TSA chains.
    pub material: Material,
    /// The root as sigstore-verify takes it, built once (absent after an override: rebuilt).
    pub sigstore: Option<std::sync::Arc<sigstore_trust_root::TrustedRoot>>,
}

/// A transparency or CT log: its base URL and DER SubjectPublicKeyInfo.
pub type LogEntry = (Option<String>, Vec<u8>);

/// Trust material in the shape of Sigstore's `trusted_root.json`.
#[derive(Debug, Clone, Default)]
pub struct Material {
    pub ca_chains: Vec<Vec<Vec<u8>>>,
    pub tlogs: Vec<LogEntry>,
    pub ctlogs: Vec<LogEntry>,
    pub tsa_chains: Vec<Vec<Vec<u8>>>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `keyDetails` of a DER SubjectPublicKeyInfo, as trusted_root.json names it.
fn key_details(spki_der: &[u8]) -> Result<&'static str, String> {
    use x509_cert::spki::SubjectPublicKeyInfoRef;
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| format!("not a public key: {e}"))?;
    let alg = spki.algorithm.oid.to_string();
    let param = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    Ok(match (alg.as_str(), param.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => "PKIX_ECDSA_P256_SHA_256",
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => "PKIX_ECDSA_P384_SHA_384",
        ("1.2.840.10045.2.1", Some("1.3.132.0.35")) => "PKIX_ECDSA_P521_SHA_512",
        ("1.3.101.112", _) => "PKIX_ED25519",
        ("1.2.840.113549.1.1.1", _) => "PKIX_RSA_PKCS1V15_2048_SHA256",
        _ => return Err(format!("unsupported public key algorithm {alg}")),
    })
}

impl Material {
    /// Sigstore's `trusted_root.json` for this material (no validity windows: policy-controller's
    /// TrustRoot has none, so every key and CA is trusted at any time, as there).
    pub fn trusted_root_json(&self) -> Result<Json, String> {
        let chain = |c: &Vec<Vec<u8>>| serde_json::json!({"certificates": c.iter().map(|d| serde_json::json!({"rawBytes": b64(d)})).collect::<Vec<_>>()});
        let log = |(url, spki): &LogEntry| -> Result<Json, String> {
            Ok(serde_json::json!({
                "baseUrl": url.clone().unwrap_or_default(),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(spki), "keyDetails": key_details(spki)?, "validFor": {"start": "1970-01-01T00:00:00Z"}},
                "logId": {"keyId": b64(&Sha256::digest(spki))},
            }))
        };
        Ok(serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "certificateAuthorities": self.ca_chains.iter().map(|c| serde_json::json!({"subject": {}, "uri": "", "certChain": chain(c), "validFor": {"start": "1970-01-01T00:00:00Z"}})).collect::<Vec<_>>(),
            "tlogs": self.tlogs.iter().map(log).collect::<Result<Vec<_>, _>>()?,
            "ctlogs": self.ctlogs.iter().map(log).collect::<Result<Vec<_>, _>>()?,
            "timestampAuthorities": self.tsa_chains.iter().map(|c| serde_json::json!({"subject": {}, "uri": "", "certChain": chain(c), "validFor": {"start": "1970-01-01T00:00:00Z"}})).collect::<Vec<_>>(),
        }))
    }
}

fn pem_or_base64(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.starts_with("-----BEGIN") {
        return Ok(s.to_string());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.split_whitespace().collect::<String>())
        .map_err(|e| format!("neither PEM nor base64-encoded PEM: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "base64 does not decode to PEM text".to_string())
}

fn pem_blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    pem.split(&end)
        .filter_map(|b| b.split_once(&begin).map(|(_, body)| body))
        .filter_map(|body| {
            base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .ok()
        })
        .collect()
}

/// The certificates of a PEM (or base64-encoded PEM) chain; none is an error.
pub fn certificates(text: &str) -> Result<Vec<Certificate>, String> {
    let pem = pem_or_base64(text)?;
    let certs = pem_blocks(&pem, "CERTIFICATE")
        .iter()
        .map(|der| {
            Certificate::from_der(der).map_err(|e| format!("holds an invalid certificate: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

fn key_and_id(pem: &str) -> Result<(CosignVerificationKey, [u8; 32]), String> {
    let der = pem_blocks(pem, "PUBLIC KEY")
        .into_iter()
        .next()
        .ok_or("no PUBLIC KEY block")?;
    let key = CosignVerificationKey::try_from_der(&der).map_err(|e| e.to_string())?;
    Ok((key, Sha256::digest(&der).into()))
}

// The document as policy-controller's v1alpha1 types define it; unknown fields are refused.

type TrustRootDoc = crate::strict::Manifest<TrustRootSpec>;

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TrustRootSpec {
    #[serde(default)]
    remote: Option<RemoteDoc>,
    #[serde(default)]
    repository: Option<RepositoryDoc>,
    #[serde(default)]
    sigstore_keys: Option<SigstoreKeys>,
}

/// `spec.repository`: an offline TUF repository (base64 of a gzipped tar) and its trusted
/// initial root (base64 of `root.json`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RepositoryDoc {
    root: String,
    #[serde(rename = "mirrorFS")]
    mirror_fs: String,
    #[serde(default)]
    targets: Option<String>,
}

/// `spec.remote`: a TUF mirror and its trusted initial root (base64 of `root.json`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteDoc {
    mirror: String,
    root: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SigstoreKeys {
    #[serde(default)]
    certificate_authorities: Vec<CaDoc>,
    #[serde(default, rename = "tLogs")]
    tlogs: Vec<LogDoc>,
    #[serde(default, rename = "ctLogs")]
    ctlogs: Vec<LogDoc>,
    /// RFC 3161 timestamp authorities, used by bundle verification (Rekor v2 entries carry a
    /// signed timestamp instead of an integrated time).
    #[serde(default)]
    timestamp_authorities: Vec<CaDoc>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CaDoc {
    #[serde(default)]
    #[allow(dead_code)]
    subject: Option<Json>,
    #[serde(default)]
    #[allow(dead_code)]
    uri: Option<String>,
    cert_chain: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LogDoc {
    #[serde(default, rename = "baseURL")]
    base_url: Option<String>,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: String,
}

/// Reads a TrustRoot document (`text` is the whole file, `line` where the document starts).
pub fn trust_root(doc: &Json, file: &str, text: &str, line: usize) -> Result<TrustRoot, ToolError> {
    let name = doc
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let what = format!("TrustRoot {name}");
    let origin = crate::strict::Origin { file, text, line };
    let parsed: TrustRootDoc = origin.read(doc, &what)?;
    let err = |field: &str, m: String| origin.error(field, format!("{m} ({what})"));
    let base64_field = |field: &str, v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v.split_whitespace().collect::<String>())
            .map_err(|e| err(field, format!("is not base64: {e}")))
    };
    if let Some(repo) = &parsed.spec.repository {
        if parsed.spec.sigstore_keys.is_some() || parsed.spec.remote.is_some() {
            return Err(err(
                "spec.repository",
                "give one of spec.repository, spec.remote or spec.sigstoreKeys".into(),
            ));
        }
        if repo.targets.as_deref().is_some_and(|t| t != "targets") {
            return Err(err(
                "spec.repository.targets",
                "only the default targets directory (targets) is supported".into(),
            ));
        }
        let root = base64_field("spec.repository.root", &repo.root)?;
        let tarball = base64_field("spec.repository.mirrorFS", &repo.mirror_fs)?;
        let fetched = super::tuf::from_repository(&name, &root, &tarball)
            .map_err(|e| err("spec.repository.mirrorFS", e))?;
        return Ok(fetched);
    }
    if let Some(remote) = &parsed.spec.remote {
        if parsed.spec.sigstore_keys.is_some() {
            return Err(err(
                "spec.remote",
                "give either spec.remote or spec.sigstoreKeys, not both".into(),
            ));
        }
        let root = base64::engine::general_purpose::STANDARD
            .decode(remote.root.split_whitespace().collect::<String>())
            .map_err(|e| {
                err(
                    "spec.remote.root",
                    format!("is not base64 (of root.json): {e}"),
                )
            })?;
        let source = super::tuf::TufSource {
            mirror: remote.mirror.clone(),
            root: Some(root),
            cache: None,
        };
        // Loading is synchronous and may run inside the server's runtime: fetch on a thread of
        // its own, bounded by the fetch's own timeout.
        let fetched = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(super::tuf::fetch(&source))
        })
        .join()
        .map_err(|_| err("spec.remote", "the TUF fetch failed unexpectedly".into()))?
        .map_err(|e| err("spec.remote.mirror", e))?;
        return Ok(TrustRoot { name, ..fetched });
    }
    let keys = parsed
        .spec
        .sigstore_keys
        .ok_or_else(|| err("spec.sigstoreKeys", "is required (offline keys)".into()))?;
    let mut cas = Vec::new();
    let mut material = Material::default();
    for (i, ca) in keys.certificate_authorities.iter().enumerate() {
        let chain = certificates(&ca.cert_chain).map_err(|e| {
            err(
                &format!("spec.sigstoreKeys.certificateAuthorities[{i}].certChain"),
                e,
            )
        })?;
        material.ca_chains.push(der_chain(&chain));
        cas.extend(chain);
    }
    for (i, tsa) in keys.timestamp_authorities.iter().enumerate() {
        let chain = certificates(&tsa.cert_chain).map_err(|e| {
            err(
                &format!("spec.sigstoreKeys.timestampAuthorities[{i}].certChain"),
                e,
            )
        })?;
        material.tsa_chains.push(der_chain(&chain));
    }
    if cas.is_empty() {
        return Err(err(
            "spec.sigstoreKeys.certificateAuthorities",
            "needs at least one certificate authority (certChain)".into(),
        ));
    }
    let mut tlog_keys = BTreeMap::new();
    let mut tlog_urls = BTreeMap::new();
    for (field, logs) in [("tLogs", &keys.tlogs), ("ctLogs", &keys.ctlogs)] {
        for (i, log) in logs.iter().enumerate() {
            let at = format!("spec.sigstoreKeys.{field}[{i}]");
            if log
                .hash_algorithm
                .as_deref()
                .is_some_and(|h| h != "sha-256" && h != "sha256")
            {
                return Err(err(
                    &format!("{at}.hashAlgorithm"),
                    "only sha-256 logs are supported".into(),
                ));
            }
            let pem =
                pem_or_base64(&log.public_key).map_err(|e| err(&format!("{at}.publicKey"), e))?;
            let (key, id) = key_and_id(&pem).map_err(|e| err(&format!("{at}.publicKey"), e))?;
            let spki = pem_blocks(&pem, "PUBLIC KEY")
                .into_iter()
                .next()
                .unwrap_or_default();
            key_details(&spki).map_err(|e| err(&format!("{at}.publicKey"), e))?;
            let entry = (log.base_url.clone(), spki);
            if field == "tLogs" {
                material.tlogs.push(entry);
            } else {
                material.ctlogs.push(entry);
            }
            if field == "tLogs" {
                if let Some(url) = &log.base_url {
                    tlog_urls.insert(url.trim_end_matches('/').to_string(), hex(&id));
                }
                tlog_keys.insert(hex(&id), key);
            }
        }
    }
    let ct_keys = keys
        .ctlogs
        .iter()
        .filter_map(|l| pem_or_base64(&l.public_key).ok())
        .filter_map(|pem| key_and_id(&pem).ok())
        .map(|(key, id)| (id, key))
        .collect();
    let mut root = TrustRoot {
        name,
        cas,
        tlog_keys,
        tlog_urls,
        ct_keys,
        material,
        sigstore: None,
    };
    root.sigstore = Some(std::sync::Arc::new(
        root.to_sigstore()
            .map_err(|e| err("spec.sigstoreKeys", e))?,
    ));
    Ok(root)
}

fn der_chain(chain: &[Certificate]) -> Vec<Vec<u8>> {
    chain.iter().filter_map(|c| c.to_der().ok()).collect()
}

impl TrustRoot {
    /// The root as sigstore-verify takes it (built once at load; rebuilt after an override).
    pub fn sigstore_root(
        &self,
    ) -> Result<std::sync::Arc<sigstore_trust_root::TrustedRoot>, String> {
        match &self.sigstore {
            Some(r) => Ok(r.clone()),
            None => self.to_sigstore().map(std::sync::Arc::new),
        }
    }

    fn to_sigstore(&self) -> Result<sigstore_trust_root::TrustedRoot, String> {
        let json = self.material.trusted_root_json()?;
        sigstore_trust_root::TrustedRoot::from_json(&json.to_string())
            .map_err(|e| format!("does not make a usable Sigstore trusted root: {e}"))
    }

    /// A TrustRoot from Sigstore's `trusted_root.json` (the embedded public-good root, or one
    /// given as a file): the same checks as a policy-controller TrustRoot with these keys.
    pub fn from_trusted_root_json(name: &str, text: &str) -> Result<TrustRoot, String> {
        let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let raw = |v: &Json| -> Result<Vec<u8>, String> {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .map_err(|e| format!("rawBytes is not base64: {e}"))
        };
        let chains = |field: &str| -> Result<Vec<Vec<Vec<u8>>>, String> {
            json.get(field)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .map(|ca| {
                    ca.pointer("/certChain/certificates")
                        .and_then(Json::as_array)
                        .into_iter()
                        .flatten()
                        .map(|c| raw(&c["rawBytes"]))
                        .collect()
                })
                .collect()
        };
        let logs = |field: &str| -> Result<Vec<LogEntry>, String> {
            json.get(field)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .map(|l| {
                    Ok((
                        l.get("baseUrl").and_then(Json::as_str).map(str::to_string),
                        raw(&l["publicKey"]["rawBytes"])?,
                    ))
                })
                .collect()
        };
        let material = Material {
            ca_chains: chains("certificateAuthorities")?,
            tlogs: logs("tlogs")?,
            ctlogs: logs("ctlogs")?,
            tsa_chains: chains("timestampAuthorities")?,
        };
        let cas = material
            .ca_chains
            .iter()
            .flatten()
            .map(|d| Certificate::from_der(d).map_err(|e| format!("invalid CA certificate: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let key = |spki: &Vec<u8>| -> Option<(CosignVerificationKey, [u8; 32])> {
            Some((
                CosignVerificationKey::try_from_der(spki).ok()?,
                Sha256::digest(spki).into(),
            ))
        };
        let mut tlog_keys = BTreeMap::new();
        let mut tlog_urls = BTreeMap::new();
        for (url, spki) in &material.tlogs {
            // Keys sigstore's CosignVerificationKey cannot read (Ed25519 Rekor v2 logs) are
            // still used by bundle verification.
            if let Some((k, id)) = key(spki) {
                if let Some(u) = url {
                    tlog_urls.insert(u.trim_end_matches('/').to_string(), hex(&id));
                }
                tlog_keys.insert(hex(&id), k);
            }
        }
        let ct_keys = material
            .ctlogs
            .iter()
            .filter_map(|(_, spki)| key(spki))
            .map(|(k, id)| (id, k))
            .collect();
        let sigstore = sigstore_trust_root::TrustedRoot::from_json(text)
            .map_err(|e| format!("not a Sigstore trusted root: {e}"))?;
        Ok(TrustRoot {
            name: name.to_string(),
            cas,
            tlog_keys,
            tlog_urls,
            ct_keys,
            material,
            sigstore: Some(std::sync::Arc::new(sigstore)),
        })
    }

    /// The public-good Sigstore production root, embedded (the snapshot sigstore-trust-root
    /// ships, as distributed through Sigstore's TUF repository).
    pub fn production() -> Result<TrustRoot, String> {
        Self::from_trusted_root_json(
            "sigstore-public-good",
            sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT,
        )
    }
}

impl TrustRoot {
    /// This root's transparency-log keys, narrowed to the log at `url` when one is named.
    pub fn tlog_keys_for(
        &self,
        url: Option<&str>,
    ) -> Result<BTreeMap<String, CosignVerificationKey>, String> {
        match url {
            None => Ok(self.tlog_keys.clone()),
            Some(u) => {
                let id = self.tlog_urls.get(u.trim_end_matches('/')).ok_or_else(|| {
                    format!(
                        "ctlog.url {u} names no transparency log (tLogs[].baseURL) of trust root {}",
                        self.name
                    )
                })?;
                Ok(self
                    .tlog_keys
                    .iter()
                    .filter(|(k, _)| *k == id)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect())
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a keyless signature layer carries.
pub struct KeylessLayer<'a> {
    pub payload: &'a [u8],
    pub signature: &'a str,
    pub certificate: Option<&'a str>,
    pub bundle: Option<&'a str>,
}

/// Why a keyless signature was refused; `code` is the finding code.
pub type Refusal = (&'static str, String);

fn ext_value<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a [u8]> {
    cert.tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| e.extn_value.as_bytes())
}

/// The certificate's identity: (issuer, subjects from the SAN).
pub fn identity(cert: &Certificate) -> (Option<String>, Vec<String>) {
    let issuer = ext_value(cert, ISSUER_V2)
        .and_then(|v| {
            der::asn1::Utf8StringRef::from_der(v)
                .ok()
                .map(|s| s.as_str().to_string())
        })
        .or_else(|| ext_value(cert, ISSUER_V1).map(|v| String::from_utf8_lossy(v).into_owned()));
    let mut subjects = Vec::new();
    if let Some(v) = ext_value(cert, SAN) {
        if let Ok(san) = x509_cert::ext::pkix::SubjectAltName::from_der(v) {
            for name in san.0 {
                match name {
                    x509_cert::ext::pkix::name::GeneralName::Rfc822Name(s) => {
                        subjects.push(s.to_string())
                    }
                    x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(s) => {
                        subjects.push(s.to_string())
                    }
                    _ => {}
                }
            }
        }
    }
    (issuer, subjects)
}

pub(super) fn identity_matches(
    identities: &[Identity],
    issuer: Option<&str>,
    subjects: &[String],
) -> bool {
    identities.iter().any(|id| {
        let issuer_ok = match (&id.issuer, &id.issuer_regexp) {
            (Some(want), _) => issuer == Some(want.as_str()),
            (None, Some(re)) => issuer.is_some_and(|i| re.is_match(i)),
            (None, None) => true,
        };
        let subject_ok = match (&id.subject, &id.subject_regexp) {
            (Some(want), _) => subjects.iter().any(|s| s == want),
            (None, Some(re)) => subjects.iter().any(|s| re.is_match(s)),
            (None, None) => true,
        };
        issuer_ok && subject_ok
    })
}

fn valid_at(cert: &Certificate, unix: i64) -> bool {
    let v = cert.tbs_certificate().validity();
    let nb = v.not_before.to_unix_duration().as_secs() as i64;
    let na = v.not_after.to_unix_duration().as_secs() as i64;
    nb <= unix && unix <= na
}

fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Ok(key) =
        CosignVerificationKey::try_from(issuer.tbs_certificate().subject_public_key_info())
    else {
        return false;
    };
    let Some(sig) = cert.signature().as_bytes() else {
        return false;
    };
    key.verify_signature(Signature::Raw(sig), &tbs).is_ok()
}

/// Verifies one keyless signature layer for `digest` (the payload's digest check is the
/// caller's, as for key signatures).
pub fn verify(
    layer: &KeylessLayer<'_>,
    root: &TrustRoot,
    identities: &[Identity],
    insecure_ignore_sct: bool,
) -> Result<(Option<String>, Vec<String>), Refusal> {
    let cert_pem = layer.certificate.ok_or((
        "image-signature-invalid",
        "signature has no certificate (not a keyless signature)".to_string(),
    ))?;
    let der = pem_blocks(cert_pem, "CERTIFICATE")
        .into_iter()
        .next()
        .ok_or((
            "image-signature-invalid",
            "certificate annotation is not PEM".to_string(),
        ))?;
    let cert = Certificate::from_der(&der).map_err(|e| {
        (
            "image-signature-invalid",
            format!("invalid certificate: {e}"),
        )
    })?;
    // 1. Chain: signed by a CA of the trust root.
    let Some(issuer) = root.cas.iter().find(|ca| signed_by(&cert, ca)) else {
        return Err((
            "keyless-untrusted-ca",
            format!(
                "certificate is not issued by a certificate authority of trust root {}",
                root.name
            ),
        ));
    };
    // 2. Rekor SET: proves the signature was logged at integratedTime.
    let integrated = rekor_entry(layer, cert_pem, &root.tlog_keys, &root.name)?;
    // 3. Validity at the integrated time (of the leaf and its issuer).
    if !valid_at(&cert, integrated) || !valid_at(issuer, integrated) {
        return Err((
            "keyless-expired",
            format!("certificate was not valid at the Rekor integrated time {integrated}"),
        ));
    }
    // 4. SCT from a trusted CT log.
    if !insecure_ignore_sct {
        verify_sct(&cert, issuer, root).map_err(|e| ("keyless-sct-invalid", e))?;
    }
    // 5. Identity.
    let (iss, subjects) = identity(&cert);
    if !identity_matches(identities, iss.as_deref(), &subjects) {
        return Err((
            "keyless-identity-mismatch",
            format!("certificate identity (issuer {:?}, subject {:?}) matches none of the policy's identities", iss.unwrap_or_default(), subjects),
        ));
    }
    // 6. The signature itself, with the certificate's key.
    let key = CosignVerificationKey::try_from(cert.tbs_certificate().subject_public_key_info())
        .map_err(|e| {
            (
                "image-signature-invalid",
                format!("certificate key unusable: {e}"),
            )
        })?;
    key.verify_signature(
        Signature::Base64Encoded(layer.signature.as_bytes()),
        layer.payload,
    )
    .map_err(|_| {
        (
            "image-signature-invalid",
            "signature does not verify with the certificate's key (altered payload)".to_string(),
        )
    })?;
    Ok((iss, subjects))
}

/// Verifies the Rekor bundle of a signature layer (its SET, with the given log keys) and that
/// the entry logs this signature over this payload; returns the integrated time.
pub fn rekor_entry(
    layer: &KeylessLayer<'_>,
    signer_pem: &str,
    tlog_keys: &BTreeMap<String, CosignVerificationKey>,
    root_name: &str,
) -> Result<i64, Refusal> {
    let bundle = layer.bundle.ok_or((
        "tlog-entry-missing",
        "no Rekor bundle (dev.sigstore.cosign/bundle): the signature was not logged in a transparency log"
            .to_string(),
    ))?;
    let raw = serde_json::json!({"base64Signature": layer.signature, "cert": signer_pem, "rekorBundle": serde_json::from_str::<Json>(bundle).unwrap_or(Json::Null)});
    let verified =
        sigstore::cosign::bundle::SignedArtifactBundle::new_verified(&raw.to_string(), tlog_keys)
            .map_err(|e| {
                (
                    "keyless-rekor-invalid",
                    format!(
                        "Rekor bundle does not verify with the transparency-log keys of the trust root {root_name}: {e}"
                    ),
                )
            })?;
    check_rekor_body(&verified.rekor_bundle.payload.body, layer)?;
    Ok(verified.rekor_bundle.payload.integrated_time)
}

/// The logged entry must be this signature over this payload (hashedrekord).
fn check_rekor_body(body_b64: &str, layer: &KeylessLayer<'_>) -> Result<(), Refusal> {
    let bad = |m: &str| {
        (
            "keyless-rekor-invalid",
            format!("Rekor entry does not describe this signature: {m}"),
        )
    };
    let body = base64::engine::general_purpose::STANDARD
        .decode(body_b64)
        .map_err(|_| bad("body is not base64"))?;
    let body: Json = serde_json::from_slice(&body).map_err(|_| bad("body is not JSON"))?;
    let logged_sig = body
        .pointer("/spec/signature/content")
        .and_then(Json::as_str)
        .unwrap_or("");
    let logged_hash = body
        .pointer("/spec/data/hash/value")
        .and_then(Json::as_str)
        .unwrap_or("");
    if logged_sig != layer.signature {
        return Err(bad("another signature was logged"));
    }
    if logged_hash != format!("{:x}", Sha256::digest(layer.payload)) {
        return Err(bad("another payload was logged"));
    }
    Ok(())
}

// --- SCT (RFC 6962 §3.2, precertificate entries) -------------------------------------------

/// Minimal DER TLV reading: (tag, header length, content length).
fn tlv(bytes: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)? as usize;
    if first < 0x80 {
        return Some((tag, 2, first));
    }
    let n = first & 0x7f;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *bytes.get(2 + i)? as usize;
    }
    Some((tag, 2 + n, len))
}

fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn children(content: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (_, h, l) = tlv(rest)?;
        out.push(rest.get(..h + l)?);
        rest = &rest[h + l..];
    }
    Some(out)
}

/// The TBS certificate without the SCT list extension: what the CT log signed.
pub fn precert_tbs(tbs_der: &[u8]) -> Option<Vec<u8>> {
    let sct_oid = der::asn1::ObjectIdentifier::new_unwrap(SCT_LIST)
        .to_der()
        .ok()?;
    let (tag, h, l) = tlv(tbs_der)?;
    let mut fields = Vec::new();
    for field in children(tbs_der.get(h..h + l)?)? {
        if field.first() == Some(&0xa3) {
            let (_, h3, l3) = tlv(field)?;
            let seq = field.get(h3..h3 + l3)?;
            let (stag, hs, ls) = tlv(seq)?;
            let exts: Vec<u8> = children(seq.get(hs..hs + ls)?)?
                .into_iter()
                .filter(|ext| {
                    let Some((_, he, _)) = tlv(ext) else {
                        return true;
                    };
                    !ext[he..].starts_with(&sct_oid)
                })
                .flat_map(|e| e.to_vec())
                .collect();
            fields.extend(encode(0xa3, &encode(stag, &exts)));
        } else {
            fields.extend_from_slice(field);
        }
    }
    Some(encode(tag, &fields))
}

/// The bytes a CT log signs for a precertificate SCT.
pub fn sct_signed_data(
    timestamp: u64,
    issuer_spki_der: &[u8],
    precert_tbs: &[u8],
    extensions: &[u8],
) -> Vec<u8> {
    let mut d = vec![0u8, 0u8]; // v1, certificate_timestamp
    d.extend(timestamp.to_be_bytes());
    d.extend([0u8, 1u8]); // precert_entry
    d.extend(Sha256::digest(issuer_spki_der));
    let len = precert_tbs.len();
    d.extend([(len >> 16) as u8, (len >> 8) as u8, len as u8]);
    d.extend_from_slice(precert_tbs);
    d.extend((extensions.len() as u16).to_be_bytes());
    d.extend_from_slice(extensions);
    d
}

fn verify_sct(cert: &Certificate, issuer: &Certificate, root: &TrustRoot) -> Result<(), String> {
    let value = ext_value(cert, SCT_LIST)
        .ok_or("certificate carries no SCT (set insecureIgnoreSCT to accept it)")?;
    let list = der::asn1::OctetString::from_der(value)
        .map_err(|e| format!("SCT list is not an OCTET STRING: {e}"))?;
    let list = list.as_bytes();
    let tbs = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let precert = precert_tbs(&tbs).ok_or("cannot rebuild the precertificate")?;
    let issuer_spki = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| e.to_string())?;
    let u16_at = |b: &[u8], i: usize| {
        b.get(i..i + 2)
            .map(|x| u16::from_be_bytes([x[0], x[1]]) as usize)
    };
    let total = u16_at(list, 0).ok_or("truncated SCT list")?;
    let mut rest = list.get(2..2 + total).ok_or("truncated SCT list")?;
    while !rest.is_empty() {
        let len = u16_at(rest, 0).ok_or("truncated SCT")?;
        let sct = rest.get(2..2 + len).ok_or("truncated SCT")?;
        rest = &rest[2 + len..];
        if sct.first() != Some(&0) || sct.len() < 43 {
            continue;
        }
        let log_id: [u8; 32] = sct[1..33].try_into().map_err(|_| "bad log id")?;
        let timestamp = u64::from_be_bytes(sct[33..41].try_into().map_err(|_| "bad timestamp")?);
        let ext_len = u16_at(sct, 41).ok_or("truncated SCT")?;
        let extensions = sct.get(43..43 + ext_len).ok_or("truncated SCT")?;
        let sig_at = 43 + ext_len + 2; // skip hash and signature algorithm bytes
        let sig_len = u16_at(sct, sig_at).ok_or("truncated SCT")?;
        let signature = sct
            .get(sig_at + 2..sig_at + 2 + sig_len)
            .ok_or("truncated SCT")?;
        let Some(key) = root.ct_keys.get(&log_id) else {
            continue;
        };
        let data = sct_signed_data(timestamp, &issuer_spki, &precert, extensions);
        if key
            .verify_signature(Signature::Raw(signature), &data)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(format!(
        "no SCT verifies with the CT log keys of trust root {}",
        root.name
    ))
}
