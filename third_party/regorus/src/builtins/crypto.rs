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
    let signing_input = format!("{h}.{p}");
    let mut m =
        <M as KeyInit>::new_from_slice(secret.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    m.update(signing_input.as_bytes());
    Ok(Value::from(m.verify_slice(&signature).is_ok()))
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
