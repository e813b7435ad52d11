// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

//! `crypto.x509.parse_certificate_request`, `crypto.x509.parse_keypair`,
//! `crypto.x509.parse_rsa_private_key` and `crypto.parse_private_keys`, with OPA's results:
//! Go's `x509.CertificateRequest`, `tls.Certificate` and private-key structures marshalled to
//! JSON, and OPA's JWK for `parse_rsa_private_key`.

use super::*;
use data_encoding::BASE64URL_NOPAD;

pub(super) fn register(m: &mut builtins::BuiltinsMap<&'static str, builtins::BuiltinFcn>) {
    m.insert(
        "crypto.x509.parse_certificate_request",
        (parse_certificate_request, 1),
    );
    m.insert("crypto.x509.parse_keypair", (parse_keypair, 2));
    m.insert(
        "crypto.x509.parse_rsa_private_key",
        (parse_rsa_private_key, 1),
    );
    m.insert("crypto.parse_private_keys", (parse_private_keys, 1));
}

// ---- Private keys ---------------------------------------------------------------------------

enum PrivateKey {
    Rsa {
        n: BigInt,
        e: i64,
        d: BigInt,
        p: BigInt,
        q: BigInt,
        dp: BigInt,
        dq: BigInt,
        qinv: BigInt,
    },
    Ec {
        curve: Curve,
        d: Vec<u8>,
        point: Vec<u8>,
    },
    Ed25519 {
        seed: Vec<u8>,
        public: Vec<u8>,
    },
}

fn unsigned(body: &[u8]) -> BigInt {
    BigInt::from_bytes_be(Sign::Plus, body)
}

/// Go's `ParsePKCS1PrivateKey` (two-prime keys).
fn pkcs1(der: &[u8]) -> Result<PrivateKey> {
    let err = || {
        anyhow!("x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)")
    };
    let mut s = Der(Der(der).read(SEQUENCE).ok_or_else(err)?);
    let mut int = || s.read(INTEGER).ok_or_else(err);
    let version = small_int(int()?).ok_or_else(err)?;
    if version > 1 {
        bail!("x509: unsupported private key version");
    }
    let n = big_int(int()?);
    let e = small_int(int()?).ok_or_else(err)?;
    let (d, p, q, dp, dq, qinv) = (
        big_int(int()?),
        big_int(int()?),
        big_int(int()?),
        big_int(int()?),
        big_int(int()?),
        big_int(int()?),
    );
    if n.sign() != Sign::Plus
        || d.sign() != Sign::Plus
        || p.sign() != Sign::Plus
        || q.sign() != Sign::Plus
    {
        bail!("x509: private key contains zero or negative value");
    }
    if version == 1 {
        bail!("x509: multi-prime RSA keys are not supported here");
    }
    Ok(PrivateKey::Rsa {
        n,
        e,
        d,
        p,
        q,
        dp,
        dq,
        qinv,
    })
}

/// Go's `ParseECPrivateKey` (SEC 1); `curve` from PKCS #8 when the key omits it.
fn sec1(der: &[u8], curve: Option<Curve>) -> Result<PrivateKey> {
    let err = || anyhow!("x509: failed to parse EC private key");
    let mut s = Der(Der(der).read(SEQUENCE).ok_or_else(err)?);
    if small_int(s.read(INTEGER).ok_or_else(err)?) != Some(1) {
        bail!("x509: unknown EC private key version");
    }
    let d = s.read(OCTET_STRING).ok_or_else(err)?.to_vec();
    let mut curve = curve;
    let mut point = None;
    while !s.is_empty() {
        let (tag, body, _) = s.element().ok_or_else(err)?;
        match tag {
            0xa0 => {
                curve = Some(curve_of(
                    Der(body).read(OID).and_then(oid_arcs).ok_or_else(err)?,
                )?)
            }
            0xa1 => {
                let (bits, _) = Der(body).read(0x03).and_then(bit_string).ok_or_else(err)?;
                point = Some(bits.to_vec());
            }
            _ => {}
        }
    }
    let curve = curve.ok_or_else(|| anyhow!("x509: unknown elliptic curve"))?;
    let point = match point {
        Some(p) => p,
        None => bail!("x509: EC private key without its public key is not supported here"),
    };
    Ok(PrivateKey::Ec { curve, d, point })
}

fn curve_of(oid: Vec<u64>) -> Result<Curve> {
    Ok(match oid.as_slice() {
        [1, 3, 132, 0, 33] => Curve::P224,
        [1, 2, 840, 10045, 3, 1, 7] => Curve::P256,
        [1, 3, 132, 0, 34] => Curve::P384,
        [1, 3, 132, 0, 35] => Curve::P521,
        _ => bail!("x509: unknown elliptic curve"),
    })
}

/// Go's `ParsePKCS8PrivateKey`.
fn pkcs8(der: &[u8]) -> Result<PrivateKey> {
    let err = || anyhow!("x509: failed to parse private key");
    let mut s = Der(Der(der).read(SEQUENCE).ok_or_else(err)?);
    s.read(INTEGER).ok_or_else(err)?;
    let (alg, params) = s.read(SEQUENCE).and_then(algorithm).ok_or_else(err)?;
    let key = s.read(OCTET_STRING).ok_or_else(err)?;
    match alg.as_slice() {
        [1, 2, 840, 113_549, 1, 1, 1] => pkcs1(key),
        [1, 2, 840, 10045, 2, 1] => {
            let curve = Der(params)
                .read(OID)
                .and_then(oid_arcs)
                .map(curve_of)
                .transpose()?;
            sec1(key, curve)
        }
        [1, 3, 101, 112] => {
            let seed = Der(key)
                .read(OCTET_STRING)
                .filter(|s| s.len() == 32)
                .ok_or_else(|| anyhow!("x509: invalid Ed25519 private key"))?;
            let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
                .map_err(|_| anyhow!("x509: invalid Ed25519 private key"))?;
            use ring::signature::KeyPair as _;
            Ok(PrivateKey::Ed25519 {
                seed: seed.to_vec(),
                public: pair.public_key().as_ref().to_vec(),
            })
        }
        _ => bail!(
            "x509: PKCS#8 wrapping contained private key with unknown algorithm: {}",
            oid_string(&alg)
        ),
    }
}

/// OPA's `getPrivateKeysFromPEMData`: base64 of PEM or PEM; `RSA PRIVATE KEY`, `PRIVATE KEY`
/// and `EC PRIVATE KEY` blocks, others skipped.
fn private_keys_from_pem(input: &str) -> Result<Vec<PrivateKey>> {
    let text = match BASE64.decode(input.as_bytes()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => input.to_string(),
    };
    let mut keys = Vec::new();
    for (label, der) in pem_blocks(&text) {
        match label.as_str() {
            "RSA PRIVATE KEY" => keys.push(pkcs1(&der)?),
            "PRIVATE KEY" => keys.push(pkcs8(&der)?),
            "EC PRIVATE KEY" => keys.push(sec1(&der, None)?),
            _ => {}
        }
    }
    Ok(keys)
}

/// A private key as Go's `json.Marshal` writes `*rsa.PrivateKey`, `*ecdsa.PrivateKey` or
/// `ed25519.PrivateKey`.
fn private_key_value(key: &PrivateKey) -> Value {
    match key {
        PrivateKey::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qinv,
        } => obj(alloc::vec![
            ("N", big(n)),
            ("E", Value::from(*e)),
            ("D", big(d)),
            ("Primes", Value::from(alloc::vec![big(p), big(q)])),
            (
                "Precomputed",
                obj(alloc::vec![
                    ("Dp", big(dp)),
                    ("Dq", big(dq)),
                    ("Qinv", big(qinv)),
                    ("CRTValues", Value::new_array()),
                ])
            ),
        ]),
        PrivateKey::Ec { curve, d, point } => {
            let Value::Object(public) = key_value(&Key::Ecdsa {
                curve: *curve,
                point: point.clone(),
            }) else {
                return Value::Null;
            };
            let mut fields: Vec<(&str, Value)> = alloc::vec![("D", big(&unsigned(d)))];
            for (k, v) in public.iter() {
                if let Value::String(k) = k {
                    let name: &str = match k.as_ref() {
                        "Curve" => "Curve",
                        "X" => "X",
                        _ => "Y",
                    };
                    fields.push((name, v.clone()));
                }
            }
            obj(fields)
        }
        PrivateKey::Ed25519 { seed, public } => {
            let mut bytes = seed.clone();
            bytes.extend_from_slice(public);
            Value::from(BASE64.encode(&bytes))
        }
    }
}

fn parse_private_keys(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.parse_private_keys";
    ensure_args_count(span, name, params, args, 1)?;
    let input = ensure_string(name, &params[0], &args[0])?;
    if input.is_empty() {
        return Ok(Value::Null);
    }
    let keys = private_keys_from_pem(&input)?;
    Ok(Value::from(
        keys.iter().map(private_key_value).collect::<Vec<_>>(),
    ))
}

fn b64url_big(v: &BigInt) -> Value {
    Value::from(BASE64URL_NOPAD.encode(&v.to_bytes_be().1))
}

fn parse_rsa_private_key(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.x509.parse_rsa_private_key";
    ensure_args_count(span, name, params, args, 1)?;
    let input = ensure_string(name, &params[0], &args[0])?;
    if input.is_empty() {
        bail!("input PEM data was empty");
    }
    let text = if input.starts_with("-----BEGIN") {
        input.to_string()
    } else {
        let bytes = BASE64
            .decode(input.as_bytes())
            .map_err(|e| anyhow!("illegal base64 data at input byte {}", e.position))?;
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let keys = private_keys_from_pem(&text)?;
    // OPA's JWK of the first key: RSA with its private parameters; an EC key's JWK carries
    // only its type (OPA's ECDSA private JWK has no exported parameters).
    Ok(match keys.first() {
        None => Value::Null,
        Some(PrivateKey::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qinv,
        }) => obj(alloc::vec![
            ("kty", Value::from("RSA")),
            ("n", b64url_big(n)),
            ("e", b64url_big(&BigInt::from(*e))),
            ("d", b64url_big(d)),
            ("p", b64url_big(p)),
            ("q", b64url_big(q)),
            ("dp", b64url_big(dp)),
            ("dq", b64url_big(dq)),
            ("qi", b64url_big(qinv)),
        ]),
        Some(PrivateKey::Ec { .. }) => obj(alloc::vec![("kty", Value::from("EC"))]),
        Some(PrivateKey::Ed25519 { .. }) => bail!("invalid key type: ed25519.PrivateKey"),
    })
}

// ---- Key pairs ------------------------------------------------------------------------------

fn pem_or_base64(input: &str, der_label: &str) -> Result<String> {
    let text = if input.starts_with("-----BEGIN ") {
        input.to_string()
    } else {
        let bytes = BASE64
            .decode(input.as_bytes())
            .map_err(|e| anyhow!("illegal base64 data at input byte {}", e.position))?;
        if bytes.starts_with(b"-----BEGIN") {
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            // DER: OPA wraps it in a PEM block of `der_label`.
            alloc::format!(
                "-----BEGIN {der_label}-----\n{}\n-----END {der_label}-----\n",
                BASE64.encode(&bytes)
            )
        }
    };
    Ok(text)
}

/// Whether `key` is the private half of `public` (Go's `tls.X509KeyPair` check).
fn matches(public: &Key, key: &PrivateKey) -> bool {
    match (public, key) {
        (Key::Rsa { n, e, .. }, PrivateKey::Rsa { n: kn, e: ke, .. }) => n == kn && e == ke,
        (
            Key::Ecdsa { curve, point },
            PrivateKey::Ec {
                curve: kc,
                point: kp,
                ..
            },
        ) => curve == kc && point == kp,
        (Key::Ed25519(p), PrivateKey::Ed25519 { public, .. }) => p == public,
        _ => false,
    }
}

fn parse_keypair(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.x509.parse_keypair";
    ensure_args_count(span, name, params, args, 2)?;
    let cert = ensure_string(name, &params[0], &args[0])?;
    let key = ensure_string(name, &params[1], &args[1])?;
    let cert_pem = pem_or_base64(&cert, "CERTIFICATE")?;
    let key_pem = pem_or_base64(&key, "PRIVATE KEY")?;

    let blocks = pem_blocks(&cert_pem);
    let ders: Vec<&Vec<u8>> = blocks
        .iter()
        .filter(|(l, _)| l == "CERTIFICATE")
        .map(|(_, d)| d)
        .collect();
    if ders.is_empty() {
        if blocks.iter().any(|(l, _)| l.ends_with("PRIVATE KEY")) {
            bail!("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched");
        }
        bail!("tls: failed to find any PEM data in certificate input");
    }
    let key_blocks = pem_blocks(&key_pem);
    let Some((_, key_der)) = key_blocks
        .iter()
        .find(|(l, _)| l == "PRIVATE KEY" || l.ends_with(" PRIVATE KEY"))
    else {
        if key_blocks.iter().any(|(l, _)| l == "CERTIFICATE") {
            bail!("tls: found a certificate rather than a key in the PEM for the private key");
        }
        bail!("tls: failed to find any PEM data in key input");
    };
    // Go tries PKCS #1, then PKCS #8, then SEC 1.
    let private = pkcs1(key_der)
        .or_else(|_| pkcs8(key_der))
        .or_else(|_| sec1(key_der, None))
        .map_err(|_| anyhow!("tls: failed to parse private key"))?;
    let (leaf, _) = parse_certificate(ders[0])?;
    if !matches(&leaf.key, &private) {
        bail!("tls: private key does not match public key");
    }
    Ok(obj(alloc::vec![
        (
            "Certificate",
            Value::from(
                ders.iter()
                    .map(|d| Value::from(BASE64.encode(d)))
                    .collect::<Vec<_>>()
            )
        ),
        ("PrivateKey", private_key_value(&private)),
        ("SupportedSignatureAlgorithms", Value::Null),
        ("OCSPStaple", Value::Null),
        ("SignedCertificateTimestamps", Value::Null),
        ("Leaf", leaf.to_value(false)),
    ]))
}

// ---- Certificate requests -------------------------------------------------------------------

/// A value of `asn1.Unmarshal` into `any` for the types CSR attributes carry.
fn asn1_any(tag: u8, body: &[u8]) -> Option<Value> {
    Some(match tag {
        0x01 => Value::from(body.first().copied().unwrap_or(0) != 0),
        INTEGER => Value::from(Number::from(big_int(body))),
        OCTET_STRING => Value::from(BASE64.encode(body)),
        OID => oid_value(&oid_arcs(body)?),
        0x0c | 0x13 | 0x16 | 0x12 | 0x14 | 0x1e => Value::from(asn1_string(tag, body).ok()?),
        _ => return None,
    })
}

/// Go's `parseRawAttributes`: attributes that are a SET of SEQUENCEs of (OID, value); others
/// (challengePassword, an extension request with a critical flag) are skipped.
fn csr_attribute(attr: &[u8]) -> Option<Value> {
    let mut a = Der(attr);
    let t = oid_arcs(a.read(OID)?)?;
    let mut set = Der(a.read(SET)?);
    if !a.is_empty() {
        return None;
    }
    let mut values = Vec::new();
    while !set.is_empty() {
        let mut seq = Der(set.read(SEQUENCE)?);
        let mut inner = Vec::new();
        while !seq.is_empty() {
            let mut atv = Der(seq.read(SEQUENCE)?);
            let oid = oid_arcs(atv.read(OID)?)?;
            let (tag, body, _) = atv.element()?;
            if !atv.is_empty() {
                return None;
            }
            inner.push(obj(alloc::vec![
                ("Type", oid_value(&oid)),
                ("Value", asn1_any(tag, body)?),
            ]));
        }
        values.push(Value::from(inner));
    }
    Some(obj(alloc::vec![
        ("Type", oid_value(&t)),
        ("Value", Value::from(values)),
    ]))
}

fn parse_certificate_request(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.x509.parse_certificate_request";
    ensure_args_count(span, name, params, args, 1)?;
    let input = ensure_string(name, &params[0], &args[0])?;
    let bytes = if input.starts_with("-----BEGIN CERTIFICATE REQUEST-----") {
        input.as_bytes().to_vec()
    } else {
        BASE64
            .decode(input.as_bytes())
            .map_err(|e| anyhow!("illegal base64 data at input byte {}", e.position))?
    };
    let text = String::from_utf8_lossy(&bytes);
    let der = match pem_blocks(&text).into_iter().next() {
        Some((label, _)) if label != "CERTIFICATE REQUEST" => {
            bail!("invalid PEM-encoded certificate signing request")
        }
        Some((_, der)) => der,
        None => bytes,
    };
    csr_value(&der)
        .ok_or_else(|| anyhow!("asn1: structure error: malformed certificate request"))?
}

fn csr_value(der: &[u8]) -> Option<Result<Value>> {
    let mut input = Der(der);
    let (tag, body, raw) = input.element()?;
    if tag != SEQUENCE {
        return None;
    }
    let mut csr = Der(body);
    let (tag, tbs_body, raw_tbs) = csr.element()?;
    if tag != SEQUENCE {
        return None;
    }
    let (sig_oid, sig_params) = csr.read(SEQUENCE).and_then(algorithm)?;
    let (sig, _) = csr.read(0x03).and_then(bit_string)?;
    let mut tbs = Der(tbs_body);
    let version = small_int(tbs.read(INTEGER)?)?;
    let (tag, subject_body, raw_subject) = tbs.element()?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, spki_body, raw_spki) = tbs.element()?;
    if tag != SEQUENCE {
        return None;
    }
    let mut spki = Der(spki_body);
    let (pk_oid, pk_params) = spki.read(SEQUENCE).and_then(algorithm)?;
    let (key_bits, _) = spki.read(0x03).and_then(bit_string)?;
    let attributes = tbs.optional(0xa0)?.unwrap_or_default();

    let subject = match parse_name(subject_body) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let (pk_alg, key) = match parse_public_key(&pk_oid, pk_params, key_bits) {
        Ok(k) => k,
        Err(e) => return Some(Err(e)),
    };
    let mut attrs = Vec::new();
    let mut extensions: Vec<(Vec<u64>, bool, Vec<u8>)> = Vec::new();
    let mut a = Der(attributes);
    while !a.is_empty() {
        let attr = a.read(SEQUENCE)?;
        if let Some(v) = csr_attribute(attr) {
            attrs.push(v);
        }
        // Go's parseCSRExtensions: the extensionRequest attribute's extensions.
        let mut at = Der(attr);
        if oid_arcs(at.read(OID)?)? == [1, 2, 840, 113_549, 1, 9, 14] {
            let mut values = Der(at.read(SET)?);
            let mut exts = Der(values.read(SEQUENCE)?);
            while !exts.is_empty() {
                let mut e = Der(exts.read(SEQUENCE)?);
                let id = oid_arcs(e.read(OID)?)?;
                let critical = matches!(e.optional(0x01)?, Some([b]) if *b != 0);
                let value = e.read(OCTET_STRING)?.to_vec();
                extensions.push((id, critical, value));
            }
        }
    }
    // Subject alternative names, through the certificate parser's SAN reader.
    let mut names = Certificate::default();
    for (id, _, value) in &extensions {
        if id == &[2, 5, 29, 17] {
            if let Err(e) = parse_san(&mut names, value) {
                return Some(Err(e));
            }
        }
    }
    names.extensions = extensions;
    let full = names.to_value(false);
    let field = |k: &str| full[k].clone();
    Some(Ok(obj(alloc::vec![
        ("Raw", Value::from(BASE64.encode(raw))),
        (
            "RawTBSCertificateRequest",
            Value::from(BASE64.encode(raw_tbs))
        ),
        (
            "RawSubjectPublicKeyInfo",
            Value::from(BASE64.encode(raw_spki))
        ),
        ("RawSubject", Value::from(BASE64.encode(raw_subject))),
        ("Version", Value::from(version)),
        ("Signature", Value::from(BASE64.encode(sig))),
        (
            "SignatureAlgorithm",
            Value::from(signature_algorithm(&sig_oid, sig_params))
        ),
        ("PublicKeyAlgorithm", Value::from(pk_alg)),
        ("PublicKey", key_value(&key)),
        ("Subject", subject.to_value()),
        (
            "Attributes",
            if attrs.is_empty() {
                Value::Null
            } else {
                Value::from(attrs)
            }
        ),
        ("Extensions", field("Extensions")),
        ("ExtraExtensions", Value::Null),
        ("DNSNames", field("DNSNames")),
        ("EmailAddresses", field("EmailAddresses")),
        ("IPAddresses", field("IPAddresses")),
        ("URIs", field("URIs")),
    ])))
}
