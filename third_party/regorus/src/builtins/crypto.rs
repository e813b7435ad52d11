// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(clippy::pattern_type_mismatch)]

//! `crypto.*` digests and HMACs, `io.jwt.decode` and `io.jwt.verify_hs*`, with OPA's results:
//! lowercase hex strings for digests and MACs, `[header, payload, signature_hex]` for a decoded
//! token, and `false` (not an error) for a token whose signature does not verify.

use crate::ast::{Expr, Ref};
use crate::builtins;
use crate::builtins::utils::{ensure_args_count, ensure_string};
use crate::lexer::Span;
use crate::value::Value;
use crate::*;

use anyhow::{bail, Result};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Digest;

pub fn register(m: &mut builtins::BuiltinsMap<&'static str, builtins::BuiltinFcn>) {
    m.insert("crypto.md5", (crypto_md5, 1));
    m.insert("crypto.sha1", (crypto_sha1, 1));
    m.insert("crypto.sha256", (crypto_sha256, 1));
    m.insert("crypto.hmac.md5", (hmac_md5, 2));
    m.insert("crypto.hmac.sha1", (hmac_sha1, 2));
    m.insert("crypto.hmac.sha256", (hmac_sha256, 2));
    m.insert("crypto.hmac.sha512", (hmac_sha512, 2));
    m.insert("crypto.hmac.equal", (hmac_equal, 2));
    m.insert("io.jwt.decode", (jwt_decode, 1));
    m.insert("io.jwt.verify_hs256", (jwt_verify_hs256, 2));
    m.insert("io.jwt.verify_hs384", (jwt_verify_hs384, 2));
    m.insert("io.jwt.verify_hs512", (jwt_verify_hs512, 2));
    m.insert("io.jwt.verify_rs256", (jwt_verify_rs256, 2));
    m.insert("io.jwt.verify_rs384", (jwt_verify_rs384, 2));
    m.insert("io.jwt.verify_rs512", (jwt_verify_rs512, 2));
    m.insert("io.jwt.verify_ps256", (jwt_verify_ps256, 2));
    m.insert("io.jwt.verify_ps384", (jwt_verify_ps384, 2));
    m.insert("io.jwt.verify_ps512", (jwt_verify_ps512, 2));
    m.insert("io.jwt.verify_es256", (jwt_verify_es256, 2));
    m.insert("io.jwt.verify_es384", (jwt_verify_es384, 2));
    m.insert("io.jwt.verify_es512", (jwt_verify_es512, 2));
    m.insert("io.jwt.verify_eddsa", (jwt_verify_eddsa, 2));
    m.insert("io.jwt.decode_verify", (jwt_decode_verify, 2));
    m.insert("io.jwt.encode_sign", (jwt_encode_sign, 3));
    m.insert("io.jwt.encode_sign_raw", (jwt_encode_sign_raw, 3));
}

fn digest<D: Digest>(
    name: &'static str,
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
) -> Result<Value> {
    ensure_args_count(span, name, params, args, 1)?;
    let x = ensure_string(name, &params[0], &args[0])?;
    Ok(Value::from(HEXLOWER.encode(&D::digest(x.as_bytes()))))
}

fn crypto_md5(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    digest::<md5::Md5>("crypto.md5", span, params, args)
}

fn crypto_sha1(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    digest::<sha1::Sha1>("crypto.sha1", span, params, args)
}

fn crypto_sha256(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    digest::<sha2::Sha256>("crypto.sha256", span, params, args)
}

fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    // HMAC takes a key of any length; this cannot fail.
    let mut m = <M as KeyInit>::new_from_slice(key).map_err(|e| anyhow::anyhow!("{e}"))?;
    m.update(message);
    Ok(m.finalize().into_bytes().to_vec())
}

fn hmac_hex<M: Mac + KeyInit>(
    name: &'static str,
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
) -> Result<Value> {
    ensure_args_count(span, name, params, args, 2)?;
    let x = ensure_string(name, &params[0], &args[0])?;
    let key = ensure_string(name, &params[1], &args[1])?;
    Ok(Value::from(
        HEXLOWER.encode(&mac::<M>(key.as_bytes(), x.as_bytes())?),
    ))
}

fn hmac_md5(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    hmac_hex::<Hmac<md5::Md5>>("crypto.hmac.md5", span, params, args)
}

fn hmac_sha1(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    hmac_hex::<Hmac<sha1::Sha1>>("crypto.hmac.sha1", span, params, args)
}

fn hmac_sha256(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    hmac_hex::<Hmac<sha2::Sha256>>("crypto.hmac.sha256", span, params, args)
}

fn hmac_sha512(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    hmac_hex::<Hmac<sha2::Sha512>>("crypto.hmac.sha512", span, params, args)
}

/// Constant-time comparison of two MACs (OPA: `hmac.Equal`).
fn hmac_equal(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    let name = "crypto.hmac.equal";
    ensure_args_count(span, name, params, args, 2)?;
    let a = ensure_string(name, &params[0], &args[0])?;
    let b = ensure_string(name, &params[1], &args[1])?;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let differ = a.len() != b.len()
        || a.iter()
            .zip(b.iter())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            != 0;
    Ok(Value::from(!differ))
}

/// The three base64url parts of a compact JWS.
fn jwt_parts<'a>(name: &str, param: &Expr, token: &'a str) -> Result<[&'a str; 3]> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => bail!(param
            .span()
            .error(&format!("`{name}`: encoded JWT had no period separators"))),
    }
}

fn b64url(name: &str, param: &Expr, part: &str) -> Result<Vec<u8>> {
    // OPA accepts padded and unpadded segments.
    BASE64URL_NOPAD
        .decode(part.trim_end_matches('=').as_bytes())
        .map_err(|e| anyhow::anyhow!(param.span().error(&format!("`{name}`: {e}"))))
}

fn json_part(name: &str, param: &Expr, part: &str) -> Result<Value> {
    let bytes = b64url(name, param, part)?;
    let text = core::str::from_utf8(&bytes)
        .map_err(|e| anyhow::anyhow!(param.span().error(&format!("`{name}`: {e}"))))?;
    Value::from_json_str(text)
        .map_err(|e| anyhow::anyhow!(param.span().error(&format!("`{name}`: {e}"))))
}

/// `io.jwt.decode(jwt)`: `[header, payload, signature]`, the signature as hex; the token is not
/// verified.
fn jwt_decode(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    let name = "io.jwt.decode";
    ensure_args_count(span, name, params, args, 1)?;
    let token = ensure_string(name, &params[0], &args[0])?;
    let [h, p, s] = jwt_parts(name, &params[0], &token)?;
    let header = json_part(name, &params[0], h)?;
    // A nested JWT (`cty: JWT`) carries another token as its payload; OPA decodes the outer one.
    let payload = json_part(name, &params[0], p)?;
    let signature = HEXLOWER.encode(&b64url(name, &params[0], s)?);
    Ok(Value::from(Vec::from([
        header,
        payload,
        Value::from(signature),
    ])))
}

fn jwt_verify_hmac<M: Mac + KeyInit>(
    name: &'static str,
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
) -> Result<Value> {
    ensure_args_count(span, name, params, args, 2)?;
    let token = ensure_string(name, &params[0], &args[0])?;
    let secret = ensure_string(name, &params[1], &args[1])?;
    let [h, p, s] = jwt_parts(name, &params[0], &token)?;
    let signature = b64url(name, &params[0], s)?;
    Ok(Value::from(hmac_verifies::<M>(
        &secret,
        &format!("{h}.{p}"),
        &signature,
    )))
}

fn jwt_verify_hs256(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    jwt_verify_hmac::<Hmac<sha2::Sha256>>("io.jwt.verify_hs256", span, params, args)
}

fn jwt_verify_hs384(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    jwt_verify_hmac::<Hmac<sha2::Sha384>>("io.jwt.verify_hs384", span, params, args)
}

fn jwt_verify_hs512(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    jwt_verify_hmac::<Hmac<sha2::Sha512>>("io.jwt.verify_hs512", span, params, args)
}

/// The family of an asymmetric JWS algorithm, and ring's verification algorithm for it.
#[derive(Clone, Copy)]
enum Asym {
    Rsa(&'static ring::signature::RsaParameters),
    Ec(&'static ring::signature::EcdsaVerificationAlgorithm),
    /// P-521 with SHA-512 (`ring` has no P-521).
    Es512,
    /// Ed25519 (JWS `EdDSA`).
    EdDsa,
}

/// A DER element: (tag, contents, rest).
pub(super) fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0_usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The key bits of a SubjectPublicKeyInfo: `SEQUENCE { algorithm, BIT STRING }`.
fn spki_key(spki: &[u8]) -> Option<&[u8]> {
    let (0x30, body, _) = der_next(spki)? else {
        return None;
    };
    let (0x30, _, rest) = der_next(body)? else {
        return None;
    };
    let (0x03, bits, _) = der_next(rest)? else {
        return None;
    };
    // The first byte of a BIT STRING counts unused bits; keys use whole bytes.
    match bits.split_first()? {
        (0, key) => Some(key),
        _ => None,
    }
}

/// The SubjectPublicKeyInfo of an X.509 certificate (the 7th field of TBSCertificate, the 6th
/// without the explicit version).
fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, body, _) = der_next(cert)? else {
        return None;
    };
    let (0x30, mut tbs, _) = der_next(body)? else {
        return None;
    };
    if tbs.first() == Some(&0xa0) {
        tbs = der_next(tbs)?.2;
    }
    // serial, signature, issuer, validity, subject
    for _ in 0..5 {
        tbs = der_next(tbs)?.2;
    }
    let (tag, _, rest) = der_next(tbs)?;
    if tag != 0x30 {
        return None;
    }
    Some(&tbs[..tbs.len() - rest.len()])
}

/// The public keys a `certificate` argument names, as ring wants them: PEM certificates or
/// public keys (their key bits), or a JWK / JWK set (RSA `n`/`e`, EC `x`/`y`).
enum PublicKey {
    Der(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
}

pub(super) fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut label: Option<String> = None;
    let mut body = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l.to_string());
            body.clear();
        } else if line.starts_with("-----END ") {
            if let Some(l) = label.take() {
                if let Ok(der) = data_encoding::BASE64.decode(body.as_bytes()) {
                    out.push((l, der));
                }
            }
        } else if label.is_some() {
            body.push_str(line);
        }
    }
    out
}

fn jwk_key(jwk: &Value) -> Option<PublicKey> {
    let field = |name: &str| jwk_bytes(jwk, name);
    match &jwk["kty"] {
        Value::String(k) if k.as_ref() == "RSA" => Some(PublicKey::Rsa {
            n: field("n")?,
            e: field("e")?,
        }),
        Value::String(k) if k.as_ref() == "EC" => {
            let mut point = alloc::vec![0x04_u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            Some(PublicKey::Ec(point))
        }
        // RFC 8037: an Ed25519 key is `{"kty": "OKP", "crv": "Ed25519", "x": …}`.
        Value::String(k) if k.as_ref() == "OKP" && jwk["crv"] == Value::from("Ed25519") => {
            Some(PublicKey::Der(field("x")?))
        }
        _ => None,
    }
}

fn public_keys(text: &str) -> Option<Vec<PublicKey>> {
    if text.trim_start().starts_with('{') {
        let jwk = Value::from_json_str(text).ok()?;
        return match &jwk["keys"] {
            Value::Array(keys) => Some(keys.iter().filter_map(jwk_key).collect()),
            _ => jwk_key(&jwk).map(|k| alloc::vec![k]),
        };
    }
    let mut keys = Vec::new();
    for (label, der) in pem_blocks(text) {
        let spki = match label.as_str() {
            "CERTIFICATE" => certificate_spki(&der).map(<[u8]>::to_vec),
            "PUBLIC KEY" => Some(der),
            _ => None,
        }?;
        keys.push(PublicKey::Der(spki_key(&spki)?.to_vec()));
    }
    (!keys.is_empty()).then_some(keys)
}

fn jwt_verify_asym(
    name: &'static str,
    alg: Asym,
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
) -> Result<Value> {
    ensure_args_count(span, name, params, args, 2)?;
    let token = ensure_string(name, &params[0], &args[0])?;
    let certificate = ensure_string(name, &params[1], &args[1])?;
    let [h, p, s] = jwt_parts(name, &params[0], &token)?;
    let signature = b64url(name, &params[0], s)?;
    let message = format!("{h}.{p}");
    let Some(keys) = public_keys(&certificate) else {
        bail!(params[1].span().error(&format!(
            "`{name}`: expected a PEM certificate or public key, or a JWK (set)"
        )));
    };
    Ok(Value::from(verify_with_keys(
        alg, &keys, &message, &signature,
    )))
}

/// Whether any of `keys` verifies `signature` over `message` with `alg`.
fn verify_with_keys(alg: Asym, keys: &[PublicKey], message: &str, signature: &[u8]) -> bool {
    keys.iter().any(|key| match (alg, key) {
        (Asym::Rsa(params), PublicKey::Der(der)) => {
            ring::signature::UnparsedPublicKey::new(params, der)
                .verify(message.as_bytes(), signature)
                .is_ok()
        }
        (Asym::Rsa(params), PublicKey::Rsa { n, e }) => {
            ring::signature::RsaPublicKeyComponents { n, e }
                .verify(params, message.as_bytes(), signature)
                .is_ok()
        }
        (Asym::Ec(alg), PublicKey::Der(point) | PublicKey::Ec(point)) => {
            ring::signature::UnparsedPublicKey::new(alg, point)
                .verify(message.as_bytes(), signature)
                .is_ok()
        }
        (Asym::EdDsa, PublicKey::Der(key)) => {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
                .verify(message.as_bytes(), signature)
                .is_ok()
        }
        (Asym::Es512, PublicKey::Der(point) | PublicKey::Ec(point)) => {
            use p521::ecdsa::signature::Verifier as _;
            match (
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p521::ecdsa::Signature::from_slice(signature),
            ) {
                (Ok(key), Ok(sig)) => key.verify(message.as_bytes(), &sig).is_ok(),
                _ => false,
            }
        }
        _ => false,
    })
}

macro_rules! jwt_verify_fn {
    ($fn_name:ident, $name:literal, $alg:expr) => {
        fn $fn_name(
            span: &Span,
            params: &[Ref<Expr>],
            args: &[Value],
            _strict: bool,
        ) -> Result<Value> {
            jwt_verify_asym($name, $alg, span, params, args)
        }
    };
}

jwt_verify_fn!(
    jwt_verify_rs256,
    "io.jwt.verify_rs256",
    Asym::Rsa(&ring::signature::RSA_PKCS1_2048_8192_SHA256)
);
jwt_verify_fn!(
    jwt_verify_rs384,
    "io.jwt.verify_rs384",
    Asym::Rsa(&ring::signature::RSA_PKCS1_2048_8192_SHA384)
);
jwt_verify_fn!(
    jwt_verify_rs512,
    "io.jwt.verify_rs512",
    Asym::Rsa(&ring::signature::RSA_PKCS1_2048_8192_SHA512)
);
jwt_verify_fn!(
    jwt_verify_ps256,
    "io.jwt.verify_ps256",
    Asym::Rsa(&ring::signature::RSA_PSS_2048_8192_SHA256)
);
jwt_verify_fn!(
    jwt_verify_ps384,
    "io.jwt.verify_ps384",
    Asym::Rsa(&ring::signature::RSA_PSS_2048_8192_SHA384)
);
jwt_verify_fn!(
    jwt_verify_ps512,
    "io.jwt.verify_ps512",
    Asym::Rsa(&ring::signature::RSA_PSS_2048_8192_SHA512)
);
jwt_verify_fn!(
    jwt_verify_es256,
    "io.jwt.verify_es256",
    Asym::Ec(&ring::signature::ECDSA_P256_SHA256_FIXED)
);
jwt_verify_fn!(
    jwt_verify_es384,
    "io.jwt.verify_es384",
    Asym::Ec(&ring::signature::ECDSA_P384_SHA384_FIXED)
);
jwt_verify_fn!(jwt_verify_es512, "io.jwt.verify_es512", Asym::Es512);
jwt_verify_fn!(jwt_verify_eddsa, "io.jwt.verify_eddsa", Asym::EdDsa);

/// The asymmetric algorithm a JWS `alg` names.
fn asym_alg(alg: &str) -> Option<Asym> {
    Some(match alg {
        "RS256" => Asym::Rsa(&ring::signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Asym::Rsa(&ring::signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Asym::Rsa(&ring::signature::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => Asym::Rsa(&ring::signature::RSA_PSS_2048_8192_SHA256),
        "PS384" => Asym::Rsa(&ring::signature::RSA_PSS_2048_8192_SHA384),
        "PS512" => Asym::Rsa(&ring::signature::RSA_PSS_2048_8192_SHA512),
        "ES256" => Asym::Ec(&ring::signature::ECDSA_P256_SHA256_FIXED),
        "ES384" => Asym::Ec(&ring::signature::ECDSA_P384_SHA384_FIXED),
        "ES512" => Asym::Es512,
        "EdDSA" => Asym::EdDsa,
        _ => return None,
    })
}

fn hmac_verifies<M: Mac + KeyInit>(secret: &str, message: &str, signature: &[u8]) -> bool {
    <M as KeyInit>::new_from_slice(secret.as_bytes()).is_ok_and(|mut m| {
        m.update(message.as_bytes());
        m.verify_slice(signature).is_ok()
    })
}

/// A numeric claim (`exp`, `nbf`) in nanoseconds.
fn claim_ns(payload: &Value, claim: &str) -> Option<f64> {
    match &payload[claim] {
        Value::Number(n) => n.as_f64().map(|s| s * 1e9),
        _ => None,
    }
}

/// `io.jwt.decode_verify(jwt, constraints)`: `[true, header, payload]` when the signature
/// verifies with `cert` or `secret` and the token meets `alg`, `iss`, `aud` and the time
/// (`time`, nanoseconds, default now; `exp`, `nbf`); else `[false, {}, {}]`.
fn jwt_decode_verify(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "io.jwt.decode_verify";
    ensure_args_count(span, name, params, args, 2)?;
    let token = ensure_string(name, &params[0], &args[0])?;
    let Value::Object(constraints) = &args[1] else {
        bail!(params[1]
            .span()
            .error(&format!("`{name}` expects an object of constraints")));
    };
    let (mut cert, mut secret, mut alg, mut iss, mut aud, mut time) =
        (None, None, None, None, None, None);
    for (k, v) in constraints.iter() {
        match (k, v) {
            (Value::String(k), Value::String(s)) if k.as_ref() == "cert" => cert = Some(s.clone()),
            (Value::String(k), Value::String(s)) if k.as_ref() == "secret" => {
                secret = Some(s.clone())
            }
            (Value::String(k), Value::String(s)) if k.as_ref() == "alg" => alg = Some(s.clone()),
            (Value::String(k), Value::String(s)) if k.as_ref() == "iss" => iss = Some(s.clone()),
            (Value::String(k), Value::String(s)) if k.as_ref() == "aud" => aud = Some(s.clone()),
            (Value::String(k), Value::Number(n)) if k.as_ref() == "time" => time = n.as_f64(),
            _ => bail!(params[1].span().error(&format!(
                "`{name}`: unknown token validation constraint {k}"
            ))),
        }
    }
    if cert.is_some() == secret.is_some() {
        bail!(params[1].span().error(&format!(
            "`{name}`: give exactly one of `cert` and `secret`"
        )));
    }
    let [h, p, s] = jwt_parts(name, &params[0], &token)?;
    let header = json_part(name, &params[0], h)?;
    let payload = json_part(name, &params[0], p)?;
    let signature = b64url(name, &params[0], s)?;
    let message = format!("{h}.{p}");
    let invalid = Value::from(Vec::from([
        Value::from(false),
        Value::new_object(),
        Value::new_object(),
    ]));

    let Value::String(token_alg) = &header["alg"] else {
        return Ok(invalid);
    };
    if alg.as_ref().is_some_and(|a| a != token_alg) {
        return Ok(invalid);
    }
    let verified = match (token_alg.as_ref(), &secret, &cert) {
        ("HS256", Some(k), _) => hmac_verifies::<Hmac<sha2::Sha256>>(k, &message, &signature),
        ("HS384", Some(k), _) => hmac_verifies::<Hmac<sha2::Sha384>>(k, &message, &signature),
        ("HS512", Some(k), _) => hmac_verifies::<Hmac<sha2::Sha512>>(k, &message, &signature),
        (a, _, Some(c)) => match (asym_alg(a), public_keys(c)) {
            (Some(alg), Some(keys)) => verify_with_keys(alg, &keys, &message, &signature),
            (_, None) => bail!(params[1].span().error(&format!(
                "`{name}`: `cert` is not a PEM certificate or public key, or a JWK (set)"
            ))),
            _ => false,
        },
        _ => false,
    };
    if !verified {
        return Ok(invalid);
    }

    let now = match time {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1e9)
            .unwrap_or(0.0),
    };
    if claim_ns(&payload, "exp").is_some_and(|exp| now >= exp)
        || claim_ns(&payload, "nbf").is_some_and(|nbf| now < nbf)
    {
        return Ok(invalid);
    }
    if let Some(iss) = &iss {
        if !matches!(&payload["iss"], Value::String(t) if t == iss) {
            return Ok(invalid);
        }
    }
    let audience_ok = match (&payload["aud"], &aud) {
        (Value::Undefined, None) => true,
        (Value::String(t), Some(a)) => t == a,
        (Value::Array(ts), Some(a)) => ts.iter().any(|t| matches!(t, Value::String(t) if t == a)),
        _ => false,
    };
    if !audience_ok {
        return Ok(invalid);
    }
    Ok(Value::from(Vec::from([Value::from(true), header, payload])))
}

/// JSON as Go's `json.Marshal` writes it (what OPA signs): compact, object keys sorted, `<`, `>`,
/// `&`, U+2028 and U+2029 escaped.
fn go_json(v: &Value, out: &mut String) -> core::result::Result<(), String> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => out.push_str(&v.to_string()),
        Value::String(s) => go_json_string(s, out)?,
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out)?;
            }
            out.push(']');
        }
        Value::Set(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out)?;
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, val)) in fields.iter_sorted().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let Value::String(k) = k else {
                    return Err(format!("object key {k} is not a string"));
                };
                go_json_string(k, out)?;
                out.push(':');
                go_json(val, out)?;
            }
            out.push('}');
        }
        Value::Undefined => return Err("undefined value".into()),
    }
    Ok(())
}

fn go_json_string(s: &str, out: &mut String) -> core::result::Result<(), String> {
    let quoted = serde_json::to_string(s).map_err(|e| e.to_string())?;
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(())
}

/// A JWK field as bytes (base64url, padding tolerated).
fn jwk_bytes(key: &Value, field: &str) -> Option<Vec<u8>> {
    match &key[field] {
        Value::String(s) => BASE64URL_NOPAD
            .decode(s.trim_end_matches('=').as_bytes())
            .ok(),
        _ => None,
    }
}

/// The JWS signature of `message` with the JWK `key` for `alg`.
fn jws_sign(alg: &str, key: &Value, message: &[u8]) -> core::result::Result<Vec<u8>, String> {
    use ring::signature;
    let rng = ring::rand::SystemRandom::new();
    let kty = match &key["kty"] {
        Value::String(k) => k.to_string(),
        _ => return Err("the key has no `kty`".into()),
    };
    let need =
        |field: &str| jwk_bytes(key, field).ok_or_else(|| format!("the key has no `{field}`"));
    let hmac = |k: &[u8]| -> core::result::Result<Vec<u8>, String> {
        match alg {
            "HS256" => mac::<Hmac<sha2::Sha256>>(k, message),
            "HS384" => mac::<Hmac<sha2::Sha384>>(k, message),
            _ => mac::<Hmac<sha2::Sha512>>(k, message),
        }
        .map_err(|e| e.to_string())
    };
    match (alg, kty.as_str()) {
        ("HS256" | "HS384" | "HS512", "oct") => hmac(&need("k")?),
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", "RSA") => {
            let pair = signature::RsaKeyPair::from_components(&ring::rsa::KeyPairComponents {
                public_key: signature::RsaPublicKeyComponents {
                    n: need("n")?,
                    e: need("e")?,
                },
                d: need("d")?,
                p: need("p")?,
                q: need("q")?,
                dP: need("dp")?,
                dQ: need("dq")?,
                qInv: need("qi")?,
            })
            .map_err(|e| format!("invalid RSA key: {e}"))?;
            let padding: &'static dyn signature::RsaEncoding = match alg {
                "RS256" => &signature::RSA_PKCS1_SHA256,
                "RS384" => &signature::RSA_PKCS1_SHA384,
                "RS512" => &signature::RSA_PKCS1_SHA512,
                "PS256" => &signature::RSA_PSS_SHA256,
                "PS384" => &signature::RSA_PSS_SHA384,
                _ => &signature::RSA_PSS_SHA512,
            };
            let mut sig = alloc::vec![0_u8; pair.public().modulus_len()];
            pair.sign(padding, &rng, message, &mut sig)
                .map_err(|_| "RSA signing failed".to_string())?;
            Ok(sig)
        }
        ("ES256" | "ES384", "EC") => {
            let signing = if alg == "ES256" {
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let mut point = alloc::vec![0x04_u8];
            point.extend(need("x")?);
            point.extend(need("y")?);
            let pair = signature::EcdsaKeyPair::from_private_key_and_public_key(
                signing,
                &need("d")?,
                &point,
                &rng,
            )
            .map_err(|e| format!("invalid EC key: {e}"))?;
            Ok(pair
                .sign(&rng, message)
                .map_err(|_| "ECDSA signing failed".to_string())?
                .as_ref()
                .to_vec())
        }
        ("ES512", "EC") => {
            use p521::ecdsa::signature::Signer as _;
            let key = p521::ecdsa::SigningKey::from_slice(&need("d")?)
                .map_err(|e| format!("invalid EC key: {e}"))?;
            let sig: p521::ecdsa::Signature = key.sign(message);
            Ok(sig.to_bytes().to_vec())
        }
        ("EdDSA", "OKP") => {
            if key["crv"] != Value::from("Ed25519") {
                return Err("EdDSA signs with an Ed25519 key (`crv`: `Ed25519`)".into());
            }
            let pair =
                signature::Ed25519KeyPair::from_seed_and_public_key(&need("d")?, &need("x")?)
                    .map_err(|e| format!("invalid Ed25519 key: {e}"))?;
            Ok(pair.sign(message).as_ref().to_vec())
        }
        _ => Err(format!("a `{kty}` key cannot sign `{alg}`")),
    }
}

/// Signs `header.payload` (JSON texts) with the JWK `key` per the header's `alg`.
fn jwt_encode(
    name: &'static str,
    span: &Span,
    header: &str,
    payload: &str,
    key: &Value,
) -> Result<Value> {
    let alg = match Value::from_json_str(header).map(|h| h["alg"].clone()) {
        Ok(Value::String(a)) => a,
        _ => bail!(span.error(&format!("`{name}`: the header has no `alg`"))),
    };
    let supported = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "ES512", "EdDSA",
    ];
    if !supported.contains(&alg.as_ref()) {
        // Refusing an algorithm is never a wrong token.
        return Err(anyhow::Error::new(builtins::UnsupportedError(
            span.error(&format!("`{name}`: signing with `{alg}` is not supported"))
                .to_string(),
        )));
    }
    let signing_input = format!(
        "{}.{}",
        BASE64URL_NOPAD.encode(header.as_bytes()),
        BASE64URL_NOPAD.encode(payload.as_bytes())
    );
    let signature = jws_sign(&alg, key, signing_input.as_bytes())
        .map_err(|e| anyhow::anyhow!(span.error(&format!("`{name}`: {e}"))))?;
    Ok(Value::from(format!(
        "{signing_input}.{}",
        BASE64URL_NOPAD.encode(&signature)
    )))
}

/// `io.jwt.encode_sign(headers, payload, key)`: objects, serialized as Go's `json.Marshal` does.
fn jwt_encode_sign(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "io.jwt.encode_sign";
    ensure_args_count(span, name, params, args, 3)?;
    let mut text = [String::new(), String::new()];
    for (i, t) in text.iter_mut().enumerate() {
        if !matches!(&args[i], Value::Object(_)) {
            bail!(params[i]
                .span()
                .error(&format!("`{name}` expects an object")));
        }
        go_json(&args[i], t).map_err(|e| anyhow::anyhow!(params[i].span().error(&e)))?;
    }
    if !matches!(&args[2], Value::Object(_)) {
        bail!(params[2]
            .span()
            .error(&format!("`{name}` expects a JWK object as the key")));
    }
    jwt_encode(name, span, &text[0], &text[1], &args[2])
}

/// `io.jwt.encode_sign_raw(headers, payload, key)`: JSON texts, signed as given.
fn jwt_encode_sign_raw(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "io.jwt.encode_sign_raw";
    ensure_args_count(span, name, params, args, 3)?;
    let header = ensure_string(name, &params[0], &args[0])?;
    let payload = ensure_string(name, &params[1], &args[1])?;
    let key = ensure_string(name, &params[2], &args[2])?;
    let key = Value::from_json_str(&key)
        .map_err(|e| anyhow::anyhow!(params[2].span().error(&format!("`{name}`: {e}"))))?;
    jwt_encode(name, span, &header, &payload, &key)
}
