//! Keyless verification of cosign v3 bundles attached as OCI referrers, with a real production
//! artefact (testdata/sigstore-real/oci/cosign-attest-empty-image: `cosign attest
//! --new-bundle-format`, Rekor v1 dsse entry): the image and its bundle are pushed byte-exact to
//! the loopback registry, and a keyless ClusterImagePolicy with the signer's identity and the
//! attestation's predicate type must pass in verify-image, check and serve — and fail for another
//! identity, issuer or predicate type.

mod common;
use common::oci::{Pusher, TestRegistry};
use common::webhook::{review, Webhook};
use common::{check_json, findings};
use serde_json::{json, Value};
use std::path::Path;

const ART: &str = "testdata/sigstore-real/oci/cosign-attest-empty-image";
const DIGEST: &str = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

/// Pushes the real image (manifest and config byte-exact) and its bundle as a referrer.
fn push(reg: &TestRegistry) -> String {
    let p = Pusher::new(&reg.addr);
    let read = |f: &str| std::fs::read(Path::new(ART).join(f)).unwrap();
    p.blob("real/empty", &read("config.json"));
    let digest = p.manifest_bytes(
        "real/empty",
        "1",
        read("manifest.json"),
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    assert_eq!(digest, DIGEST, "the manifest is pushed byte-exact");
    p.referrers(
        "real/empty",
        &digest,
        read("manifest.json").len(),
        &[(BUNDLE, BUNDLE, read("bundle.sigstore.json"))],
    );
    reg.image("real/empty", "1")
}

/// A policy-controller TrustRoot made from a Sigstore `trusted_root.json`.
fn trust_root_yaml(name: &str, trusted_root: &Value) -> String {
    let b64 = |bytes: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let pem = |label: &str, raw: &str| {
        let body = raw
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    };
    let mut y = format!("apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: {name}}}\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n");
    for ca in trusted_root["certificateAuthorities"].as_array().unwrap() {
        let chain: String = ca["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| pem("CERTIFICATE", c["rawBytes"].as_str().unwrap()))
            .collect();
        y.push_str(&format!("      - certChain: {}\n", b64(chain.as_bytes())));
    }
    for (field, key) in [("tLogs", "tlogs"), ("ctLogs", "ctlogs")] {
        y.push_str(&format!("    {field}:\n"));
        for log in trusted_root[key].as_array().unwrap() {
            let key_pem = pem("PUBLIC KEY", log["publicKey"]["rawBytes"].as_str().unwrap());
            y.push_str(&format!(
                "      - baseURL: {}\n        hashAlgorithm: sha-256\n        publicKey: {}\n",
                log["baseUrl"].as_str().unwrap(),
                b64(key_pem.as_bytes())
            ));
        }
    }
    y
}

fn policy(identity: &str, issuer: &str, predicate: &str, trust_root: Option<&str>) -> String {
    let root = trust_root
        .map(|r| format!("        trustRootRef: {r}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: attested}}\nspec:\n  images: [{{glob: \"127.0.0.1:*/real/**\"}}]\n  authorities:\n    - name: cody\n      keyless:\n{root}        identities: [{{issuer: \"{issuer}\", subject: \"{identity}\"}}]\n      attestations:\n        - name: custom\n          predicateType: \"{predicate}\"\n"
    )
}

/// `verify-image -o json -p DIR IMAGE`: (exit code, the image's verdict or null, stderr).
fn run_verify(dir: &Path, registry: &str, image: &str) -> (i32, Value, String) {
    common::verify_image(registry, &["-p", dir.to_str().unwrap()], image, &[])
}

/// A loopback registry with the production attested image, and a policy directory requiring
/// its signer (cody@soyland.com via GitHub) through `trust_root` (or the public-good root).
fn cody_image_and_policy(trust_root: Option<&str>) -> (TestRegistry, String, tempfile::TempDir) {
    let reg = TestRegistry::start();
    let image = push(&reg);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cip.yaml"),
        policy(
            "cody@soyland.com",
            "https://github.com/login/oauth",
            CUSTOM,
            trust_root,
        ),
    )
    .unwrap();
    (reg, image, dir)
}

/// The production trusted root (`trusted_root.json`), and the same root without any
/// certificate authority (so it cannot vouch for the signer).
fn production_root_and_narrowed() -> (Vec<u8>, Vec<u8>) {
    let full = std::fs::read(Path::new(ART).join("trusted_root.json")).unwrap();
    let mut narrowed: Value = serde_json::from_slice(&full).unwrap();
    narrowed["certificateAuthorities"] = json!([]);
    (full, serde_json::to_vec(&narrowed).unwrap())
}

/// As [`run_verify`], for a run that must produce a verdict.
fn verify(dir: &Path, registry: &str, image: &str) -> (i32, Value) {
    let (code, v, stderr) = run_verify(dir, registry, image);
    assert!(!v.is_null(), "no verdict: {stderr}");
    (code, v)
}

#[test]
fn a_production_cosign_v3_attestation_bundle_passes_and_only_for_its_signer() {
    let reg = TestRegistry::start();
    let image = push(&reg);
    let dir = tempfile::tempdir().unwrap();
    let trusted: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ART).join("trusted_root.json")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("root.yaml"),
        trust_root_yaml("pgi", &trusted),
    )
    .unwrap();
    let write = |text: String| std::fs::write(dir.path().join("cip.yaml"), text).unwrap();

    write(policy(
        "cody@soyland.com",
        "https://github.com/login/oauth",
        CUSTOM,
        Some("pgi"),
    ));
    let (code, v) = verify(dir.path(), &reg.addr, &image);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["digest"], DIGEST);

    // The same in check and in the webhook.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                     "spec": {"containers": [{"name": "c", "image": image}]}});
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(
        manifests.path().join("pod.yaml"),
        serde_yaml::to_string(&pod).unwrap(),
    )
    .unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &reg.addr,
        manifests.path().to_str().unwrap(),
    ]);
    assert_eq!((code, findings(&report).len()), (0, 0), "{report:#}");
    let w = Webhook::start(&[
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &reg.addr,
    ]);
    let (_, body) = w.review(&review("CREATE", Some(&pod), None, false));
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    drop(w);

    // Another identity, issuer or predicate type: denied, each with its reason.
    for (text, needle) in [
        (
            policy(
                "mallory@example.com",
                "https://github.com/login/oauth",
                CUSTOM,
                Some("pgi"),
            ),
            "matches none of the policy's identities",
        ),
        (
            policy(
                "cody@soyland.com",
                "https://accounts.google.com",
                CUSTOM,
                Some("pgi"),
            ),
            "matches none of the policy's identities",
        ),
        (
            policy(
                "cody@soyland.com",
                "https://github.com/login/oauth",
                "https://slsa.dev/provenance/v1",
                Some("pgi"),
            ),
            "no Sigstore bundle with predicate type https://slsa.dev/provenance/v1",
        ),
    ] {
        write(text);
        let (code, v) = verify(dir.path(), &reg.addr, &image);
        assert_eq!(code, 1, "{v:#}");
        let reasons = v["policies"][0]["reasons"].to_string();
        assert!(reasons.contains(needle), "{needle}: {reasons}");
    }

    // Without trustRootRef: the embedded public-good root, which holds the same Fulcio CA and
    // Rekor key.
    write(policy(
        "cody@soyland.com",
        "https://github.com/login/oauth",
        CUSTOM,
        None,
    ));
    let (code, v) = verify(dir.path(), &reg.addr, &image);
    assert_eq!(code, 0, "{v:#}");

    // A TrustRoot that does not hold the signer's CA: denied.
    let mut other = trusted.clone();
    other["certificateAuthorities"] = json!([trusted["certificateAuthorities"][0]]);
    other["certificateAuthorities"][0]["certChain"]["certificates"] =
        json!([trusted["certificateAuthorities"][0]["certChain"]["certificates"][0]]);
    std::fs::write(dir.path().join("root.yaml"), trust_root_yaml("pgi", &other)).unwrap();
    write(policy(
        "cody@soyland.com",
        "https://github.com/login/oauth",
        CUSTOM,
        Some("pgi"),
    ));
    let (code, v) = verify(dir.path(), &reg.addr, &image);
    assert_eq!(code, 1, "{v:#}");
}

#[test]
fn the_public_good_root_is_refreshed_through_tuf_and_falls_back_to_the_embedded_one() {
    let (reg, image, dir) = cody_image_and_policy(None);
    // The mirror publishes a trusted root without the CA that issued the signer's certificate:
    // once refreshed through TUF, that root decides, and the image is denied.
    let (_, narrowed) = production_root_and_narrowed();
    let repo = common::tuf::TufRepo::new(&narrowed);
    let mirror = repo.serve(std::time::Duration::from_secs(60));
    let cache = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["-p", dir.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        common::verify_image(&reg.addr, &args, &image, &[("POLICYCTL_LOG", "info")])
    };
    let tuf_root = repo.root_json.to_str().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let (code, v, log) = run(&[
        "--tuf-mirror",
        &mirror,
        "--tuf-root",
        tuf_root,
        "--tuf-cache",
        cache_dir,
    ]);
    assert_eq!(
        code, 1,
        "the refreshed root has no CA for the signer: {v:#}\n{log}"
    );
    assert!(
        cache.path().read_dir().unwrap().next().is_some(),
        "metadata cached"
    );
    // Without --tuf-mirror: the embedded root, which has the CA.
    let (code, v, _) = run(&[]);
    assert_eq!(code, 0, "{v:#}");
    // A mirror that does not answer: the embedded root, and a log line saying so.
    let down = format!("http://127.0.0.1:{}", common::oci::free_port());
    let (code, v, log) = run(&["--tuf-mirror", &down, "--tuf-root", tuf_root]);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        log.contains("using the public-good Sigstore root embedded"),
        "{log}"
    );
    // A mirror whose metadata is not signed by the trusted TUF root: refused, embedded root.
    let other = common::tuf::TufRepo::new(&narrowed);
    let (code, _, log) = run(&[
        "--tuf-mirror",
        &mirror,
        "--tuf-root",
        other.root_json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("TUF refresh from"), "{log}");
}

#[test]
fn a_trust_root_with_spec_remote_is_fetched_through_tuf() {
    use base64::Engine as _;
    let (reg, image, dir) = cody_image_and_policy(Some("remote"));
    let remote = |mirror: &str, root_json: &Path| {
        let root =
            base64::engine::general_purpose::STANDARD.encode(std::fs::read(root_json).unwrap());
        std::fs::write(
            dir.path().join("root.yaml"),
            format!("apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: remote}}\nspec:\n  remote:\n    mirror: {mirror}\n    root: {root}\n"),
        )
        .unwrap();
    };
    let verify_here = || {
        let (code, _, stderr) = run_verify(dir.path(), &reg.addr, &image);
        (code, stderr)
    };
    let (full, narrowed) = production_root_and_narrowed();
    let repo = common::tuf::TufRepo::new(&full);
    let mirror = repo.serve(std::time::Duration::from_secs(60));
    remote(&mirror, &repo.root_json);
    let (code, err) = verify_here();
    assert_eq!(code, 0, "{err}");
    // The mirror's trusted root lacks the signer's CA: denied.
    let repo2 = common::tuf::TufRepo::new(&narrowed);
    let mirror2 = repo2.serve(std::time::Duration::from_secs(60));
    remote(&mirror2, &repo2.root_json);
    let (code, err) = verify_here();
    assert_eq!(code, 1, "{err}");
    // A mirror that cannot be reached: the TrustRoot does not load, and says why.
    let down = format!("http://127.0.0.1:{}", common::oci::free_port());
    remote(&down, &repo.root_json);
    let (code, err) = verify_here();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("spec.remote.mirror: TUF refresh from"),
        "{err}"
    );
}

#[test]
fn a_trust_root_with_spec_repository_is_unpacked_and_verified_offline() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let (reg, image, dir) = cody_image_and_policy(Some("airgapped"));
    // policy-controller's mirrorFS: the repository directory, tarred and gzipped.
    let tarball = |repo: &common::tuf::TufRepo| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        {
            let mut tar = tar::Builder::new(&mut gz);
            tar.append_dir_all("repository", repo.dir.path().join("repo"))
                .unwrap();
            tar.finish().unwrap();
        }
        gz.finish().unwrap()
    };
    let write_root = |root_json: &Path, mirror_fs: &[u8]| {
        std::fs::write(
            dir.path().join("root.yaml"),
            format!(
                "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: airgapped}}\nspec:\n  repository:\n    root: {}\n    mirrorFS: {}\n",
                b64(&std::fs::read(root_json).unwrap()),
                b64(mirror_fs)
            ),
        )
        .unwrap();
    };
    let verify_here = || {
        let (code, _, stderr) = run_verify(dir.path(), &reg.addr, &image);
        (code, stderr)
    };
    let (full, narrowed) = production_root_and_narrowed();
    let repo = common::tuf::TufRepo::new(&full);
    write_root(&repo.root_json, &tarball(&repo));
    let (code, err) = verify_here();
    assert_eq!(code, 0, "{err}");
    let repo2 = common::tuf::TufRepo::new(&narrowed);
    write_root(&repo2.root_json, &tarball(&repo2));
    let (code, err) = verify_here();
    assert_eq!(code, 1, "{err}");
    // Metadata not signed by the given initial root: the TrustRoot does not load.
    write_root(&repo.root_json, &tarball(&repo2));
    let (code, err) = verify_here();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("spec.repository.mirrorFS: TUF verification of mirrorFS failed"),
        "{err}"
    );
}
