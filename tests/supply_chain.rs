//! Supply chain against a real registry (`docker-registry` on loopback): cosign signatures and
//! attestations by key, made in process and by an independent path (openssl + skopeo), every
//! negative case with its specific reason, fail-closed faults, check integration, caching.

mod common;
use common::oci::{self, Key, Layout, OpensslKey, Pusher, TestRegistry};
use common::policyctl;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const CDX: &str = "https://cyclonedx.org/bom";

struct PolicySpec<'a> {
    glob: &'a str,
    mode: &'a str,
    key_pem: &'a str,
    /// (name, predicateType, rego policy)
    attestations: Vec<(&'a str, &'a str, Option<&'a str>)>,
    allow_referrer: bool,
}

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

fn write_policy(dir: &Path, name: &str, spec: &PolicySpec) {
    let mut atts = String::new();
    if !spec.attestations.is_empty() {
        atts.push_str("      attestations:\n");
        for (n, pt, rego) in &spec.attestations {
            atts.push_str(&format!(
                "        - name: {n}\n          predicateType: {pt}\n"
            ));
            if let Some(r) = rego {
                atts.push_str(&format!(
                    "          policy:\n            type: rego\n            data: |\n{}",
                    indent(r, 14)
                ));
            }
        }
    }
    let annotations = if spec.allow_referrer {
        "  annotations:\n    policyctl.dev/allow-unsigned-sbom-referrer: \"true\"\n"
    } else {
        ""
    };
    let yaml = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\n{annotations}spec:\n  mode: {}\n  images:\n    - glob: \"{}\"\n  authorities:\n    - name: team-key\n      key:\n        data: |\n{}{atts}",
        spec.mode,
        spec.glob,
        indent(spec.key_pem, 10),
    );
    std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
}

fn verify(policy_dir: &Path, registry: &str, image: &str, extra: &[&str]) -> (i32, Value) {
    let out = policyctl()
        .args([
            "verify-image",
            "-o",
            "json",
            "--insecure-registry",
            registry,
            "-p",
        ])
        .arg(policy_dir)
        .args(extra)
        .arg(image)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v["images"][0].clone())
}

fn reasons(v: &Value) -> String {
    v["policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// An image signed and SBOM-attested by `key` in process.
fn signed_image(p: &Pusher, key: &Key, repo: &str, tag: &str) -> String {
    let digest = p.image(repo, tag, &format!("{repo}:{tag}"));
    let payload = oci::simple_signing(&format!("{}/{repo}", p.registry), &digest);
    p.signatures(
        repo,
        &digest,
        &[(payload.clone(), oci::b64(&key.sign(&payload)))],
    );
    let st = oci::statement(CDX, &digest, oci::cyclonedx());
    p.attestations(repo, &digest, &[oci::envelope(&st, CDX, &|m| key.sign(m))]);
    digest
}

struct Fixture {
    reg: TestRegistry,
    pusher: Pusher,
    key: Key,
    dir: tempfile::TempDir,
}

fn fixture(attest: bool) -> Fixture {
    let reg = TestRegistry::start();
    let pusher = Pusher::new(&reg.addr);
    let key = Key::generate();
    let dir = tempfile::tempdir().unwrap();
    let glob = format!("{}/**", reg.addr);
    let atts = if attest {
        vec![("sbom", "cyclonedx", None)]
    } else {
        vec![]
    };
    write_policy(
        dir.path(),
        "signed-by-team",
        &PolicySpec {
            glob: &glob,
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: atts,
            allow_referrer: false,
        },
    );
    Fixture {
        reg,
        pusher,
        key,
        dir,
    }
}

#[test]
fn signed_and_attested_image_is_allowed() {
    let f = fixture(true);
    let digest = signed_image(&f.pusher, &f.key, "team/app", "1.0");
    let (code, v) = verify(
        f.dir.path(),
        &f.reg.addr,
        &f.reg.image("team/app", "1.0"),
        &[],
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["policies"][0]["name"], "signed-by-team");
    assert_eq!(v["policies"][0]["verdict"], "allow");
}

#[test]
fn independent_producer_openssl_and_skopeo_verifies_the_same_way() {
    let reg = TestRegistry::start();
    let key = OpensslKey::generate();
    let mut layout = Layout::new();
    let layer = layout.blob(
        b"independent image layer",
        "application/vnd.oci.image.layer.v1.tar",
    );
    let digest = layout.manifest("app", vec![layer]);
    layout.push("app", &format!("{}/indep/app:2.0", reg.addr));
    // Signature: the payload signed by `openssl dgst`, the .sig manifest uploaded by skopeo.
    let payload = oci::simple_signing(&format!("{}/indep/app", reg.addr), &digest);
    let sig = oci::b64(&key.sign(&payload));
    let mut sig_layer = layout.blob(&payload, "application/vnd.dev.cosign.simplesigning.v1+json");
    sig_layer["annotations"] = json!({"dev.cosignproject.cosign/signature": sig});
    layout.manifest("sig", vec![sig_layer]);
    layout.push(
        "sig",
        &format!("{}/indep/app:{}", reg.addr, oci::cosign_tag(&digest, "sig")),
    );
    // Attestation: the DSSE PAE signed by `openssl dgst`, uploaded by skopeo.
    let st = oci::statement(CDX, &digest, oci::cyclonedx());
    let env = oci::envelope(&st, CDX, &|m| key.sign(m));
    let mut att_layer = layout.blob(
        &serde_json::to_vec(&env).unwrap(),
        "application/vnd.dsse.envelope.v1+json",
    );
    att_layer["annotations"] =
        json!({"dev.cosignproject.cosign/signature": "", "predicateType": CDX});
    layout.manifest("att", vec![att_layer]);
    layout.push(
        "att",
        &format!("{}/indep/app:{}", reg.addr, oci::cosign_tag(&digest, "att")),
    );

    let dir = tempfile::tempdir().unwrap();
    let glob = format!("{}/indep/*", reg.addr);
    write_policy(
        dir.path(),
        "indep",
        &PolicySpec {
            glob: &glob,
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: vec![("sbom", "cyclonedx", None)],
            allow_referrer: false,
        },
    );
    let (code, v) = verify(
        dir.path(),
        &reg.addr,
        &format!("{}/indep/app:2.0", reg.addr),
        &[],
    );
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["digest"], digest.as_str());
}

#[test]
fn signature_negative_cases_each_have_their_reason() {
    let f = fixture(false);
    let p = &f.pusher;
    let repo = |r: &str| format!("{}/{r}", f.reg.addr);
    // Unsigned.
    p.image("neg/unsigned", "1", "unsigned");
    // Signed by another key.
    let other = Key::generate();
    let d = p.image("neg/untrusted", "1", "untrusted");
    p.sign("neg/untrusted", &d, &other);
    // Payload tampered after signing (the reference changed, the signature kept).
    let d = p.image("neg/tampered", "1", "tampered");
    let payload = oci::simple_signing(&repo("neg/tampered"), &d);
    let sig = oci::b64(&f.key.sign(&payload));
    let tampered = String::from_utf8(payload)
        .unwrap()
        .replace("neg/tampered", "neg/evil")
        .into_bytes();
    p.signatures("neg/tampered", &d, &[(tampered, sig)]);
    // A valid signature of another image copied to this image's .sig tag.
    let good = signed_image(p, &f.key, "neg/copied", "good");
    let victim = p.image("neg/copied", "victim", "victim");
    let payload = oci::simple_signing(&repo("neg/copied"), &good);
    p.signatures(
        "neg/copied",
        &victim,
        &[(payload.clone(), oci::b64(&f.key.sign(&payload)))],
    );

    let cases = [
        (
            "neg/unsigned:1",
            "image-unsigned",
            "no cosign signature for sha256:",
        ),
        (
            "neg/untrusted:1",
            "image-signature-invalid",
            "does not verify with the authority's key",
        ),
        (
            "neg/tampered:1",
            "image-signature-invalid",
            "does not verify with the authority's key",
        ),
        (
            "neg/copied:victim",
            "image-signature-mismatch",
            &format!("signature is for {good}, not this image's {victim}"),
        ),
    ];
    for (image, _code, needle) in cases {
        let (code, v) = verify(
            f.dir.path(),
            &f.reg.addr,
            &format!("{}/{image}", f.reg.addr),
            &[],
        );
        assert_eq!(code, 1, "{image}: {v:#}");
        assert_eq!(v["verdict"], "deny", "{image}");
        assert!(reasons(&v).contains(needle), "{image}: {}", reasons(&v));
    }
}

#[test]
fn attestation_negative_cases_each_have_their_reason() {
    let f = fixture(true);
    let p = &f.pusher;
    let other = Key::generate();
    // Signed, no attestation.
    let d = p.image("att/missing", "1", "missing");
    p.sign("att/missing", &d, &f.key);
    // Attestation signed by an untrusted key.
    let d = p.image("att/untrusted", "1", "untrusted");
    p.sign("att/untrusted", &d, &f.key);
    let st = oci::statement(CDX, &d, oci::cyclonedx());
    p.attestations(
        "att/untrusted",
        &d,
        &[oci::envelope(&st, CDX, &|m| other.sign(m))],
    );
    // Attestation whose subject is another digest.
    let d = p.image("att/subject", "1", "subject");
    p.sign("att/subject", &d, &f.key);
    let elsewhere = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let st = oci::statement(CDX, elsewhere, oci::cyclonedx());
    p.attestations(
        "att/subject",
        &d,
        &[oci::envelope(&st, CDX, &|m| f.key.sign(m))],
    );

    for (image, needle) in [
        (
            "att/missing:1",
            "no sbom attestation (predicate type https://cyclonedx.org/bom)",
        ),
        (
            "att/untrusted:1",
            "sbom attestation signature does not verify with the authority's key",
        ),
        ("att/subject:1", "sbom attestation is about sha256:1111"),
    ] {
        let (code, v) = verify(
            f.dir.path(),
            &f.reg.addr,
            &format!("{}/{image}", f.reg.addr),
            &[],
        );
        assert_eq!(code, 1, "{image}: {v:#}");
        assert!(reasons(&v).contains(needle), "{image}: {}", reasons(&v));
    }
}

#[test]
fn a_tag_moved_after_signing_is_judged_by_its_new_digest() {
    let f = fixture(false);
    let signed = signed_image(&f.pusher, &f.key, "moving/app", "stable");
    let moved = f
        .pusher
        .image("moving/app", "stable", "new unsigned content");
    assert_ne!(signed, moved);
    let (code, v) = verify(
        f.dir.path(),
        &f.reg.addr,
        &f.reg.image("moving/app", "stable"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(v["digest"], moved.as_str());
    assert!(
        reasons(&v).contains(&format!("no cosign signature for {moved}")),
        "{}",
        reasons(&v)
    );
    // The signed digest itself still verifies.
    let (code, _) = verify(
        f.dir.path(),
        &f.reg.addr,
        &format!("{}/moving/app@{signed}", f.reg.addr),
        &[],
    );
    assert_eq!(code, 0);
}

#[test]
fn registry_faults_fail_closed_and_deadline_is_respected() {
    let key = Key::generate();
    let dir = tempfile::tempdir().unwrap();
    write_policy(
        dir.path(),
        "all-local",
        &PolicySpec {
            glob: "127.0.0.1:*/**",
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: vec![],
            allow_referrer: false,
        },
    );
    // Down: nothing listens.
    let down = format!("127.0.0.1:{}", oci::free_port());
    let (code, v) = verify(dir.path(), &down, &format!("{down}/app:1"), &[]);
    assert_eq!(
        code, 2,
        "a registry fault is 'could not decide', not a denial: {v:#}"
    );
    assert_eq!(v["verdict"], "deny");
    let r = reasons(&v);
    assert!(
        r.contains(&format!(
            "cannot read the image's digest from registry {down}"
        )),
        "{r}"
    );
    // Hung: accepts, never answers. The deadline is respected.
    let hung = oci::silent_server(Duration::from_secs(20));
    let start = Instant::now();
    let (code, v) = verify(
        dir.path(),
        &hung,
        &format!("{hung}/app:1"),
        &["--timeout", "1"],
    );
    let elapsed = start.elapsed();
    assert_eq!(code, 2);
    assert!(
        reasons(&v).contains("did not finish within the 1.0s deadline"),
        "{}",
        reasons(&v)
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    // Warn mode: the same fault warns and allows.
    write_policy(
        dir.path(),
        "all-local",
        &PolicySpec {
            glob: "127.0.0.1:*/**",
            mode: "warn",
            key_pem: &key.public_pem,
            attestations: vec![],
            allow_referrer: false,
        },
    );
    let (code, v) = verify(dir.path(), &down, &format!("{down}/app:1"), &[]);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("warn")));
}

#[test]
fn static_pass_never_contacts_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("static.yaml"),
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: trusted-base}\nspec:\n  images: [{glob: \"127.0.0.1:*/base/**\"}]\n  authorities: [{static: {action: pass}}]\n",
    )
    .unwrap();
    let down = format!("127.0.0.1:{}", oci::free_port());
    let (code, v) = verify(dir.path(), &down, &format!("{down}/base/os:1"), &[]);
    assert_eq!((code, v["verdict"].as_str()), (0, Some("allow")), "{v:#}");
    // An image no policy matches: policy-controller's no-match-policy, deny by default.
    let (code, v) = verify(dir.path(), &down, &format!("{down}/other/app:1"), &[]);
    assert_eq!((code, v["verdict"].as_str()), (1, Some("deny")), "{v:#}");
    assert!(
        reasons(&v).contains("no ClusterImagePolicy matches image"),
        "{v:#}"
    );
    let (code, v) = verify(
        dir.path(),
        &down,
        &format!("{down}/other/app:1"),
        &["--no-match-policy", "warn"],
    );
    assert_eq!((code, v["verdict"].as_str()), (0, Some("warn")), "{v:#}");
    let (code, v) = verify(
        dir.path(),
        &down,
        &format!("{down}/other/app:1"),
        &["--no-match-policy", "allow"],
    );
    assert_eq!(
        (code, v["policies"].as_array().unwrap().len()),
        (0, 0),
        "no-match-policy allow: no policy, allowed"
    );
}

#[test]
fn attestation_rego_policy_and_unsigned_sbom_referrers() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    signed_image(&p, &key, "rego/app", "1");
    let dir = tempfile::tempdir().unwrap();
    let glob = format!("{}/rego/**", reg.addr);
    let strict = "package sigstore\nimport rego.v1\ndefault isCompliant := false\nisCompliant if count(input.predicate.components) > 5\n";
    write_policy(
        dir.path(),
        "needs-components",
        &PolicySpec {
            glob: &glob,
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: vec![("sbom", "cyclonedx", Some(strict))],
            allow_referrer: false,
        },
    );
    let (code, v) = verify(dir.path(), &reg.addr, &reg.image("rego/app", "1"), &[]);
    assert_eq!(code, 1);
    assert!(
        reasons(&v).contains("sbom policy: isCompliant is not true"),
        "{}",
        reasons(&v)
    );
    let lax = strict.replace("> 5", "> 0");
    write_policy(
        dir.path(),
        "needs-components",
        &PolicySpec {
            glob: &glob,
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: vec![("sbom", "cyclonedx", Some(&lax))],
            allow_referrer: false,
        },
    );
    let (code, _) = verify(dir.path(), &reg.addr, &reg.image("rego/app", "1"), &[]);
    assert_eq!(code, 0);

    // Signed but with the SBOM only as an unsigned referrer.
    let d = p.image("ref/app", "1", "referrer");
    p.sign("ref/app", &d, &key);
    let manifest_size = 400; // informational in the subject descriptor
    p.sbom_referrer("ref/app", &d, manifest_size);
    let rdir = tempfile::tempdir().unwrap();
    let glob = format!("{}/ref/**", reg.addr);
    write_policy(
        rdir.path(),
        "sbom",
        &PolicySpec {
            glob: &glob,
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: vec![("sbom", "cyclonedx", None)],
            allow_referrer: false,
        },
    );
    let (code, v) = verify(rdir.path(), &reg.addr, &reg.image("ref/app", "1"), &[]);
    assert_eq!(
        code, 1,
        "without the opt-in an unsigned referrer is not enough"
    );
    assert!(reasons(&v).contains("no sbom attestation"));
    write_policy(
        rdir.path(),
        "sbom",
        &PolicySpec {
            glob: &glob,
            mode: "enforce",
            key_pem: &key.public_pem,
            attestations: vec![("sbom", "cyclonedx", None)],
            allow_referrer: true,
        },
    );
    let (code, v) = verify(rdir.path(), &reg.addr, &reg.image("ref/app", "1"), &[]);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn check_reports_image_findings_on_the_workload_line() {
    let f = fixture(true);
    signed_image(&f.pusher, &f.key, "shop/api", "1.0");
    f.pusher.image("shop/sidecar", "1.0", "sidecar");
    let manifests = tempfile::tempdir().unwrap();
    let deploy = manifests.path().join("deploy.yaml");
    std::fs::write(
        &deploy,
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {}\n        - name: sidecar\n          image: {}\n",
            f.reg.image("shop/api", "1.0"),
            f.reg.image("shop/sidecar", "1.0")
        ),
    )
    .unwrap();
    let out = policyctl()
        .args([
            "check",
            "-o",
            "json",
            "--insecure-registry",
            &f.reg.addr,
            "-p",
        ])
        .arg(f.dir.path())
        .arg(&deploy)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "only the unsigned sidecar: {report:#}");
    let finding = &findings[0];
    assert_eq!(finding["line"], 5);
    assert_eq!(finding["resource"]["name"], "api");
    assert_eq!(finding["policy"], "ClusterImagePolicy/signed-by-team");
    assert_eq!(finding["rule"], "image-unsigned");
    let msg = finding["message"].as_str().unwrap();
    assert!(
        msg.starts_with("containers[1] (sidecar): image 127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.contains("no cosign signature"), "{msg}");
}

mod keyless {
    use super::*;
    use common::fulcio::{TestFulcio, NOT_BEFORE};

    const ISSUER: &str = "https://accounts.example.com";

    fn keyless_policy(dir: &Path, glob: &str, subject: &str, insecure_ignore_sct: bool) {
        std::fs::write(
            dir.join("keyless.yaml"),
            format!(
                "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: keyless}}\nspec:\n  images: [{{glob: \"{glob}\"}}]\n  authorities:\n    - name: ci\n      keyless:\n        trustRootRef: test-root\n        insecureIgnoreSCT: {insecure_ignore_sct}\n        identities:\n          - issuer: {ISSUER}\n            subjectRegExp: '^{subject}$'\n"
            ),
        )
        .unwrap();
    }

    /// Signs `repo:1` keylessly: leaf from `ca`, bundle from `trusted` (the Rekor of the root).
    fn sign(
        p: &Pusher,
        repo: &str,
        ca: &TestFulcio,
        rekor: &TestFulcio,
        email: &str,
        with_sct: bool,
        integrated: i64,
    ) {
        let digest = p.image(repo, "1", repo);
        let payload = oci::simple_signing("x", &digest);
        let leaf = ca.leaf(email, ISSUER, with_sct);
        let sig = leaf.sign_b64(&payload);
        let bundle = rekor.bundle(&payload, &sig, &leaf.cert_pem, integrated);
        p.keyless_signature(repo, &digest, &payload, &sig, &leaf.cert_pem, &bundle);
    }

    #[test]
    fn keyless_signatures_verify_offline_and_each_failure_has_its_reason() {
        let reg = TestRegistry::start();
        let p = Pusher::new(&reg.addr);
        let root = TestFulcio::new("trusted");
        let rogue = TestFulcio::new("rogue");
        let in_window = NOT_BEFORE + 120;
        sign(
            &p,
            "kl/good",
            &root,
            &root,
            "alice@example.com",
            true,
            in_window,
        );
        sign(
            &p,
            "kl/rogue-ca",
            &rogue,
            &root,
            "alice@example.com",
            true,
            in_window,
        );
        sign(
            &p,
            "kl/bob",
            &root,
            &root,
            "bob@example.com",
            true,
            in_window,
        );
        sign(
            &p,
            "kl/no-sct",
            &root,
            &root,
            "alice@example.com",
            false,
            in_window,
        );
        sign(
            &p,
            "kl/late",
            &root,
            &root,
            "alice@example.com",
            true,
            NOT_BEFORE + 3600,
        );
        sign(
            &p,
            "kl/rogue-rekor",
            &root,
            &rogue,
            "alice@example.com",
            true,
            in_window,
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("root.yaml"),
            root.trust_root_yaml("test-root"),
        )
        .unwrap();
        let glob = format!("{}/kl/**", reg.addr);
        keyless_policy(dir.path(), &glob, "alice@example\\.com", false);
        let (code, v) = verify(dir.path(), &reg.addr, &reg.image("kl/good", "1"), &[]);
        assert_eq!(
            code, 0,
            "certificate valid at the integrated time, though long expired now: {v:#}"
        );
        for (repo, needle) in [
            (
                "kl/rogue-ca",
                "not issued by a certificate authority of trust root test-root",
            ),
            ("kl/bob", "matches none of the policy's identities"),
            ("kl/no-sct", "certificate carries no SCT"),
            ("kl/late", "was not valid at the Rekor integrated time"),
            ("kl/rogue-rekor", "Rekor bundle does not verify"),
        ] {
            let (code, v) = verify(dir.path(), &reg.addr, &reg.image(repo, "1"), &[]);
            assert_eq!(code, 1, "{repo}: {v:#}");
            assert!(reasons(&v).contains(needle), "{repo}: {}", reasons(&v));
        }
        // insecureIgnoreSCT accepts the certificate without an SCT.
        keyless_policy(dir.path(), &glob, "alice@example\\.com", true);
        let (code, v) = verify(dir.path(), &reg.addr, &reg.image("kl/no-sct", "1"), &[]);
        assert_eq!(code, 0, "{v:#}");
    }
}

#[test]
fn newer_bundle_format_signatures_and_attestations_as_referrers() {
    let f = fixture(true);
    let p = &f.pusher;
    let digest = p.image("bundle/app", "1", "bundle");
    let sign = oci::statement("https://sigstore.dev/cosign/sign/v1", &digest, json!({}));
    let sbom = oci::statement(CDX, &digest, oci::cyclonedx());
    p.bundle_referrers(
        "bundle/app",
        &digest,
        &[
            oci::envelope(&sign, "https://sigstore.dev/cosign/sign/v1", &|m| {
                f.key.sign(m)
            }),
            oci::envelope(&sbom, CDX, &|m| f.key.sign(m)),
        ],
    );
    let (code, v) = verify(
        f.dir.path(),
        &f.reg.addr,
        &f.reg.image("bundle/app", "1"),
        &[],
    );
    assert_eq!(code, 0, "no .sig or .att tag, both in bundles: {v:#}");

    // A bundle signed by another key does not count.
    let other = Key::generate();
    let d2 = p.image("bundle/rogue", "1", "rogue bundle");
    let sign = oci::statement("https://sigstore.dev/cosign/sign/v1", &d2, json!({}));
    p.bundle_referrers(
        "bundle/rogue",
        &d2,
        &[oci::envelope(
            &sign,
            "https://sigstore.dev/cosign/sign/v1",
            &|m| other.sign(m),
        )],
    );
    let (code, v) = verify(
        f.dir.path(),
        &f.reg.addr,
        &f.reg.image("bundle/rogue", "1"),
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        reasons(&v).contains("no cosign signature"),
        "{}",
        reasons(&v)
    );
}

#[test]
fn credentials_come_from_the_docker_config() {
    let reg = TestRegistry::start_with_auth("alice", "s3cret");
    let p = Pusher::with_auth(&reg.addr, "alice", "s3cret");
    let key = Key::generate();
    let digest = p.image("private/app", "1", "private");
    p.sign("private/app", &digest, &key);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cip.yaml"),
        oci::key_policy_yaml("private", "127.0.0.1:*/**", "enforce", &key.public_pem),
    )
    .unwrap();
    let run_with_path = |docker_config: &Path, path: &std::ffi::OsStr| {
        let out = policyctl()
            .env("DOCKER_CONFIG", docker_config)
            .env("PATH", path)
            .args([
                "verify-image",
                "-o",
                "json",
                "--insecure-registry",
                &reg.addr,
                "-p",
            ])
            .arg(dir.path())
            .arg(reg.image("private/app", "1"))
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), v["images"][0].clone())
    };
    let system_path = std::env::var_os("PATH").unwrap_or_default();
    let run = |docker_config: &Path| run_with_path(docker_config, &system_path);
    // No credentials: the registry refuses, and the image is denied with that reason.
    let empty = tempfile::tempdir().unwrap();
    let (code, v) = run(empty.path());
    assert_eq!(
        code, 2,
        "refused by the registry: policyctl could not decide"
    );
    assert!(
        reasons(&v).contains("cannot read the image's digest from registry"),
        "{}",
        reasons(&v)
    );
    // Credentials in config.json, as `docker login` writes them.
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        serde_json::to_vec(
            &json!({"auths": {reg.addr.clone(): {"auth": oci::b64(b"alice:s3cret")}}}),
        )
        .unwrap(),
    )
    .unwrap();
    let (code, v) = run(config.path());
    assert_eq!(code, 0, "{v:#}");

    // A credential helper named in `credHelpers`, as cloud registries configure it: policyctl
    // runs `docker-credential-<name> get` with the registry on stdin.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-policyctl-test");
    let asked = bin.path().join("asked");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" > {}\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}' \"$server\"\n",
            asked.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helpers = tempfile::tempdir().unwrap();
    std::fs::write(
        helpers.path().join("config.json"),
        serde_json::to_vec(&json!({"credHelpers": {reg.addr.clone(): "policyctl-test"}})).unwrap(),
    )
    .unwrap();
    let mut path = std::ffi::OsString::from(bin.path());
    path.push(":");
    path.push(&system_path);
    let (code, v) = run_with_path(helpers.path(), &path);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(
        std::fs::read_to_string(&asked).unwrap().trim(),
        reg.addr,
        "the helper was asked for this registry"
    );
    // A helper that fails: no credentials, denied with the registry's refusal.
    std::fs::write(&helper, "#!/bin/sh\nexit 1\n").unwrap();
    let (code, v) = run_with_path(helpers.path(), &path);
    assert_eq!((code, v["verdict"].as_str()), (2, Some("deny")), "{v:#}");
}
