// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::indexing_slicing
)]

//! `crypto.x509.parse_certificates`, `crypto.x509.parse_and_verify_certificates` and
//! `crypto.x509.parse_and_verify_certificates_with_options`, with OPA's results.
//!
//! OPA returns Go's `x509.Certificate` marshalled to JSON (plus `URIStrings`), so the parser
//! below follows Go's `crypto/x509` parser (`parser.go`) field by field: the same fields, the
//! same zero values (`null` for absent lists and byte strings, `0`/`false` for absent
//! numbers), the same enumerations (`SignatureAlgorithm`, `PublicKeyAlgorithm`, `KeyUsage`,
//! `ExtKeyUsage`), byte strings in standard base64, times in RFC 3339 and big integers as JSON
//! numbers. Chain verification follows `Certificate.Verify` with OPA's pools: the first
//! certificate is the root, the last the leaf, the others intermediates.

use crate::ast::{Expr, Ref};
use crate::builtins;
use crate::builtins::crypto::{der_next, pem_blocks};
use crate::builtins::utils::{ensure_args_count, ensure_object, ensure_string};
use crate::lexer::Span;
use crate::number::Number;
use crate::value::Value;
use crate::*;

use alloc::collections::BTreeMap;
use anyhow::{anyhow, bail, Result};
use core::net::IpAddr;
use data_encoding::BASE64;
use num_bigint::{BigInt, Sign};

pub fn register(m: &mut builtins::BuiltinsMap<&'static str, builtins::BuiltinFcn>) {
    m.insert("crypto.x509.parse_certificates", (parse_certificates, 1));
    m.insert(
        "crypto.x509.parse_and_verify_certificates",
        (parse_and_verify_certificates, 1),
    );
    m.insert(
        "crypto.x509.parse_and_verify_certificates_with_options",
        (parse_and_verify_certificates_with_options, 2),
    );
    keys::register(m);
}

#[path = "x509_keys.rs"]
mod keys;

// ---- DER reading (Go's cryptobyte, for the tags X.509 uses) ----------------------------

pub(super) struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element: (tag, contents, whole element).
    fn element(&mut self) -> Option<(u8, &'a [u8], &'a [u8])> {
        let input = self.0;
        let (tag, body, rest) = der_next(input)?;
        self.0 = rest;
        Some((tag, body, &input[..input.len() - rest.len()]))
    }

    /// The contents of the next element, which must carry `tag`.
    fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.element()? {
            (t, body, _) if t == tag => Some(body),
            _ => None,
        }
    }

    /// The next element if it carries `tag`; `Some(None)` when it is absent.
    fn optional(&mut self, tag: u8) -> Option<Option<&'a [u8]>> {
        if self.peek() == Some(tag) {
            self.read(tag).map(Some)
        } else {
            Some(None)
        }
    }
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;

pub(super) fn malformed(what: &str) -> anyhow::Error {
    anyhow!("x509: malformed {what}")
}

pub(super) fn oid_arcs(body: &[u8]) -> Option<Vec<u64>> {
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    for (i, &b) in body.iter().enumerate() {
        v = v.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = if v < 80 { v / 40 } else { 2 };
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        } else if i + 1 == body.len() {
            return None;
        }
    }
    (!arcs.is_empty()).then_some(arcs)
}

pub(super) fn oid_string(arcs: &[u64]) -> String {
    arcs.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

pub(super) fn big_int(body: &[u8]) -> BigInt {
    BigInt::from_signed_bytes_be(body)
}

pub(super) fn small_int(body: &[u8]) -> Option<i64> {
    if body.is_empty() || body.len() > 8 {
        return None;
    }
    let v = big_int(body);
    i64::try_from(v).ok()
}

pub(super) fn bit_string(body: &[u8]) -> Option<(&[u8], u8)> {
    let (&unused, bytes) = body.split_first()?;
    (unused < 8 && !(bytes.is_empty() && unused != 0)).then_some((bytes, unused))
}

// ---- Go values ----------------------------------------------------------------------

pub(super) fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let map: BTreeMap<Value, Value> = pairs
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect();
    Value::from(map)
}

pub(super) fn bytes_or_null(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| Value::from(BASE64.encode(b)))
}

pub(super) fn strings_or_null(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::from(
            v.iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        )
    }
}

pub(super) fn oid_value(arcs: &[u64]) -> Value {
    Value::from(arcs.iter().map(|&a| Value::from(a)).collect::<Vec<_>>())
}

fn oids_or_null(v: &[Vec<u64>]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::from(v.iter().map(|o| oid_value(o)).collect::<Vec<_>>())
    }
}

pub(super) fn big(v: &BigInt) -> Value {
    Value::from(Number::from(v.clone()))
}

/// `net.IP` as Go's `MarshalText` writes it (an IPv4-mapped IPv6 address as IPv4).
pub(super) fn ip_string(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

// ---- Certificates ---------------------------------------------------------------------

/// A `pkix.Name`: every attribute in order (`Names`) and the well-known ones by field.
#[derive(Default)]
pub(super) struct Name {
    names: Vec<(Vec<u64>, String)>,
}

impl Name {
    fn to_value(&self) -> Value {
        let field = |arc: u64| -> Vec<String> {
            self.names
                .iter()
                .filter(|(t, _)| t.len() == 4 && t[..3] == [2, 5, 4] && t[3] == arc)
                .map(|(_, v)| v.clone())
                .collect()
        };
        // CommonName and SerialNumber keep the last value, as FillFromRDNSequence does.
        let last = |arc: u64| Value::from(field(arc).pop().unwrap_or_default());
        let names = self
            .names
            .iter()
            .map(|(t, v)| {
                obj(alloc::vec![
                    ("Type", oid_value(t)),
                    ("Value", Value::from(v.as_str()))
                ])
            })
            .collect::<Vec<_>>();
        obj(alloc::vec![
            ("Country", strings_or_null(&field(6))),
            ("Organization", strings_or_null(&field(10))),
            ("OrganizationalUnit", strings_or_null(&field(11))),
            ("Locality", strings_or_null(&field(7))),
            ("Province", strings_or_null(&field(8))),
            ("StreetAddress", strings_or_null(&field(9))),
            ("PostalCode", strings_or_null(&field(17))),
            ("SerialNumber", last(5)),
            ("CommonName", last(3)),
            (
                "Names",
                if names.is_empty() {
                    Value::Null
                } else {
                    Value::from(names)
                }
            ),
            ("ExtraNames", Value::Null),
        ])
    }
}

/// Go's `parseASN1String`.
fn asn1_string(tag: u8, body: &[u8]) -> Result<String> {
    let invalid = |kind: &str| anyhow!("x509: invalid {kind}");
    match tag {
        // T61String
        0x14 => Ok(body.iter().map(|&b| char::from(b)).collect()),
        // PrintableString
        0x13 => {
            let ok = body
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b" '()+,-./:=?*&".contains(&b));
            if !ok {
                return Err(invalid("PrintableString"));
            }
            Ok(String::from_utf8_lossy(body).into_owned())
        }
        // UTF8String
        0x0c => core::str::from_utf8(body)
            .map(str::to_string)
            .map_err(|_| invalid("UTF-8 string")),
        // BMPString
        0x1e => {
            if body.len() % 2 == 1 {
                return Err(invalid("BMPString"));
            }
            let units: Vec<u16> = body
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).map_err(|_| invalid("BMPString"))
        }
        // IA5String
        0x16 => {
            if !body.is_ascii() {
                return Err(invalid("IA5String"));
            }
            Ok(String::from_utf8_lossy(body).into_owned())
        }
        // NumericString
        0x12 => {
            if !body.iter().all(|&b| b.is_ascii_digit() || b == b' ') {
                return Err(invalid("NumericString"));
            }
            Ok(String::from_utf8_lossy(body).into_owned())
        }
        _ => bail!("x509: unsupported string type: {tag}"),
    }
}

pub(super) fn parse_name(seq: &[u8]) -> Result<Name> {
    let err = || anyhow!("x509: invalid RDNSequence");
    let mut name = Name::default();
    let mut rdns = Der(seq);
    while !rdns.is_empty() {
        let mut set = Der(rdns.read(SET).ok_or_else(err)?);
        while !set.is_empty() {
            let mut atv = Der(set.read(SEQUENCE).ok_or_else(err)?);
            let t = atv.read(OID).and_then(oid_arcs).ok_or_else(err)?;
            let (tag, body, _) = atv.element().ok_or_else(err)?;
            let value = asn1_string(tag, body)
                .map_err(|e| anyhow!("x509: invalid RDNSequence: invalid attribute value: {e}"))?;
            name.names.push((t, value));
        }
    }
    Ok(name)
}

/// UTCTime or GeneralizedTime as Unix seconds.
fn parse_time(tag: u8, body: &[u8]) -> Option<i64> {
    let s = core::str::from_utf8(body).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy: i32 = s[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &s[2..])
        }
        0x18 if s.len() == 14 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| -> Option<u32> { rest[i..i + 2].parse().ok() };
    let date = chrono::NaiveDate::from_ymd_opt(year, n(0)?, n(2)?)?;
    let t = date.and_hms_opt(n(4)?, n(6)?, n(8)?)?;
    Some(t.and_utc().timestamp())
}

/// Go's `time.Time` JSON for a UTC time with whole seconds.
pub(super) fn time_value(secs: i64) -> Value {
    let t = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    Value::from(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P224,
    P256,
    P384,
    P521,
}

/// The public key, as Go parses it, and what verification needs of it.
#[derive(Default)]
pub(super) enum Key {
    Rsa {
        n: BigInt,
        e: i64,
        der: Vec<u8>,
    },
    Ecdsa {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
    Dsa {
        p: BigInt,
        q: BigInt,
        g: BigInt,
        y: BigInt,
    },
    #[default]
    Unknown,
}

const OID_RSA: &[u64] = &[1, 2, 840, 113_549, 1, 1, 1];
const OID_DSA: &[u64] = &[1, 2, 840, 10040, 4, 1];
const OID_EC: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_ED25519: &[u64] = &[1, 3, 101, 112];

/// (algorithm OID, parameters element) of an AlgorithmIdentifier's contents.
pub(super) fn algorithm(body: &[u8]) -> Option<(Vec<u64>, &[u8])> {
    let mut d = Der(body);
    let oid = oid_arcs(d.read(OID)?)?;
    Some((oid, d.0))
}

pub(super) fn parse_public_key(alg: &[u64], params: &[u8], key: &[u8]) -> Result<(i64, Key)> {
    if alg == OID_RSA {
        let err = || anyhow!("x509: invalid RSA public key");
        let mut outer = Der(key);
        let mut seq = Der(outer.read(SEQUENCE).ok_or_else(err)?);
        let n = big_int(seq.read(INTEGER).ok_or_else(err)?);
        let e = small_int(seq.read(INTEGER).ok_or_else(err)?).ok_or_else(err)?;
        if n.sign() != Sign::Plus || e <= 0 {
            bail!("x509: RSA modulus is not a positive number");
        }
        return Ok((
            1,
            Key::Rsa {
                n,
                e,
                der: key.to_vec(),
            },
        ));
    }
    if alg == OID_EC {
        let curve_oid = Der(params)
            .read(OID)
            .and_then(oid_arcs)
            .ok_or_else(|| anyhow!("x509: invalid ECDSA parameters"))?;
        let curve = match curve_oid.as_slice() {
            [1, 3, 132, 0, 33] => Curve::P224,
            [1, 2, 840, 10045, 3, 1, 7] => Curve::P256,
            [1, 3, 132, 0, 34] => Curve::P384,
            [1, 3, 132, 0, 35] => Curve::P521,
            _ => bail!("x509: unsupported elliptic curve"),
        };
        let size = match curve {
            Curve::P224 => 28,
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        };
        if key.len() != 1 + 2 * size || key[0] != 4 {
            bail!("x509: failed to unmarshal elliptic curve point");
        }
        return Ok((
            3,
            Key::Ecdsa {
                curve,
                point: key.to_vec(),
            },
        ));
    }
    if alg == OID_ED25519 {
        if !params.is_empty() {
            bail!("x509: Ed25519 key encoded with illegal parameters");
        }
        if key.len() != 32 {
            bail!("x509: wrong Ed25519 public key size");
        }
        return Ok((4, Key::Ed25519(key.to_vec())));
    }
    if alg == OID_DSA {
        let err = || anyhow!("x509: invalid DSA public key");
        let y = big_int(Der(key).read(INTEGER).ok_or_else(err)?);
        let mut outer = Der(params);
        let mut p = Der(outer.read(SEQUENCE).ok_or_else(err)?);
        let (pp, q, g) = (
            big_int(p.read(INTEGER).ok_or_else(err)?),
            big_int(p.read(INTEGER).ok_or_else(err)?),
            big_int(p.read(INTEGER).ok_or_else(err)?),
        );
        return Ok((2, Key::Dsa { p: pp, q, g, y }));
    }
    Ok((0, Key::Unknown))
}

pub(super) fn key_value(key: &Key) -> Value {
    match key {
        Key::Rsa { n, e, .. } => obj(alloc::vec![("N", big(n)), ("E", Value::from(*e))]),
        Key::Ecdsa { curve, point } => {
            let size = (point.len() - 1) / 2;
            let coord = |b: &[u8]| big(&BigInt::from_bytes_be(Sign::Plus, b));
            let _ = curve;
            // Go's curves (elliptic.P256() …) have no exported fields: `Curve` is `{}`.
            obj(alloc::vec![
                ("Curve", Value::new_object()),
                ("X", coord(&point[1..=size])),
                ("Y", coord(&point[1 + size..])),
            ])
        }
        Key::Ed25519(k) => Value::from(BASE64.encode(k)),
        Key::Dsa { p, q, g, y } => obj(alloc::vec![
            (
                "Parameters",
                obj(alloc::vec![("P", big(p)), ("Q", big(q)), ("G", big(g))])
            ),
            ("Y", big(y)),
        ]),
        Key::Unknown => Value::Null,
    }
}

/// Go's `SignatureAlgorithm` for an AlgorithmIdentifier.
pub(super) fn signature_algorithm(oid: &[u64], params: &[u8]) -> i64 {
    match oid {
        [1, 2, 840, 113_549, 1, 1, 2] => 1,
        [1, 2, 840, 113_549, 1, 1, 4] => 2,
        [1, 2, 840, 113_549, 1, 1, 5] | [1, 3, 14, 3, 2, 29] => 3,
        [1, 2, 840, 113_549, 1, 1, 11] => 4,
        [1, 2, 840, 113_549, 1, 1, 12] => 5,
        [1, 2, 840, 113_549, 1, 1, 13] => 6,
        [1, 2, 840, 10040, 4, 3] => 7,
        [2, 16, 840, 1, 101, 3, 4, 3, 2] => 8,
        [1, 2, 840, 10045, 4, 1] => 9,
        [1, 2, 840, 10045, 4, 3, 2] => 10,
        [1, 2, 840, 10045, 4, 3, 3] => 11,
        [1, 2, 840, 10045, 4, 3, 4] => 12,
        [1, 3, 101, 112] => 16,
        [1, 2, 840, 113_549, 1, 1, 10] => pss_algorithm(params).unwrap_or(0),
        _ => 0,
    }
}

/// RSASSA-PSS parameters: Go accepts SHA-256/384/512 with MGF1 of the same hash and a salt
/// of the hash's length.
fn pss_algorithm(params: &[u8]) -> Option<i64> {
    let mut p = Der(Der(params).read(SEQUENCE)?);
    let hash_ai = Der(p.read(0xa0)?).read(SEQUENCE)?;
    let (hash, _) = algorithm(hash_ai)?;
    let mgf_ai = Der(p.read(0xa1)?).read(SEQUENCE)?;
    let (mgf, mgf_params) = algorithm(mgf_ai)?;
    let (mgf_hash, _) = algorithm(Der(mgf_params).read(SEQUENCE)?)?;
    let salt = small_int(Der(p.read(0xa2)?).read(INTEGER)?)?;
    if mgf != [1, 2, 840, 113_549, 1, 1, 8] || mgf_hash != hash {
        return None;
    }
    if let Some(t) = p.optional(0xa3)? {
        if small_int(Der(t).read(INTEGER)?)? != 1 {
            return None;
        }
    }
    match (hash.as_slice(), salt) {
        ([2, 16, 840, 1, 101, 3, 4, 2, 1], 32) => Some(13),
        ([2, 16, 840, 1, 101, 3, 4, 2, 2], 48) => Some(14),
        ([2, 16, 840, 1, 101, 3, 4, 2, 3], 64) => Some(15),
        _ => None,
    }
}

/// Go's `ExtKeyUsage` for an OID.
fn ext_key_usage(oid: &[u64]) -> Option<i64> {
    Some(match oid {
        [2, 5, 29, 37, 0] => 0,
        [1, 3, 6, 1, 5, 5, 7, 3, n @ 1..=9] => *n as i64,
        [1, 3, 6, 1, 4, 1, 311, 10, 3, 3] => 10,
        [2, 16, 840, 1, 113_730, 4, 1] => 11,
        [1, 3, 6, 1, 4, 1, 311, 2, 1, 22] => 12,
        [1, 3, 6, 1, 4, 1, 311, 61, 1, 1] => 13,
        _ => return None,
    })
}

#[derive(Default)]
struct Constraints {
    dns: Vec<String>,
    ips: Vec<(Vec<u8>, Vec<u8>)>,
    emails: Vec<String>,
    uri_domains: Vec<String>,
}

#[derive(Default)]
pub(super) struct Certificate {
    raw: Vec<u8>,
    raw_tbs: Vec<u8>,
    raw_spki: Vec<u8>,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    signature: Vec<u8>,
    signature_algorithm: i64,
    public_key_algorithm: i64,
    key: Key,
    version: i64,
    serial: BigInt,
    issuer: Name,
    subject: Name,
    not_before: i64,
    not_after: i64,
    key_usage: i64,
    extensions: Vec<(Vec<u64>, bool, Vec<u8>)>,
    unhandled_critical: Vec<Vec<u64>>,
    ext_key_usage: Vec<i64>,
    unknown_ext_key_usage: Vec<Vec<u64>>,
    basic_constraints_valid: bool,
    is_ca: bool,
    max_path_len: i64,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    ocsp_server: Vec<String>,
    issuing_certificate_url: Vec<String>,
    dns_names: Vec<String>,
    email_addresses: Vec<String>,
    ip_addresses: Vec<IpAddr>,
    uris: Vec<String>,
    permitted_critical: bool,
    permitted: Constraints,
    excluded: Constraints,
    crl_distribution_points: Vec<String>,
    policies: Vec<Vec<u64>>,
    inhibit_any_policy: i64,
    inhibit_policy_mapping: i64,
    require_explicit_policy: i64,
    policy_mappings: Vec<(Vec<u64>, Vec<u64>)>,
}

pub(super) fn parse_certificate(der: &[u8]) -> Result<(Certificate, &[u8])> {
    let mut input = Der(der);
    let (tag, body, raw) = input.element().ok_or_else(|| malformed("certificate"))?;
    if tag != SEQUENCE {
        return Err(malformed("certificate"));
    }
    let rest = input.0;
    let mut cert_seq = Der(body);
    let (tag, tbs_body, raw_tbs) = cert_seq
        .element()
        .ok_or_else(|| malformed("tbs certificate"))?;
    if tag != SEQUENCE {
        return Err(malformed("tbs certificate"));
    }
    let mut tbs = Der(tbs_body);
    let version = match tbs.optional(0xa0).ok_or_else(|| malformed("version"))? {
        Some(v) => Der(v)
            .read(INTEGER)
            .and_then(small_int)
            .ok_or_else(|| malformed("version"))?,
        None => 0,
    };
    if version < 0 {
        return Err(malformed("version"));
    }
    let version = version + 1;
    if version > 3 {
        bail!("x509: invalid version");
    }
    let serial = big_int(
        tbs.read(INTEGER)
            .ok_or_else(|| malformed("serial number"))?,
    );
    if serial.sign() == Sign::Minus {
        bail!("x509: negative serial number");
    }
    let sig_ai = tbs
        .read(SEQUENCE)
        .ok_or_else(|| malformed("signature algorithm identifier"))?;
    let outer_ai = cert_seq
        .read(SEQUENCE)
        .ok_or_else(|| malformed("algorithm identifier"))?;
    if outer_ai != sig_ai {
        bail!("x509: inner and outer signature algorithm identifiers don't match");
    }
    let (sig_oid, sig_params) =
        algorithm(sig_ai).ok_or_else(|| malformed("algorithm identifier"))?;
    let (tag, issuer_body, raw_issuer) = tbs.element().ok_or_else(|| malformed("issuer"))?;
    if tag != SEQUENCE {
        return Err(malformed("issuer"));
    }
    let issuer = parse_name(issuer_body)?;
    let mut validity = Der(tbs.read(SEQUENCE).ok_or_else(|| malformed("validity"))?);
    let mut time = || {
        let (tag, body, _) = validity.element()?;
        parse_time(tag, body)
    };
    let not_before = time().ok_or_else(|| malformed("validity"))?;
    let not_after = time().ok_or_else(|| malformed("validity"))?;
    let (tag, subject_body, raw_subject) = tbs.element().ok_or_else(|| malformed("issuer"))?;
    if tag != SEQUENCE {
        return Err(malformed("issuer"));
    }
    let subject = parse_name(subject_body)?;
    let (tag, spki_body, raw_spki) = tbs.element().ok_or_else(|| malformed("spki"))?;
    if tag != SEQUENCE {
        return Err(malformed("spki"));
    }
    let mut spki = Der(spki_body);
    let (pk_oid, pk_params) = spki
        .read(SEQUENCE)
        .and_then(algorithm)
        .ok_or_else(|| malformed("public key algorithm identifier"))?;
    let (key_bits, _) = spki
        .read(BIT_STRING)
        .and_then(bit_string)
        .ok_or_else(|| malformed("subjectPublicKey"))?;
    let (public_key_algorithm, key) = parse_public_key(&pk_oid, pk_params, key_bits)?;

    let mut cert = Certificate {
        raw: raw.to_vec(),
        raw_tbs: raw_tbs.to_vec(),
        raw_spki: raw_spki.to_vec(),
        raw_subject: raw_subject.to_vec(),
        raw_issuer: raw_issuer.to_vec(),
        signature: Vec::new(),
        signature_algorithm: signature_algorithm(&sig_oid, sig_params),
        public_key_algorithm,
        key,
        version,
        serial,
        issuer,
        subject,
        not_before,
        not_after,
        key_usage: 0,
        extensions: Vec::new(),
        unhandled_critical: Vec::new(),
        ext_key_usage: Vec::new(),
        unknown_ext_key_usage: Vec::new(),
        basic_constraints_valid: false,
        is_ca: false,
        max_path_len: 0,
        subject_key_id: None,
        authority_key_id: None,
        ocsp_server: Vec::new(),
        issuing_certificate_url: Vec::new(),
        dns_names: Vec::new(),
        email_addresses: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        permitted_critical: false,
        permitted: Constraints::default(),
        excluded: Constraints::default(),
        crl_distribution_points: Vec::new(),
        policies: Vec::new(),
        inhibit_any_policy: 0,
        inhibit_policy_mapping: 0,
        require_explicit_policy: 0,
        policy_mappings: Vec::new(),
    };

    if version > 1 {
        tbs.optional(0x81)
            .ok_or_else(|| malformed("issuerUniqueID"))?;
        tbs.optional(0x82)
            .ok_or_else(|| malformed("subjectUniqueID"))?;
        if version == 3 {
            if let Some(exts) = tbs.optional(0xa3).ok_or_else(|| malformed("extensions"))? {
                let mut exts = Der(Der(exts)
                    .read(SEQUENCE)
                    .ok_or_else(|| malformed("extensions"))?);
                if exts.is_empty() {
                    bail!("x509: empty extensions");
                }
                while !exts.is_empty() {
                    let mut e = Der(exts.read(SEQUENCE).ok_or_else(|| malformed("extension"))?);
                    let id = e
                        .read(OID)
                        .and_then(oid_arcs)
                        .ok_or_else(|| malformed("extension OID"))?;
                    let critical = match e
                        .optional(BOOLEAN)
                        .ok_or_else(|| malformed("extension critical field"))?
                    {
                        Some([0xff]) => true,
                        Some([0x00]) => false,
                        Some(_) => return Err(malformed("extension critical field")),
                        None => false,
                    };
                    let value = e
                        .read(OCTET_STRING)
                        .ok_or_else(|| malformed("extension value field"))?;
                    if cert.extensions.iter().any(|(i, _, _)| *i == id) {
                        bail!(
                            "x509: certificate contains duplicate extension with OID {:?}",
                            oid_string(&id)
                        );
                    }
                    cert.extensions.push((id, critical, value.to_vec()));
                }
                process_extensions(&mut cert)?;
            }
        }
    }

    let (sig_bits, _) = cert_seq
        .read(BIT_STRING)
        .and_then(bit_string)
        .ok_or_else(|| malformed("signature"))?;
    cert.signature = sig_bits.to_vec();
    Ok((cert, rest))
}

fn process_extensions(out: &mut Certificate) -> Result<()> {
    let extensions = core::mem::take(&mut out.extensions);
    for (id, critical, value) in &extensions {
        let mut unhandled = false;
        let v = value.as_slice();
        match id.as_slice() {
            [2, 5, 29, 15] => {
                let (bytes, _) = Der(v)
                    .read(BIT_STRING)
                    .and_then(bit_string)
                    .ok_or_else(|| anyhow!("x509: invalid key usage"))?;
                let mut usage = 0_i64;
                for i in 0..9_usize {
                    let byte = bytes.get(i / 8).copied().unwrap_or(0);
                    if byte & (0x80 >> (i % 8)) != 0 {
                        usage |= 1 << i;
                    }
                }
                out.key_usage = usage;
            }
            [2, 5, 29, 19] => {
                let err = || anyhow!("x509: invalid basic constraints");
                let mut s = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                out.is_ca = matches!(s.optional(BOOLEAN).ok_or_else(err)?, Some([b]) if *b != 0);
                out.max_path_len = match s.optional(INTEGER).ok_or_else(err)? {
                    Some(n) => small_int(n).ok_or_else(err)?,
                    None => -1,
                };
                out.basic_constraints_valid = true;
            }
            [2, 5, 29, 17] => {
                parse_san(out, v)?;
                if out.dns_names.is_empty()
                    && out.email_addresses.is_empty()
                    && out.ip_addresses.is_empty()
                    && out.uris.is_empty()
                {
                    unhandled = true;
                }
            }
            [2, 5, 29, 30] => {
                unhandled = parse_name_constraints(out, v, *critical)?;
            }
            [2, 5, 29, 31] => {
                let err = || anyhow!("x509: invalid CRL distribution points");
                let mut points = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                while !points.is_empty() {
                    let mut dp = Der(points.read(SEQUENCE).ok_or_else(err)?);
                    let Some(name) = dp.optional(0xa0).ok_or_else(err)? else {
                        continue;
                    };
                    let mut full = Der(Der(name).read(0xa0).ok_or_else(err)?);
                    while full.peek() == Some(0x86) {
                        let uri = full.read(0x86).ok_or_else(err)?;
                        out.crl_distribution_points
                            .push(String::from_utf8_lossy(uri).into_owned());
                    }
                }
            }
            [2, 5, 29, 35] => {
                if *critical {
                    bail!("x509: authority key identifier incorrectly marked critical");
                }
                let mut akid = Der(Der(v)
                    .read(SEQUENCE)
                    .ok_or_else(|| anyhow!("x509: invalid authority key identifier"))?);
                out.authority_key_id = akid
                    .optional(0x80)
                    .ok_or_else(|| anyhow!("x509: invalid authority key identifier"))?
                    .map(<[u8]>::to_vec);
            }
            [2, 5, 29, 36] => {
                let err = || anyhow!("x509: invalid policy constraints extension");
                let mut s = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                if let Some(n) = s.optional(0x80).ok_or_else(err)? {
                    out.require_explicit_policy = small_int(n).ok_or_else(err)?;
                }
                if let Some(n) = s.optional(0x81).ok_or_else(err)? {
                    out.inhibit_policy_mapping = small_int(n).ok_or_else(err)?;
                }
            }
            [2, 5, 29, 37] => {
                let err = || anyhow!("x509: invalid extended key usages");
                let mut s = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                while !s.is_empty() {
                    let oid = s.read(OID).and_then(oid_arcs).ok_or_else(err)?;
                    match ext_key_usage(&oid) {
                        Some(u) => out.ext_key_usage.push(u),
                        None => out.unknown_ext_key_usage.push(oid),
                    }
                }
            }
            [2, 5, 29, 14] => {
                if *critical {
                    bail!("x509: subject key identifier incorrectly marked critical");
                }
                let skid = Der(v)
                    .read(OCTET_STRING)
                    .ok_or_else(|| anyhow!("x509: invalid subject key identifier"))?;
                out.subject_key_id = Some(skid.to_vec());
            }
            [2, 5, 29, 32] => {
                let err = || anyhow!("x509: invalid certificate policies");
                let mut s = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                while !s.is_empty() {
                    let oid = Der(s.read(SEQUENCE).ok_or_else(err)?)
                        .read(OID)
                        .and_then(oid_arcs)
                        .ok_or_else(err)?;
                    if out.policies.contains(&oid) {
                        return Err(err());
                    }
                    out.policies.push(oid);
                }
            }
            [2, 5, 29, 33] => {
                let err = || anyhow!("x509: invalid policy mappings extension");
                let mut s = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                while !s.is_empty() {
                    let mut m = Der(s.read(SEQUENCE).ok_or_else(err)?);
                    let issuer = m.read(OID).and_then(oid_arcs).ok_or_else(err)?;
                    let subject = m.read(OID).and_then(oid_arcs).ok_or_else(err)?;
                    out.policy_mappings.push((issuer, subject));
                }
            }
            [2, 5, 29, 54] => {
                out.inhibit_any_policy = Der(v)
                    .read(INTEGER)
                    .and_then(small_int)
                    .ok_or_else(|| anyhow!("x509: invalid inhibit any policy extension"))?;
            }
            [2, 5, 29, _] => unhandled = true,
            [1, 3, 6, 1, 5, 5, 7, 1, 1] => {
                if *critical {
                    bail!("x509: authority info access incorrectly marked critical");
                }
                let err = || anyhow!("x509: invalid authority info access");
                let mut s = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
                while !s.is_empty() {
                    let mut aia = Der(s.read(SEQUENCE).ok_or_else(err)?);
                    let method = aia.read(OID).and_then(oid_arcs).ok_or_else(err)?;
                    if aia.peek() != Some(0x86) {
                        continue;
                    }
                    let uri = String::from_utf8_lossy(aia.read(0x86).ok_or_else(err)?).into_owned();
                    match method.as_slice() {
                        [1, 3, 6, 1, 5, 5, 7, 48, 1] => out.ocsp_server.push(uri),
                        [1, 3, 6, 1, 5, 5, 7, 48, 2] => out.issuing_certificate_url.push(uri),
                        _ => {}
                    }
                }
            }
            _ => unhandled = true,
        }
        if *critical && unhandled {
            out.unhandled_critical.push(id.clone());
        }
    }
    out.extensions = extensions;
    Ok(())
}

pub(super) fn parse_san(out: &mut Certificate, v: &[u8]) -> Result<()> {
    let err = || anyhow!("x509: invalid subject alternative names");
    let mut names = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
    while !names.is_empty() {
        let (tag, data, _) = names.element().ok_or_else(err)?;
        let ia5 = |what: &str| -> Result<String> {
            if data.is_ascii() {
                Ok(String::from_utf8_lossy(data).into_owned())
            } else {
                bail!("x509: SAN {what} is malformed")
            }
        };
        match tag {
            0x81 => out.email_addresses.push(ia5("rfc822Name")?),
            0x82 => out.dns_names.push(ia5("dNSName")?),
            0x86 => {
                let uri = ia5("uniformResourceIdentifier")?;
                if Url::parse(&uri).is_none() {
                    bail!("x509: cannot parse URI {uri:?}");
                }
                out.uris.push(uri);
            }
            0x87 => out.ip_addresses.push(ip_from(data).ok_or_else(|| {
                anyhow!("x509: cannot parse IP address of length {}", data.len())
            })?),
            _ => {}
        }
    }
    Ok(())
}

fn parse_name_constraints(out: &mut Certificate, v: &[u8], critical: bool) -> Result<bool> {
    let err = || anyhow!("x509: invalid NameConstraints extension");
    let mut top = Der(Der(v).read(SEQUENCE).ok_or_else(err)?);
    let permitted = top.optional(0xa0).ok_or_else(err)?;
    let excluded = top.optional(0xa1).ok_or_else(err)?;
    if !top.is_empty() {
        return Err(err());
    }
    if permitted.unwrap_or_default().is_empty() && excluded.unwrap_or_default().is_empty() {
        bail!("x509: empty name constraints extension");
    }
    let mut unhandled = false;
    let mut values = |subtrees: Option<&[u8]>| -> Result<Constraints> {
        let mut c = Constraints::default();
        let mut s = Der(subtrees.unwrap_or_default());
        while !s.is_empty() {
            let (tag, value, _) = Der(s.read(SEQUENCE).ok_or_else(err)?)
                .element()
                .ok_or_else(err)?;
            let text = || -> Result<String> {
                if value.is_ascii() {
                    Ok(String::from_utf8_lossy(value).into_owned())
                } else {
                    bail!("x509: invalid constraint value")
                }
            };
            match tag {
                0x82 => c.dns.push(text()?),
                0x81 => c.emails.push(text()?),
                0x86 => c.uri_domains.push(text()?),
                0x87 => {
                    let half = match value.len() {
                        8 => 4,
                        32 => 16,
                        l => bail!("x509: IP constraint contained value of length {l}"),
                    };
                    c.ips.push((value[..half].to_vec(), value[half..].to_vec()));
                }
                _ => unhandled = true,
            }
        }
        Ok(c)
    };
    out.permitted = values(permitted)?;
    out.excluded = values(excluded)?;
    out.permitted_critical = critical;
    Ok(unhandled)
}

/// The parts of a URI Go's `url.URL` JSON holds (`url.Parse` of an absolute URI).
struct Url {
    scheme: String,
    opaque: String,
    user: bool,
    host: String,
    path: String,
    raw_query: String,
    fragment: String,
    force_query: bool,
}

impl Url {
    fn parse(s: &str) -> Option<Url> {
        let (rest, fragment) = match s.split_once('#') {
            Some((r, f)) => (r, f.to_string()),
            None => (s, String::new()),
        };
        let (rest, raw_query, force_query) = match rest.split_once('?') {
            Some((r, q)) => (r, q.to_string(), q.is_empty()),
            None => (rest, String::new(), false),
        };
        let (scheme, rest) = match rest.split_once(':') {
            Some((sc, r))
                if !sc.is_empty()
                    && sc.as_bytes()[0].is_ascii_alphabetic()
                    && sc
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                (sc.to_ascii_lowercase(), r)
            }
            _ => (String::new(), rest),
        };
        let mut url = Url {
            scheme,
            opaque: String::new(),
            user: false,
            host: String::new(),
            path: String::new(),
            raw_query,
            fragment: percent_decode(&fragment)?,
            force_query,
        };
        if let Some(auth_path) = rest.strip_prefix("//") {
            let (authority, path) = match auth_path.find('/') {
                Some(i) => (&auth_path[..i], &auth_path[i..]),
                None => (auth_path, ""),
            };
            let host = match authority.rsplit_once('@') {
                Some((_, h)) => {
                    url.user = true;
                    h
                }
                None => authority,
            };
            url.host = host.to_string();
            url.path = percent_decode(path)?;
        } else if !url.scheme.is_empty() && !rest.starts_with('/') {
            url.opaque = rest.to_string();
        } else {
            url.path = percent_decode(rest)?;
        }
        Some(url)
    }

    fn to_value(&self) -> Value {
        obj(alloc::vec![
            ("Scheme", Value::from(self.scheme.as_str())),
            ("Opaque", Value::from(self.opaque.as_str())),
            (
                "User",
                if self.user {
                    Value::new_object()
                } else {
                    Value::Null
                }
            ),
            ("Host", Value::from(self.host.as_str())),
            ("Path", Value::from(self.path.as_str())),
            ("RawPath", Value::from("")),
            ("OmitHost", Value::from(false)),
            ("ForceQuery", Value::from(self.force_query)),
            ("RawQuery", Value::from(self.raw_query.as_str())),
            ("Fragment", Value::from(self.fragment.as_str())),
            ("RawFragment", Value::from("")),
        ])
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Certificate {
    fn to_value(&self, uri_strings: bool) -> Value {
        let ips = if self.ip_addresses.is_empty() {
            Value::Null
        } else {
            Value::from(
                self.ip_addresses
                    .iter()
                    .map(|ip| Value::from(ip_string(ip)))
                    .collect::<Vec<_>>(),
            )
        };
        let ip_nets = |nets: &[(Vec<u8>, Vec<u8>)]| {
            if nets.is_empty() {
                return Value::Null;
            }
            Value::from(
                nets.iter()
                    .map(|(ip, mask)| {
                        obj(alloc::vec![
                            (
                                "IP",
                                ip_from(ip).map_or(Value::Null, |ip| Value::from(ip_string(&ip)))
                            ),
                            ("Mask", Value::from(BASE64.encode(mask))),
                        ])
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let extensions = if self.extensions.is_empty() {
            Value::Null
        } else {
            Value::from(
                self.extensions
                    .iter()
                    .map(|(id, critical, value)| {
                        obj(alloc::vec![
                            ("Id", oid_value(id)),
                            ("Critical", Value::from(*critical)),
                            ("Value", Value::from(BASE64.encode(value))),
                        ])
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let ext_key_usage = if self.ext_key_usage.is_empty() {
            Value::Null
        } else {
            Value::from(
                self.ext_key_usage
                    .iter()
                    .map(|&u| Value::from(u))
                    .collect::<Vec<_>>(),
            )
        };
        let uris = if self.uris.is_empty() {
            Value::Null
        } else {
            Value::from(
                self.uris
                    .iter()
                    .filter_map(|u| Url::parse(u).map(|u| u.to_value()))
                    .collect::<Vec<_>>(),
            )
        };
        // Go sets PolicyIdentifiers to a non-nil (possibly empty) slice when the extension
        // is present.
        let has_policies = self
            .extensions
            .iter()
            .any(|(id, _, _)| id == &[2, 5, 29, 32]);
        let policy_identifiers = if has_policies {
            Value::from(
                self.policies
                    .iter()
                    .map(|o| oid_value(o))
                    .collect::<Vec<_>>(),
            )
        } else {
            Value::Null
        };
        let policies = if self.policies.is_empty() {
            Value::Null
        } else {
            Value::from(
                self.policies
                    .iter()
                    .map(|o| Value::from(oid_string(o)))
                    .collect::<Vec<_>>(),
            )
        };
        let policy_mappings = if self.policy_mappings.is_empty() {
            Value::Null
        } else {
            Value::from(
                self.policy_mappings
                    .iter()
                    .map(|(i, s)| {
                        obj(alloc::vec![
                            ("IssuerDomainPolicy", Value::from(oid_string(i))),
                            ("SubjectDomainPolicy", Value::from(oid_string(s))),
                        ])
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let mut fields = alloc::vec![
            ("Raw", Value::from(BASE64.encode(&self.raw))),
            (
                "RawTBSCertificate",
                Value::from(BASE64.encode(&self.raw_tbs))
            ),
            (
                "RawSubjectPublicKeyInfo",
                Value::from(BASE64.encode(&self.raw_spki))
            ),
            ("RawSubject", Value::from(BASE64.encode(&self.raw_subject))),
            ("RawIssuer", Value::from(BASE64.encode(&self.raw_issuer))),
            ("Signature", Value::from(BASE64.encode(&self.signature))),
            ("SignatureAlgorithm", Value::from(self.signature_algorithm)),
            ("PublicKeyAlgorithm", Value::from(self.public_key_algorithm)),
            ("PublicKey", key_value(&self.key)),
            ("Version", Value::from(self.version)),
            ("SerialNumber", big(&self.serial)),
            ("Issuer", self.issuer.to_value()),
            ("Subject", self.subject.to_value()),
            ("NotBefore", time_value(self.not_before)),
            ("NotAfter", time_value(self.not_after)),
            ("KeyUsage", Value::from(self.key_usage)),
            ("Extensions", extensions),
            ("ExtraExtensions", Value::Null),
            (
                "UnhandledCriticalExtensions",
                oids_or_null(&self.unhandled_critical)
            ),
            ("ExtKeyUsage", ext_key_usage),
            (
                "UnknownExtKeyUsage",
                oids_or_null(&self.unknown_ext_key_usage)
            ),
            (
                "BasicConstraintsValid",
                Value::from(self.basic_constraints_valid)
            ),
            ("IsCA", Value::from(self.is_ca)),
            ("MaxPathLen", Value::from(self.max_path_len)),
            (
                "MaxPathLenZero",
                Value::from(self.basic_constraints_valid && self.max_path_len == 0)
            ),
            (
                "SubjectKeyId",
                bytes_or_null(self.subject_key_id.as_deref())
            ),
            (
                "AuthorityKeyId",
                bytes_or_null(self.authority_key_id.as_deref())
            ),
            ("OCSPServer", strings_or_null(&self.ocsp_server)),
            (
                "IssuingCertificateURL",
                strings_or_null(&self.issuing_certificate_url)
            ),
            ("DNSNames", strings_or_null(&self.dns_names)),
            ("EmailAddresses", strings_or_null(&self.email_addresses)),
            ("IPAddresses", ips),
            ("URIs", uris),
            (
                "PermittedDNSDomainsCritical",
                Value::from(self.permitted_critical)
            ),
            ("PermittedDNSDomains", strings_or_null(&self.permitted.dns)),
            ("ExcludedDNSDomains", strings_or_null(&self.excluded.dns)),
            ("PermittedIPRanges", ip_nets(&self.permitted.ips)),
            ("ExcludedIPRanges", ip_nets(&self.excluded.ips)),
            (
                "PermittedEmailAddresses",
                strings_or_null(&self.permitted.emails)
            ),
            (
                "ExcludedEmailAddresses",
                strings_or_null(&self.excluded.emails)
            ),
            (
                "PermittedURIDomains",
                strings_or_null(&self.permitted.uri_domains)
            ),
            (
                "ExcludedURIDomains",
                strings_or_null(&self.excluded.uri_domains)
            ),
            (
                "CRLDistributionPoints",
                strings_or_null(&self.crl_distribution_points)
            ),
            ("PolicyIdentifiers", policy_identifiers),
            ("Policies", policies),
            ("InhibitAnyPolicy", Value::from(self.inhibit_any_policy)),
            (
                "InhibitAnyPolicyZero",
                Value::from(self.has_ext(54) && self.inhibit_any_policy == 0)
            ),
            (
                "InhibitPolicyMapping",
                Value::from(self.inhibit_policy_mapping)
            ),
            (
                "InhibitPolicyMappingZero",
                Value::from(self.policy_constraint_zero(0x81))
            ),
            (
                "RequireExplicitPolicy",
                Value::from(self.require_explicit_policy)
            ),
            (
                "RequireExplicitPolicyZero",
                Value::from(self.policy_constraint_zero(0x80))
            ),
            ("PolicyMappings", policy_mappings),
        ];
        if uri_strings {
            fields.push(("URIStrings", strings_or_null(&self.uris)));
        }
        obj(fields)
    }

    fn has_ext(&self, arc: u64) -> bool {
        self.extensions
            .iter()
            .any(|(id, _, _)| id.len() == 4 && id[..3] == [2, 5, 29] && id[3] == arc)
    }

    /// Whether the policy constraints extension sets the field `tag` to zero.
    fn policy_constraint_zero(&self, tag: u8) -> bool {
        self.extensions
            .iter()
            .find(|(id, _, _)| id == &[2, 5, 29, 36])
            .and_then(|(_, _, v)| {
                let mut s = Der(Der(v).read(SEQUENCE)?);
                let mut found = None;
                while !s.is_empty() {
                    let (t, body, _) = s.element()?;
                    if t == tag {
                        found = small_int(body);
                    }
                }
                found
            })
            == Some(0)
    }
}

// ---- Builtins ---------------------------------------------------------------------------

/// OPA's `getX509CertsFromString`: PEM, or base64 of DER or of PEM.
fn certificates_from_string(input: &str) -> Result<Vec<Certificate>> {
    let der = if input.starts_with("-----BEGIN") {
        pem_certificates(input)?
    } else {
        let bytes = BASE64
            .decode(input.as_bytes())
            .map_err(|e| anyhow!("illegal base64 data at input byte {}", e.position))?;
        if bytes.starts_with(b"-----BEGIN") {
            pem_certificates(&String::from_utf8_lossy(&bytes))?
        } else {
            bytes
        }
    };
    let mut certs = Vec::new();
    let mut rest = der.as_slice();
    while !rest.is_empty() {
        let (cert, r) = parse_certificate(rest)?;
        certs.push(cert);
        rest = r;
    }
    Ok(certs)
}

fn pem_certificates(text: &str) -> Result<Vec<u8>> {
    let mut der = Vec::new();
    for (label, bytes) in pem_blocks(text) {
        if label != "CERTIFICATE" {
            bail!("PEM block type is '{label}', expected CERTIFICATE");
        }
        der.extend(bytes);
    }
    Ok(der)
}

fn parse_certificates(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.x509.parse_certificates";
    ensure_args_count(span, name, params, args, 1)?;
    let input = ensure_string(name, &params[0], &args[0])?;
    let certs = certificates_from_string(&input)?;
    Ok(Value::from(
        certs.iter().map(|c| c.to_value(true)).collect::<Vec<_>>(),
    ))
}

/// Go's `x509.VerifyOptions` as OPA fills them.
#[derive(Default)]
struct VerifyOptions {
    dns_name: Option<String>,
    /// Unix nanoseconds; the current time when absent.
    current_time: Option<i64>,
    key_usages: Vec<i64>,
}

const KEY_USAGES: &[(&str, i64)] = &[
    ("KeyUsageAny", 0),
    ("KeyUsageServerAuth", 1),
    ("KeyUsageClientAuth", 2),
    ("KeyUsageCodeSigning", 3),
    ("KeyUsageEmailProtection", 4),
    ("KeyUsageIPSECEndSystem", 5),
    ("KeyUsageIPSECTunnel", 6),
    ("KeyUsageIPSECUser", 7),
    ("KeyUsageTimeStamping", 8),
    ("KeyUsageOCSPSigning", 9),
    ("KeyUsageMicrosoftServerGatedCrypto", 10),
    ("KeyUsageNetscapeServerGatedCrypto", 11),
    ("KeyUsageMicrosoftCommercialCodeSigning", 12),
    ("KeyUsageMicrosoftKernelCodeSigning", 13),
];

fn verify_options(options: &crate::value::Object) -> Result<VerifyOptions> {
    let mut o = VerifyOptions::default();
    for (k, v) in options.iter() {
        let Value::String(k) = k else { continue };
        match k.as_ref() {
            "DNSName" => match v {
                Value::String(s) => o.dns_name = Some(s.trim_matches('"').to_string()),
                _ => bail!("'DNSName' should be a string"),
            },
            "CurrentTime" => match v {
                Value::Number(n) => {
                    o.current_time =
                        Some(n.as_i64().ok_or_else(|| {
                            anyhow!("'CurrentTime' should be a valid int64 number")
                        })?);
                }
                _ => bail!("'CurrentTime' should be a number"),
            },
            "MaxConstraintComparisons" => match v {
                Value::Number(n) if n.as_i64().is_some() => {}
                Value::Number(_) => bail!("'MaxConstraintComparisons' should be a valid number"),
                _ => bail!("'MaxConstraintComparisons' should be a number"),
            },
            "KeyUsages" => {
                let items: Vec<Value> = match v {
                    Value::Array(a) => a.iter().cloned().collect(),
                    Value::Set(s) => s.iter().cloned().collect(),
                    _ => bail!("'KeyUsages' should be an Array or Set"),
                };
                let mut invalid = Vec::new();
                for item in items {
                    if let Value::String(s) = item {
                        let s = s.trim_matches('"');
                        match KEY_USAGES.iter().find(|(n, _)| *n == s) {
                            Some((_, u)) => o.key_usages.push(*u),
                            None => invalid.push(s.to_string()),
                        }
                    }
                }
                if !invalid.is_empty() {
                    bail!(
                        "invalid entries for 'KeyUsages' found: [{}]",
                        invalid.join(" ")
                    );
                }
            }
            _ => bail!("invalid key option"),
        }
    }
    Ok(o)
}

fn verify_result(input: &str, options: &VerifyOptions, uri_strings: bool) -> Value {
    let invalid = || Value::from(alloc::vec![Value::from(false), Value::new_array()]);
    let Ok(certs) = certificates_from_string(input) else {
        return invalid();
    };
    match verify_chain(&certs, options) {
        Some(chain) => Value::from(alloc::vec![
            Value::from(true),
            Value::from(
                chain
                    .iter()
                    .map(|&i| certs[i].to_value(uri_strings))
                    .collect::<Vec<_>>()
            ),
        ]),
        None => invalid(),
    }
}

fn parse_and_verify_certificates(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.x509.parse_and_verify_certificates";
    ensure_args_count(span, name, params, args, 1)?;
    let input = ensure_string(name, &params[0], &args[0])?;
    Ok(verify_result(&input, &VerifyOptions::default(), true))
}

fn parse_and_verify_certificates_with_options(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    let name = "crypto.x509.parse_and_verify_certificates_with_options";
    ensure_args_count(span, name, params, args, 2)?;
    let input = ensure_string(name, &params[0], &args[0])?;
    let options = ensure_object(name, &params[1], args[1].clone())?;
    // OPA reads the options only once the certificates parse.
    if certificates_from_string(&input).is_err() {
        return Ok(Value::from(alloc::vec![
            Value::from(false),
            Value::new_array()
        ]));
    }
    let options = verify_options(&options)?;
    // OPA marshals this result without `URIStrings`.
    Ok(verify_result(&input, &options, false))
}

// ---- Chain verification (Go's Certificate.Verify) ---------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Leaf,
    Intermediate,
    Root,
}

/// Indexes into `certs` of the first verified chain, leaf first; `None` when there is none.
fn verify_chain(certs: &[Certificate], o: &VerifyOptions) -> Option<Vec<usize>> {
    if certs.len() < 2 {
        return None;
    }
    let now = o.current_time.map_or_else(
        || chrono::Utc::now().timestamp(),
        |ns| ns.div_euclid(1_000_000_000),
    );
    let leaf = certs.len() - 1;
    if !valid(certs, leaf, Role::Leaf, &[], now) {
        return None;
    }
    if let Some(host) = &o.dns_name {
        if !verify_hostname(&certs[leaf], host) {
            return None;
        }
    }
    let mut chains = Vec::new();
    if certs[0].raw == certs[leaf].raw {
        chains.push(alloc::vec![leaf]);
    } else {
        build_chains(certs, alloc::vec![leaf], now, &mut chains, 0);
    }
    let usages = if o.key_usages.is_empty() {
        alloc::vec![1]
    } else {
        o.key_usages.clone()
    };
    // Go validates certificate policies (policy constraints, policy mappings, inhibit
    // anyPolicy) along the chain; that is not implemented here, so a chain carrying any of
    // these extensions is refused rather than accepted unchecked.
    chains.retain(|chain| {
        !chain
            .iter()
            .any(|&i| certs[i].has_ext(36) || certs[i].has_ext(33) || certs[i].has_ext(54))
    });
    if usages.contains(&0) {
        return chains.into_iter().next();
    }
    chains
        .into_iter()
        .find(|chain| chain_allows_usage(certs, chain, &usages))
}

fn build_chains(
    certs: &[Certificate],
    current: Vec<usize>,
    now: i64,
    chains: &mut Vec<Vec<usize>>,
    depth: usize,
) {
    if depth > 16 || chains.len() > 16 {
        return;
    }
    let Some(&child) = current.last() else {
        return;
    };
    let leaf = certs.len() - 1;
    let candidates = |range: core::ops::Range<usize>| -> Vec<usize> {
        let mut c: Vec<usize> = range
            .filter(|&i| certs[i].raw_subject == certs[child].raw_issuer)
            .collect();
        // Parents whose subject key id matches the child's authority key id first.
        c.sort_by_key(
            |&i| match (&certs[child].authority_key_id, &certs[i].subject_key_id) {
                (Some(a), Some(s)) if a == s => 0,
                (Some(_), Some(_)) => 2,
                _ => 1,
            },
        );
        c
    };
    let consider = |i: usize, role: Role, chains: &mut Vec<Vec<usize>>| {
        if current.iter().any(|&c| certs[c].raw == certs[i].raw) {
            return;
        }
        if !signed_by(&certs[child], &certs[i]) || !valid(certs, i, role, &current, now) {
            return;
        }
        let mut next = current.clone();
        next.push(i);
        match role {
            Role::Root => chains.push(next),
            _ => build_chains(certs, next, now, chains, depth + 1),
        }
    };
    for i in candidates(0..1) {
        consider(i, Role::Root, chains);
    }
    for i in candidates(1..leaf) {
        consider(i, Role::Intermediate, chains);
    }
}

/// Go's `Certificate.isValid` for one certificate of a chain being built.
fn valid(certs: &[Certificate], i: usize, role: Role, chain: &[usize], now: i64) -> bool {
    let c = &certs[i];
    if !c.unhandled_critical.is_empty() || now < c.not_before || now > c.not_after {
        return false;
    }
    if role != Role::Leaf && !name_constraints_allow(c, certs, chain) {
        return false;
    }
    if role == Role::Intermediate && (!c.basic_constraints_valid || !c.is_ca) {
        return false;
    }
    if c.basic_constraints_valid && c.max_path_len >= 0 {
        let intermediates = chain.len().saturating_sub(1) as i64;
        if intermediates > c.max_path_len {
            return false;
        }
    }
    true
}

/// Go's `CheckSignatureFrom`: the parent may sign certificates and its key verifies the
/// child's signature with an algorithm Go accepts for certificates (no MD5, no SHA-1).
fn signed_by(child: &Certificate, parent: &Certificate) -> bool {
    if (parent.version == 3 && !parent.basic_constraints_valid)
        || (parent.basic_constraints_valid && !parent.is_ca)
    {
        return false;
    }
    if parent.key_usage != 0 && parent.key_usage & 32 == 0 {
        return false;
    }
    verify_signature(
        child.signature_algorithm,
        &parent.key,
        &child.raw_tbs,
        &child.signature,
    )
}

fn verify_signature(alg: i64, key: &Key, message: &[u8], signature: &[u8]) -> bool {
    use ring::signature as s;
    let ring_verify = |a: &'static dyn s::VerificationAlgorithm, key: &[u8]| {
        s::UnparsedPublicKey::new(a, key)
            .verify(message, signature)
            .is_ok()
    };
    match (alg, key) {
        (4, Key::Rsa { der, .. }) => {
            ring_verify(&s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, der)
        }
        (5, Key::Rsa { der, .. }) => ring_verify(&s::RSA_PKCS1_2048_8192_SHA384, der),
        (6, Key::Rsa { der, .. }) => {
            ring_verify(&s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY, der)
        }
        (13, Key::Rsa { der, .. }) => ring_verify(&s::RSA_PSS_2048_8192_SHA256, der),
        (14, Key::Rsa { der, .. }) => ring_verify(&s::RSA_PSS_2048_8192_SHA384, der),
        (15, Key::Rsa { der, .. }) => ring_verify(&s::RSA_PSS_2048_8192_SHA512, der),
        (
            10,
            Key::Ecdsa {
                curve: Curve::P256,
                point,
            },
        ) => ring_verify(&s::ECDSA_P256_SHA256_ASN1, point),
        (
            11,
            Key::Ecdsa {
                curve: Curve::P256,
                point,
            },
        ) => ring_verify(&s::ECDSA_P256_SHA384_ASN1, point),
        (
            10,
            Key::Ecdsa {
                curve: Curve::P384,
                point,
            },
        ) => ring_verify(&s::ECDSA_P384_SHA256_ASN1, point),
        (
            11,
            Key::Ecdsa {
                curve: Curve::P384,
                point,
            },
        ) => ring_verify(&s::ECDSA_P384_SHA384_ASN1, point),
        (
            12,
            Key::Ecdsa {
                curve: Curve::P521,
                point,
            },
        ) => {
            use p521::ecdsa::signature::Verifier as _;
            match (
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p521::ecdsa::Signature::from_der(signature),
            ) {
                (Ok(k), Ok(sig)) => k.verify(message, &sig).is_ok(),
                _ => false,
            }
        }
        (16, Key::Ed25519(k)) => ring_verify(&s::ED25519, k),
        // MD2/MD5/SHA-1, DSA, and curve/hash pairs without an implementation here.
        _ => false,
    }
}

/// Go's `checkChainForKeyUsage`.
fn chain_allows_usage(certs: &[Certificate], chain: &[usize], requested: &[i64]) -> bool {
    let mut usages: Vec<Option<i64>> = requested.iter().map(|&u| Some(u)).collect();
    for &i in chain.iter().rev() {
        let c = &certs[i];
        if c.ext_key_usage.is_empty() && c.unknown_ext_key_usage.is_empty() {
            continue;
        }
        if c.ext_key_usage.contains(&0) {
            continue;
        }
        for u in usages.iter_mut() {
            if let Some(req) = *u {
                if !c.ext_key_usage.contains(&req) {
                    *u = None;
                }
            }
        }
        if usages.iter().all(Option::is_none) {
            return false;
        }
    }
    true
}

fn verify_hostname(c: &Certificate, host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return c.ip_addresses.iter().any(|a| same_ip(a, &ip));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    c.dns_names.iter().any(|pattern| {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        let (p, h): (Vec<&str>, Vec<&str>) =
            (pattern.split('.').collect(), host.split('.').collect());
        p.len() == h.len()
            && !h.iter().any(|l| l.is_empty())
            && p.iter()
                .zip(&h)
                .enumerate()
                .all(|(i, (p, h))| (i == 0 && *p == "*") || p == h)
    })
}

fn same_ip(a: &IpAddr, b: &IpAddr) -> bool {
    let v6 = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => *v6,
    };
    v6(a) == v6(b)
}

/// Go's name-constraint check of a CA against the certificates below it in the chain: DNS
/// names and IP addresses are matched as Go does; an email or URI constraint with such names
/// below it is refused (no chain), never skipped.
fn name_constraints_allow(ca: &Certificate, certs: &[Certificate], chain: &[usize]) -> bool {
    let (p, x) = (&ca.permitted, &ca.excluded);
    let none = p.dns.is_empty()
        && x.dns.is_empty()
        && p.ips.is_empty()
        && x.ips.is_empty()
        && p.emails.is_empty()
        && x.emails.is_empty()
        && p.uri_domains.is_empty()
        && x.uri_domains.is_empty();
    if none {
        return true;
    }
    chain.iter().all(|&i| {
        let c = &certs[i];
        if (!p.emails.is_empty() || !x.emails.is_empty()) && !c.email_addresses.is_empty() {
            return false;
        }
        if (!p.uri_domains.is_empty() || !x.uri_domains.is_empty()) && !c.uris.is_empty() {
            return false;
        }
        let dns_ok = c.dns_names.iter().all(|name| {
            (p.dns.is_empty() || p.dns.iter().any(|d| domain_matches(name, d)))
                && !x.dns.iter().any(|d| domain_matches(name, d))
        });
        let ip_ok = c.ip_addresses.iter().all(|ip| {
            (p.ips.is_empty() || p.ips.iter().any(|n| ip_in(ip, n)))
                && !x.ips.iter().any(|n| ip_in(ip, n))
        });
        dns_ok && ip_ok
    })
}

/// Go's `matchDomainConstraint`.
fn domain_matches(name: &str, constraint: &str) -> bool {
    if constraint.is_empty() {
        return true;
    }
    let name = name.to_ascii_lowercase();
    let constraint = constraint.to_ascii_lowercase();
    match constraint.strip_prefix('.') {
        Some(suffix) => name.ends_with(&alloc::format!(".{suffix}")),
        None => name == constraint || name.ends_with(&alloc::format!(".{constraint}")),
    }
}

fn ip_in(ip: &IpAddr, (net, mask): &(Vec<u8>, Vec<u8>)) -> bool {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    bytes.len() == net.len()
        && bytes
            .iter()
            .zip(net)
            .zip(mask)
            .all(|((b, n), m)| b & m == n & m)
}
