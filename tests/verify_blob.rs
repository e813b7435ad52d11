//! `policyctl verify-blob` against real Sigstore artefacts (testdata/sigstore-real, copied from
//! production and staging): the sigstore-conformance sample, each case on the file and on its
//! `sha256:` digest; the kubewarden cosign v3 bundle (Rekor v1 + RFC 3161 timestamp) against the
//! embedded public-good root; and broken variants derived in code from real bundles.

mod common;
use common::policyctl;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const REAL: &str = "testdata/sigstore-real";
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
const KUBEWARDEN: &str =
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const KUBEWARDEN_DIGEST: &str =
    "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

fn run(args: &[&str]) -> (i32, String) {
    let out = policyctl().arg("verify-blob").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn digest_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    format!("sha256:{:x}", Sha256::digest(&bytes))
}

/// The flags a conformance case asks for (see testdata/sigstore-real/README.upstream.md).
fn case_args(case: &Path) -> Vec<String> {
    let mut args = vec![
        "--bundle".into(),
        case.join("bundle.sigstore.json").display().to_string(),
    ];
    if case.join("key.pub").exists() {
        args.extend(["--key".into(), case.join("key.pub").display().to_string()]);
    } else {
        let read = |f: &str, default: &str| {
            std::fs::read_to_string(case.join(f))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| default.to_string())
        };
        args.extend([
            "--certificate-identity".into(),
            read("identity", BEACON),
            "--certificate-oidc-issuer".into(),
            read("issuer", GITHUB),
        ]);
    }
    if case.join("trusted_root.json").exists() {
        args.extend([
            "--trusted-root".into(),
            case.join("trusted_root.json").display().to_string(),
        ]);
    }
    args
}

#[test]
fn every_conformance_case_comes_out_as_expected_on_the_file_and_on_its_digest() {
    let dir = Path::new(REAL).join("conformance");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 22, "{cases:?}");
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let expected = if name.ends_with("_fail") { 1 } else { 0 };
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            dir.join("a.txt")
        };
        let args = case_args(&case);
        for subject in [artifact.display().to_string(), digest_of(&artifact)] {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.push(&subject);
            let (code, out) = run(&all);
            assert_eq!(code, expected, "{name} on {subject}: {out}");
            if expected == 1 {
                assert!(out.contains("not verified ["), "{name}: a reason: {out}");
            }
        }
    }
}

fn kubewarden(extra: &[&str], subject: &str) -> (i32, String) {
    let bundle = format!("{REAL}/oci/kubewarden-controller-v1.34.0/bundle.sigstore.json");
    let mut args = vec!["--bundle", bundle.as_str()];
    args.extend_from_slice(extra);
    args.push(subject);
    run(&args)
}

#[test]
fn a_production_cosign_v3_signature_verifies_against_the_embedded_root() {
    let (code, out) = kubewarden(
        &[
            "--certificate-identity",
            KUBEWARDEN,
            "--certificate-oidc-issuer",
            GITHUB,
        ],
        KUBEWARDEN_DIGEST,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Verified OK"), "{out}");
    let (code, out) = kubewarden(
        &[
            "--certificate-identity-regexp",
            "^https://github\\.com/kubewarden/",
            "--certificate-oidc-issuer-regexp",
            "^https://token\\.actions\\.githubusercontent\\.com$",
        ],
        KUBEWARDEN_DIGEST,
    );
    assert_eq!(code, 0, "{out}");
    for (extra, needle) in [
        (
            vec![
                "--certificate-identity",
                "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1",
                "--certificate-oidc-issuer",
                GITHUB,
            ],
            "keyless-identity-mismatch",
        ),
        (
            vec![
                "--certificate-identity-regexp",
                "^https://github\\.com/acme/",
                "--certificate-oidc-issuer",
                GITHUB,
            ],
            "keyless-identity-mismatch",
        ),
        (
            vec![
                "--certificate-identity",
                KUBEWARDEN,
                "--certificate-oidc-issuer",
                "https://accounts.google.com",
            ],
            "issuer mismatch",
        ),
    ] {
        let (code, out) = kubewarden(&extra, KUBEWARDEN_DIGEST);
        assert_eq!(code, 1, "{extra:?}: {out}");
        assert!(out.contains(needle), "{extra:?}: {out}");
    }
    // The bundle of another image.
    let (code, out) = kubewarden(
        &[
            "--certificate-identity",
            KUBEWARDEN,
            "--certificate-oidc-issuer",
            GITHUB,
        ],
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("bundle-subject-mismatch") || out.contains("artifact mismatch"),
        "{out}"
    );
}

/// A real bundle with one change; the JSON pointer's string value is transformed by `change`.
fn mutated(case: &str, pointer: &str, change: &dyn Fn(&str) -> String) -> tempfile::TempDir {
    let src = Path::new(REAL).join("conformance").join(case);
    let mut bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("bundle.sigstore.json")).unwrap())
            .unwrap();
    let v = bundle
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{case}: {pointer}"));
    *v = Value::String(change(v.as_str().unwrap()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bundle.sigstore.json"), bundle.to_string()).unwrap();
    for f in ["trusted_root.json", "key.pub", "artifact"] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
    }
    dir
}

/// Flips one character of a base64 string (the first that is not already 'A').
fn flip(s: &str) -> String {
    let i = s.len() / 2;
    let c = if &s[i..=i] == "A" { "B" } else { "A" };
    format!("{}{c}{}", &s[..i], &s[i + 1..])
}

#[test]
fn broken_variants_of_real_bundles_are_each_refused_with_a_reason() {
    let a_txt = format!("{REAL}/conformance/a.txt");
    let check = |dir: &Path, needle: &str| {
        let args = case_args(dir);
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push(&a_txt);
        let (code, out) = run(&all);
        assert_eq!(code, 1, "{needle}: {out}");
        assert!(out.contains(needle), "expected {needle:?} in {out}");
    };
    // Bad SET (Rekor v1 inclusion promise).
    let d = mutated(
        "happy-path-v0.3",
        "/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp",
        &flip,
    );
    check(d.path(), "[tlog-entry-invalid]: invalid inclusion promise");
    // Bad checkpoint signature (Rekor v2).
    let d = mutated(
        "rekor2-happy-path",
        "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope",
        &|s: &str| {
            let (body, sig) = s.rsplit_once(' ').unwrap();
            format!("{body} {}", flip(sig.trim_end()))
        },
    );
    check(d.path(), "[tlog-entry-invalid]: invalid checkpoint");
    // Unknown bundle version.
    let d = mutated("happy-path-v0.3", "/mediaType", &|_| {
        "application/vnd.dev.sigstore.bundle.v0.9+json".into()
    });
    check(
        d.path(),
        "[bundle-invalid]: not a Sigstore bundle: JSON error: Invalid media type",
    );
    // A certificate long expired, with no signed time to judge it at (a Rekor v2 entry has no
    // integrated time; its RFC 3161 timestamp removed).
    let d = mutated("rekor2-happy-path", "/mediaType", &|s: &str| s.to_string());
    let mut b: Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("bundle.sigstore.json")).unwrap(),
    )
    .unwrap();
    b["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    std::fs::write(d.path().join("bundle.sigstore.json"), b.to_string()).unwrap();
    check(d.path(), "[timestamp-invalid]: no verified timestamp");
    // A timestamp outside the TSA's validity: the trusted root's TSA ends before it.
    let d = mutated("rekor2-happy-path", "/mediaType", &|s: &str| s.to_string());
    let root_path = if d.path().join("trusted_root.json").exists() {
        d.path().join("trusted_root.json")
    } else {
        Path::new(REAL).join("production_trusted_root.json")
    };
    let mut root: Value =
        serde_json::from_str(&std::fs::read_to_string(&root_path).unwrap()).unwrap();
    for tsa in root["timestampAuthorities"].as_array_mut().unwrap() {
        tsa["validFor"] =
            serde_json::json!({"start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"});
    }
    std::fs::write(d.path().join("trusted_root.json"), root.to_string()).unwrap();
    check(
        d.path(),
        "[timestamp-invalid]: RFC 3161 timestamp 2025-06-12T12:02:20Z is outside the validity period",
    );
}
