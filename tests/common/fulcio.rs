//! A self-contained Sigstore for keyless tests: a Fulcio-like CA issuing short-lived leaf
//! certificates with the OIDC issuer extension and an embedded SCT from a test CT log, a test
//! Rekor key signing SETs, and the TrustRoot document that trusts them. Built with rcgen and
//! sigstore's signer; leaf signatures are made with the openssl CLI.
#![allow(dead_code)]

use super::oci::{b64, openssl_sign, sha256, Key};
use der::{Decode, Encode};
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, KeyPair, SanType};
use serde_json::json;
use sha2::{Digest, Sha256};

pub struct TestFulcio {
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
    pub ca_pem: String,
    ct: Key,
    rekor: Key,
}

/// A leaf certificate and the openssl-usable private key that goes with it.
pub struct Leaf {
    pub cert_pem: String,
    key_dir: tempfile::TempDir,
}

impl Leaf {
    /// A base64 signature over `msg` by the leaf key (`openssl dgst -sha256 -sign`).
    pub fn sign_b64(&self, msg: &[u8]) -> String {
        b64(&openssl_sign(&self.key_dir.path().join("leaf.pem"), msg))
    }
}

/// 2026-01-01T00:00:00Z; leaves are valid for ten minutes from here.
pub const NOT_BEFORE: i64 = 1_767_225_600;

fn spki_der(key: &Key) -> Vec<u8> {
    key.public_der()
}

impl TestFulcio {
    pub fn new(name: &str) -> TestFulcio {
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test fulcio"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let ca_pem = ca_cert.pem();
        TestFulcio {
            ca_cert,
            ca_key,
            ca_pem,
            ct: Key::generate(),
            rekor: Key::generate(),
        }
    }

    /// policy-controller's TrustRoot with this CA, Rekor key and CT log key (base64 PEMs).
    pub fn trust_root_yaml(&self, name: &str) -> String {
        format!(
            "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: {name}\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n      - subject: {{organization: test, commonName: test}}\n        uri: https://fulcio.test\n        certChain: {}\n    tLogs:\n      - baseURL: https://rekor.test\n        hashAlgorithm: sha-256\n        publicKey: {}\n    ctLogs:\n      - baseURL: https://ctfe.test\n        hashAlgorithm: sha-256\n        publicKey: {}\n",
            b64(self.ca_pem.as_bytes()),
            b64(self.rekor.public_pem.as_bytes()),
            b64(self.ct.public_pem.as_bytes()),
        )
    }

    /// A leaf for `email` from OIDC `issuer`, valid ten minutes from NOT_BEFORE, with an SCT
    /// embedded when `with_sct`.
    pub fn leaf(&self, email: &str, issuer: &str, with_sct: bool) -> Leaf {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = || {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().unwrap())];
            p.serial_number = Some(42u64.into());
            p.not_before = rcgen::date_time_ymd(2026, 1, 1);
            p.not_after = rcgen::date_time_ymd(2026, 1, 1) + std::time::Duration::from_secs(600);
            p.use_authority_key_identifier_extension = true;
            p.custom_extensions = vec![CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
                issuer.as_bytes().to_vec(),
            )];
            p
        };
        let mut final_params = params();
        if with_sct {
            // The CT log signs the precertificate: the same TBS without the SCT extension.
            let precert = params()
                .signed_by(&key, &self.ca_cert, &self.ca_key)
                .unwrap();
            let parsed = x509_cert::Certificate::from_der(precert.der()).unwrap();
            let tbs = parsed.tbs_certificate().to_der().unwrap();
            let issuer_spki = self.ca_key.public_key_der();
            let timestamp: u64 = (NOT_BEFORE as u64 + 1) * 1000;
            let mut signed = vec![0u8, 0u8];
            signed.extend(timestamp.to_be_bytes());
            signed.extend([0u8, 1u8]);
            signed.extend(Sha256::digest(&issuer_spki));
            signed.extend([
                (tbs.len() >> 16) as u8,
                (tbs.len() >> 8) as u8,
                tbs.len() as u8,
            ]);
            signed.extend(&tbs);
            signed.extend([0u8, 0u8]);
            let sig = self.ct.sign(&signed);
            let mut sct = vec![0u8];
            sct.extend(Sha256::digest(spki_der(&self.ct)));
            sct.extend(timestamp.to_be_bytes());
            sct.extend([0u8, 0u8, 4u8, 3u8]);
            sct.extend((sig.len() as u16).to_be_bytes());
            sct.extend(&sig);
            let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
            list.extend((sct.len() as u16).to_be_bytes());
            list.extend(&sct);
            let octets = der::asn1::OctetString::new(list).unwrap().to_der().unwrap();
            final_params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                    octets,
                ));
        }
        let cert = final_params
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .unwrap();
        let key_dir = tempfile::tempdir().unwrap();
        std::fs::write(key_dir.path().join("leaf.pem"), key.serialize_pem()).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_dir,
        }
    }

    /// A Rekor bundle (SET) for a hashedrekord entry of `sig_b64` over `payload`, logged at
    /// `integrated_time`.
    pub fn bundle(
        &self,
        payload: &[u8],
        sig_b64: &str,
        cert_pem: &str,
        integrated_time: i64,
    ) -> String {
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": sha256(payload).trim_start_matches("sha256:")}},
                "signature": {"content": sig_b64, "publicKey": {"content": b64(cert_pem.as_bytes())}}
            }
        });
        let log_id: String = Sha256::digest(spki_der(&self.rekor))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // Canonical JSON: keys in order, no whitespace (the payload holds only strings and ints).
        let payload_json = json!({
            "body": b64(&serde_json::to_vec(&body).unwrap()),
            "integratedTime": integrated_time,
            "logID": log_id,
            "logIndex": 7,
        });
        let set = self.rekor.sign(&serde_json::to_vec(&payload_json).unwrap());
        serde_json::to_string(&json!({"SignedEntryTimestamp": b64(&set), "Payload": payload_json}))
            .unwrap()
    }
}
