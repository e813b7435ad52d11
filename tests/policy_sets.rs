//! Policy sets from registries and bundles, against a real registry (`docker-registry` on
//! loopback): `push`/`pull` in conftest's OCI format, `-p oci://…` equal to the local directory,
//! tampering and unsigned sets refused with exit 2 naming the reference, OPA bundles (file and
//! HTTP) with and without `.signatures.json`, and `serve` swapping to a newly pushed digest under
//! load (wrk) while keeping the old set when the new one fails verification.

mod common;

use common::oci::{Key, Pusher, TestRegistry};
use common::policyctl;
use common::webhook::{review, Webhook};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const DENY: &str = r#"package main

import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	not startswith(c.image, data.allowed_registry)
	msg := sprintf("%s: image %s is not from %s", [input.metadata.name, c.image, data.allowed_registry])
}
"#;

const DENY_TEST: &str = r#"package main

import rego.v1

test_foreign_image_denied if {
	count(deny) == 1 with input as {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": [{"image": "docker.io/x"}]}}}}
		with data.allowed_registry as "ghcr.io/acme/"
}
"#;

const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: a, image: docker.io/nginx:1}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ok}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: a, image: ghcr.io/acme/web:2}\n";

/// A conftest-style policy directory: a rule, its test, its data, and a Gatekeeper pair.
fn policy_dir(root: &Path, allowed: &str) -> std::path::PathBuf {
    let dir = root.join("policy");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(dir.join("deny.rego"), DENY).unwrap();
    std::fs::write(dir.join("deny_test.rego"), DENY_TEST).unwrap();
    std::fs::write(
        dir.join("lib/data.json"),
        format!("{{\"allowed_registry\": \"{allowed}\"}}\n"),
    )
    .unwrap();
    dir
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = policyctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Findings without the policy file names (which say where the policy came from).
fn findings(json_out: &str) -> Value {
    let v: Value = serde_json::from_str(json_out).unwrap_or_else(|e| panic!("{e}: {json_out}"));
    v["findings"].clone()
}

fn push(reg: &str, reference: &str, dir: &Path) -> String {
    let (code, out, err) = run(
        &[
            "push",
            "-q",
            "--insecure-registry",
            reg,
            reference,
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    out.trim().to_string()
}

fn manifest(reg: &str, repo: &str, reference: &str) -> Value {
    let mut s = std::net::TcpStream::connect(reg).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /v2/{repo}/manifests/{reference} HTTP/1.0\r\nHost: {reg}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

#[test]
fn push_then_check_from_oci_equals_the_local_directory_and_pull_round_trips() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = policy_dir(tmp.path(), "ghcr.io/acme/");
    let app = tmp.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let cache = tmp.path().join("cache");
    let env = [("POLICYCTL_CACHE_DIR", cache.to_str().unwrap())];

    let pinned = push(&reg.addr, &format!("{}/policies:v1", reg.addr), &dir);
    assert!(
        pinned.starts_with(&format!("{}/policies@sha256:", reg.addr)),
        "{pinned}"
    );
    let digest = pinned.split('@').nth(1).unwrap().to_string();
    // The same files push to the same digest.
    assert_eq!(
        push(&reg.addr, &format!("{}/policies:again", reg.addr), &dir),
        pinned
    );

    // conftest's media types and file names.
    let m = manifest(&reg.addr, "policies", "v1");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.cncf.openpolicyagent.config.v1+json"
    );
    let layers: Vec<(String, String)> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["annotations"]["org.opencontainers.image.title"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                l["mediaType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let rego = "application/vnd.cncf.openpolicyagent.policy.layer.v1+rego".to_string();
    let data = "application/vnd.cncf.openpolicyagent.data.layer.v1+json".to_string();
    assert_eq!(
        layers,
        vec![
            ("deny.rego".to_string(), rego.clone()),
            ("deny_test.rego".to_string(), rego),
            ("lib/data.json".to_string(), data),
        ]
    );

    // check from oci:// (tag and digest) gives the local directory's findings.
    let local = run(
        &[
            "check",
            "-o",
            "json",
            "-p",
            dir.to_str().unwrap(),
            "-d",
            dir.join("lib").to_str().unwrap(),
            app.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(local.0, 1, "{local:?}");
    for reference in [
        format!("oci://{}/policies:v1", reg.addr),
        format!("oci://{}/policies@{digest}", reg.addr),
    ] {
        let remote = run(
            &[
                "check",
                "-o",
                "json",
                "--insecure-registry",
                &reg.addr,
                "-p",
                &reference,
                app.to_str().unwrap(),
            ],
            &env,
        );
        assert_eq!(remote.0, 1, "{remote:?}");
        assert_eq!(findings(&remote.1), findings(&local.1));
        assert_eq!(findings(&remote.1).as_array().unwrap().len(), 1);
    }
    // The summary names the digest.
    let text = run(
        &[
            "check",
            "--insecure-registry",
            &reg.addr,
            "-p",
            &format!("oci://{}/policies:v1", reg.addr),
            app.to_str().unwrap(),
        ],
        &env,
    );
    assert!(
        text.1.contains(&format!(
            "policies: oci://{}/policies:v1@{digest}",
            reg.addr
        )),
        "{}",
        text.1
    );

    // The pushed tests run from the registry.
    let tested = run(
        &[
            "test",
            "--insecure-registry",
            &reg.addr,
            &format!("oci://{}/policies:v1", reg.addr),
        ],
        &env,
    );
    assert_eq!(tested.0, 0, "{tested:?}");
    assert!(tested.1.contains("PASS: 1/1"), "{}", tested.1);

    // pull writes every file back byte for byte.
    let out = tmp.path().join("pulled");
    let pulled = run(
        &[
            "pull",
            "--insecure-registry",
            &reg.addr,
            &format!("{}/policies:v1", reg.addr),
            "--out",
            out.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(pulled.0, 0, "{pulled:?}");
    for f in ["deny.rego", "deny_test.rego", "lib/data.json"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }

    // The cache serves a digest reference without the registry (it is content-addressed).
    drop(reg);
    let offline = run(
        &[
            "check",
            "-o",
            "json",
            "-p",
            &format!("oci://127.0.0.1:9/policies@{digest}"),
            app.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(findings(&offline.1), findings(&local.1), "{offline:?}");
    // A tag needs the registry: check never passes on a set it could not confirm is current.
    let tag = run(
        &[
            "check",
            "-p",
            "oci://127.0.0.1:9/policies:v1",
            app.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(tag.0, 2, "{tag:?}");
    assert!(
        tag.1.contains("oci://127.0.0.1:9/policies:v1") && tag.1.contains("unreachable"),
        "{}",
        tag.1
    );
}

#[test]
fn sets_pushed_by_conftest_and_opa_bundles_in_oci_are_read() {
    let reg = TestRegistry::start();
    let pusher = Pusher::new(&reg.addr);
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let env = [(
        "POLICYCTL_CACHE_DIR",
        tmp.path().join("cache").to_str().unwrap().to_string(),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // conftest (oras-go v2) writes an empty config of ORAS's unknown type and titled layers.
    let mut config = pusher.blob("conftest", b"{}");
    config["mediaType"] = json!("application/vnd.unknown.config.v1+json");
    let mut rego = pusher.blob("conftest", DENY.as_bytes());
    rego["mediaType"] = json!("application/vnd.cncf.openpolicyagent.policy.layer.v1+rego");
    rego["annotations"] = json!({"org.opencontainers.image.title": "policy/deny.rego"});
    let mut data = pusher.blob("conftest", br#"{"allowed_registry": "docker.io/"}"#);
    data["mediaType"] = json!("application/vnd.cncf.openpolicyagent.data.layer.v1+json");
    data["annotations"] = json!({"org.opencontainers.image.title": "policy/data.json"});
    let m = json!({"schemaVersion": 2, "mediaType": common::oci::OCI_MANIFEST, "config": config, "layers": [rego, data]});
    pusher.manifest("conftest", "latest", &m, common::oci::OCI_MANIFEST);
    let (code, out, err) = run(
        &[
            "check",
            "-o",
            "json",
            "--insecure-registry",
            &reg.addr,
            "-p",
            &format!("oci://{}/conftest", reg.addr),
            app.to_str().unwrap(),
        ],
        &env,
    );
    // Everything from docker.io is allowed by this data: the second deployment fails.
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        findings(&out)[0]["message"]
            .as_str()
            .unwrap()
            .contains("ok: image ghcr.io/acme/web:2"),
        "{out}"
    );

    // OPA's OCI bundles: one tar+gzip layer holding the bundle.
    let bundle = policyctl::remote::bundle::write_archive(&[
        (".manifest", br#"{"revision": "abc123"}"#),
        ("main/deny.rego", DENY.as_bytes()),
        ("data.json", br#"{"allowed_registry": "quay.io/"}"#),
    ]);
    let mut config = pusher.blob("opa", b"{}");
    config["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let mut layer = pusher.blob("opa", &bundle);
    layer["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    let m = json!({"schemaVersion": 2, "mediaType": common::oci::OCI_MANIFEST, "config": config, "layers": [layer]});
    pusher.manifest("opa", "v1", &m, common::oci::OCI_MANIFEST);
    let (code, out, err) = run(
        &[
            "check",
            "--insecure-registry",
            &reg.addr,
            "-p",
            &format!("oci://{}/opa:v1", reg.addr),
            app.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(out.matches("is not from quay.io/").count(), 2, "{out}");
    assert!(out.contains("(revision abc123)"), "{out}");

    // A container image is not a policy set.
    pusher.image("app", "v1", "x");
    let (code, out, _) = run(
        &[
            "check",
            "--insecure-registry",
            &reg.addr,
            "-p",
            &format!("oci://{}/app:v1", reg.addr),
            app.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(code, 2);
    assert!(out.contains("not part of a policy set"), "{out}");
}

#[test]
fn missing_tag_corrupt_layer_tampered_manifest_and_unsigned_sets_are_exit_2_naming_the_reference() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = policy_dir(tmp.path(), "ghcr.io/acme/");
    let app = tmp.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let pinned = push(&reg.addr, &format!("{}/policies:v1", reg.addr), &dir);
    let digest = pinned.split('@').nth(1).unwrap().to_string();
    let check = |reference: &str, extra: &[&str], cache: &str| {
        let mut args = vec!["check", "--insecure-registry", &reg.addr, "-p", reference];
        args.extend_from_slice(extra);
        args.push(app.to_str().unwrap());
        run(&args, &[("POLICYCTL_CACHE_DIR", cache)])
    };
    let fresh = || {
        tmp.path()
            .join(format!("cache-{}", rand_suffix()))
            .to_str()
            .unwrap()
            .to_string()
    };

    let missing = format!("oci://{}/policies:v9", reg.addr);
    let (code, out, _) = check(&missing, &[], &fresh());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&missing) && out.contains("no tag \"v9\""),
        "{out}"
    );

    // A registry that serves other bytes for a layer (its storage edited underneath it).
    let layer_digest = manifest(&reg.addr, "policies", "v1")["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let layer_path = reg.blob_path(&layer_digest);
    let original = std::fs::read(&layer_path).unwrap();
    std::fs::write(
        &layer_path,
        "package main\ndeny contains \"pwned\" if false\n",
    )
    .unwrap();
    let reference = format!("oci://{}/policies:v1", reg.addr);
    let (code, out, _) = check(&reference, &[], &fresh());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&reference)
            && out.contains(&format!("layer {layer_digest} is corrupt or tampered")),
        "{out}"
    );
    std::fs::write(&layer_path, &original).unwrap();

    // A tampered manifest: its bytes no longer hash to the digest the tag points at.
    let manifest_path = reg.blob_path(&digest);
    let original = std::fs::read(&manifest_path).unwrap();
    let tampered = String::from_utf8(original.clone())
        .unwrap()
        .replace("deny.rego", "evil.rego");
    std::fs::write(&manifest_path, tampered).unwrap();
    let (code, out, _) = check(&reference, &[], &fresh());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("manifest {digest} is corrupt or tampered")),
        "{out}"
    );
    std::fs::write(&manifest_path, &original).unwrap();

    // Signed sets: refused unsigned, refused signed by another key, loaded when signed.
    let key = Key::generate();
    let other = Key::generate();
    let key_file = tmp.path().join("cosign.pub");
    std::fs::write(&key_file, &key.public_pem).unwrap();
    let key_arg = ["--policy-key", key_file.to_str().unwrap()];
    let (code, out, _) = check(&reference, &key_arg, &fresh());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&reference) && out.contains("is not signed by the key"),
        "{out}"
    );
    let pusher = Pusher::new(&reg.addr);
    pusher.sign("policies", &digest, &other);
    let (code, out, _) = check(&reference, &key_arg, &fresh());
    assert_eq!(code, 2, "signed by another key: {out}");
    pusher.sign("policies", &digest, &key);
    let (code, out, err) = check(&reference, &key_arg, &fresh());
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("is not from ghcr.io/acme/"), "{out}");
    // A keyless identity requirement is not met by a key signature.
    let (code, out, _) = check(
        &reference,
        &[
            "--policy-identity",
            "ci@acme.example",
            "--policy-issuer",
            "https://token.actions.githubusercontent.com",
        ],
        &fresh(),
    );
    assert_eq!(code, 2, "{out}");
    // pull honours the same requirement.
    let (code, _, err) = run(
        &[
            "pull",
            "--insecure-registry",
            &reg.addr,
            &format!("{}/policies:v1", reg.addr),
            "--policy-key",
            key_file.to_str().unwrap(),
            "--out",
            tmp.path().join("p").to_str().unwrap(),
        ],
        &[("POLICYCTL_CACHE_DIR", &fresh())],
    );
    assert_eq!(code, 0, "{err}");
    let unsigned = push(
        &reg.addr,
        &format!("{}/other:v1", reg.addr),
        &policy_dir(&tmp.path().join("o"), "x/"),
    );
    let (code, _, err) = run(
        &[
            "pull",
            "--insecure-registry",
            &reg.addr,
            &unsigned,
            "--policy-key",
            key_file.to_str().unwrap(),
            "--out",
            tmp.path().join("q").to_str().unwrap(),
        ],
        &[("POLICYCTL_CACHE_DIR", &fresh())],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        !tmp.path().join("q").exists(),
        "nothing written from an unverified set"
    );
}

#[test]
fn keyless_signed_sets_load_for_the_required_identity_only() {
    use common::fulcio::{TestFulcio, NOT_BEFORE};
    const ISSUER: &str = "https://token.actions.githubusercontent.com";
    let reg = TestRegistry::start();
    let pusher = Pusher::new(&reg.addr);
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let pinned = push(
        &reg.addr,
        &format!("{}/policies:v1", reg.addr),
        &policy_dir(tmp.path(), "ghcr.io/acme/"),
    );
    let digest = pinned.split('@').nth(1).unwrap().to_string();
    // Signed keylessly by the policies repository's CI identity, logged in the test Rekor.
    let fulcio = TestFulcio::new("policies");
    let root = tmp.path().join("trust-root.yaml");
    std::fs::write(&root, fulcio.trust_root_yaml("test-root")).unwrap();
    let payload = common::oci::simple_signing(&format!("{}/policies", reg.addr), &digest);
    let leaf = fulcio.leaf("ci@acme.example", ISSUER, true);
    let sig = leaf.sign_b64(&payload);
    let bundle = fulcio.bundle(&payload, &sig, &leaf.cert_pem, NOT_BEFORE + 60);
    pusher.keyless_signature("policies", &digest, &payload, &sig, &leaf.cert_pem, &bundle);

    let reference = format!("oci://{}/policies:v1", reg.addr);
    let check = |identity: &str| {
        run(
            &[
                "check",
                "--insecure-registry",
                &reg.addr,
                "-p",
                &reference,
                "--policy-identity",
                identity,
                "--policy-issuer",
                ISSUER,
                "--policy-trusted-root",
                root.to_str().unwrap(),
                app.to_str().unwrap(),
            ],
            &[(
                "POLICYCTL_CACHE_DIR",
                tmp.path()
                    .join(format!("c-{}", rand_suffix()))
                    .to_str()
                    .unwrap(),
            )],
        )
    };
    let (code, out, err) = check("ci@acme.example");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("is not from ghcr.io/acme/"), "{out}");
    let (code, out, _) = check("someone-else@acme.example");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&reference)
            && out.contains("is not signed by identity someone-else@acme.example"),
        "{out}"
    );
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// An OPA bundle signed as `opa sign` does (ES256 JWT over the files' hashes).
fn signed_bundle(files: &[(&str, &[u8])], key_pem: &str) -> Vec<u8> {
    let listed: Vec<Value> = files
        .iter()
        .map(|(name, bytes)| {
            json!({"name": name, "hash": policyctl::remote::bundle::hash_file(name, bytes, "SHA-256").unwrap(), "algorithm": "SHA-256"})
        })
        .collect();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("policyctl-test".into());
    let token = jsonwebtoken::encode(
        &header,
        &json!({"files": listed, "iat": 1_700_000_000, "iss": "JWTService"}),
        &jsonwebtoken::EncodingKey::from_ec_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let sigs = format!("{{\"signatures\": [\"{token}\"]}}");
    let mut all: Vec<(&str, &[u8])> = files.to_vec();
    all.push((".signatures.json", sigs.as_bytes()));
    policyctl::remote::bundle::write_archive(&all)
}

/// Serves `body` at any path over plain HTTP on loopback, for `lifetime`; returns the address.
fn http_server(body: Vec<u8>, lifetime: Duration) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + lifetime;
        while Instant::now() < end {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    conn.set_nonblocking(false).unwrap();
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf);
                    let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n", body.len());
                    let _ = conn.write_all(&body);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    addr
}

#[test]
fn opa_bundles_from_files_and_http_with_and_without_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let env = [(
        "POLICYCTL_CACHE_DIR",
        tmp.path().join("cache").to_str().unwrap().to_string(),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let check = |policy: &str, extra: &[&str]| {
        let mut args = vec!["check", "-p", policy];
        args.extend_from_slice(extra);
        args.push(app.to_str().unwrap());
        run(&args, &env)
    };
    // Data at its directory's path: data.json under `config/` is data.config.
    let rule = DENY.replace("data.allowed_registry", "data.config.allowed_registry");
    let files: Vec<(&str, &[u8])> = vec![
        (
            ".manifest",
            br#"{"revision": "2026-12-01", "roots": ["main", "config"]}"#,
        ),
        ("main/deny.rego", rule.as_bytes()),
        (
            "config/data.json",
            br#"{"allowed_registry": "ghcr.io/acme/"}"#,
        ),
    ];
    let plain = tmp.path().join("plain.tar.gz");
    std::fs::write(&plain, policyctl::remote::bundle::write_archive(&files)).unwrap();
    let (code, out, err) = check(plain.to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("app: image docker.io/nginx:1 is not from ghcr.io/acme/"),
        "{out}"
    );
    assert!(out.contains("(revision 2026-12-01)"), "{out}");

    // Signed with an EC key: loads with --policy-key; tampering after signing is caught.
    let signing = rcgen::KeyPair::generate().unwrap();
    let public = tmp.path().join("bundle.pub");
    std::fs::write(&public, signing.public_key_pem()).unwrap();
    let signed = tmp.path().join("signed.tar.gz");
    std::fs::write(&signed, signed_bundle(&files, &signing.serialize_pem())).unwrap();
    let key_args = ["--policy-key", public.to_str().unwrap()];
    let (code, out, err) = check(signed.to_str().unwrap(), &key_args);
    assert_eq!(code, 1, "{out}{err}");
    // Signed but no key given: refused, as OPA refuses it.
    let (code, out, _) = check(signed.to_str().unwrap(), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no --policy-key"), "{out}");
    // Unsigned with a key required.
    let (code, out, _) = check(plain.to_str().unwrap(), &key_args);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not signed"), "{out}");
    // One byte of data changed after signing.
    let mut tampered_files = files.clone();
    tampered_files[2].1 = br#"{"allowed_registry": "docker.io/"}"#;
    let sigs_from_original = {
        let mut unpacked = Vec::new();
        let bytes = signed_bundle(&files, &signing.serialize_pem());
        let gz = flate2::read::GzDecoder::new(&bytes[..]);
        let mut ar = tar::Archive::new(gz);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            unpacked.push((name, b));
        }
        unpacked
            .into_iter()
            .find(|(n, _)| n == ".signatures.json")
            .unwrap()
            .1
    };
    let mut with_old_sig = tampered_files.clone();
    with_old_sig.push((".signatures.json", &sigs_from_original));
    let tampered = tmp.path().join("tampered.tar.gz");
    std::fs::write(
        &tampered,
        policyctl::remote::bundle::write_archive(&with_old_sig),
    )
    .unwrap();
    let (code, out, _) = check(tampered.to_str().unwrap(), &key_args);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("config/data.json: digest mismatch"), "{out}");
    // Another key does not verify it.
    let other = rcgen::KeyPair::generate().unwrap();
    let other_pub = tmp.path().join("other.pub");
    std::fs::write(&other_pub, other.public_key_pem()).unwrap();
    let (code, out, _) = check(
        signed.to_str().unwrap(),
        &["--policy-key", other_pub.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("does not verify"), "{out}");
    // A malformed manifest is refused, naming the bundle.
    let bad = tmp.path().join("bad.tar.gz");
    std::fs::write(
        &bad,
        policyctl::remote::bundle::write_archive(&[
            (".manifest", b"{\"roots\": \"main\"}"),
            ("main/deny.rego", DENY.as_bytes()),
        ]),
    )
    .unwrap();
    let (code, out, _) = check(bad.to_str().unwrap(), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("bad.tar.gz") && out.contains("malformed .manifest"),
        "{out}"
    );

    // Over HTTP: plain HTTP only for a host named with --insecure-registry.
    let server = http_server(std::fs::read(&signed).unwrap(), Duration::from_secs(60));
    let url = format!("http://{server}/bundles/k8s.tar.gz");
    let (code, out, _) = check(&url, &key_args);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("plain HTTP refused"), "{out}");
    let (code, out, err) = check(
        &url,
        &["--insecure-registry", &server, key_args[0], key_args[1]],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains(&format!("policies: {url}@sha256:")), "{out}");
}

fn admission(image: &str) -> Value {
    let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": image}]}}}});
    review("CREATE", Some(&object), None, false)
}

fn readyz(w: &Webhook) -> (u16, String) {
    let r = w.client().get(w.url("/readyz")).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn wait_for(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn serve_swaps_to_a_newly_pushed_digest_under_load_and_keeps_the_last_good_set() {
    let reg = TestRegistry::start();
    let pusher = Pusher::new(&reg.addr);
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::generate();
    let key_file = tmp.path().join("cosign.pub");
    std::fs::write(&key_file, &key.public_pem).unwrap();
    let v1 = push(
        &reg.addr,
        &format!("{}/policies:live", reg.addr),
        &policy_dir(&tmp.path().join("v1"), "ghcr.io/acme/"),
    );
    let d1 = v1.split('@').nth(1).unwrap().to_string();
    pusher.sign("policies", &d1, &key);

    let reference = format!("oci://{}/policies:live", reg.addr);
    let reg_addr = reg.addr.clone();
    let cache = tmp.path().join("cache");
    let w = Webhook::start(&[
        "-p",
        &reference,
        "--insecure-registry",
        &reg.addr,
        "--policy-key",
        key_file.to_str().unwrap(),
        "--policy-poll",
        "0.3",
        "--policy-cache",
        cache.to_str().unwrap(),
    ]);
    let (status, body) = readyz(&w);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&d1), "{body}");
    let (_, r) = w.review(&admission("quay.io/team/app:1"));
    assert_eq!(r["response"]["allowed"], false, "{r}");

    // Load (8 connections) while v2 — which allows quay.io — is pushed, signed and swapped in.
    let url = w.url("/validate?timeout=10s");
    let started = Instant::now();
    let load = std::thread::spawn(move || {
        common::webhook::wrk(&url, &admission("quay.io/team/app:1"), 8, 4)
    });
    std::thread::sleep(Duration::from_millis(700));
    let v2 = push(
        &reg.addr,
        &format!("{}/policies:live", reg.addr),
        &policy_dir(&tmp.path().join("v2"), "quay.io/"),
    );
    let d2 = v2.split('@').nth(1).unwrap().to_string();
    pusher.sign("policies", &d2, &key);
    wait_for("the new digest", Duration::from_secs(20), || {
        readyz(&w).1.contains(&d2)
    });
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the swap happened while wrk was running"
    );
    let text = load.join().unwrap();
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "requests dropped during the swap:\n{text}"
    );
    let done: u64 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    assert!(done > 20, "wrk made requests across the swap:\n{text}");
    let (_, r) = w.review(&admission("quay.io/team/app:1"));
    assert_eq!(r["response"]["allowed"], true, "v2 allows quay.io: {r}");

    // v3 is pushed but not signed: it is refused and v2 keeps serving.
    let v3 = push(
        &reg.addr,
        &format!("{}/policies:live", reg.addr),
        &policy_dir(&tmp.path().join("v3"), "docker.io/"),
    );
    let d3 = v3.split('@').nth(1).unwrap().to_string();
    wait_for(
        "the refused update in /readyz",
        Duration::from_secs(20),
        || {
            let (_, b) = readyz(&w);
            b.contains("last update failed") && b.contains("not signed")
        },
    );
    let (status, body) = readyz(&w);
    assert_eq!(status, 200);
    assert!(
        body.contains(&d2) && !body.contains(&format!("serving {reference}@{d3}")),
        "{body}"
    );
    let (_, r) = w.review(&admission("quay.io/team/app:1"));
    assert_eq!(r["response"]["allowed"], true, "still v2: {r}");
    let (_, r) = w.review(&admission("docker.io/nginx:1"));
    assert_eq!(
        r["response"]["allowed"], false,
        "v3 (unsigned) not in force: {r}"
    );
    let metrics = w.metrics();
    assert!(
        metrics.contains("what=\"remote_policies\",result=\"failure\""),
        "{metrics}"
    );
    assert!(w.log().contains("policy set update refused"), "{}", w.log());

    // Restarted while the registry is down: the last verified copy in the cache serves (v2).
    assert_eq!(w.terminate(), Some(0));
    drop(reg);
    let w = Webhook::start(&[
        "-p",
        &reference,
        "--insecure-registry",
        &reg_addr,
        "--policy-key",
        key_file.to_str().unwrap(),
        "--policy-poll",
        "0.3",
        "--policy-cache",
        cache.to_str().unwrap(),
    ]);
    let (status, body) = readyz(&w);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&d2), "{body}");
    let (_, r) = w.review(&admission("quay.io/team/app:1"));
    assert_eq!(r["response"]["allowed"], true, "cached v2: {r}");
    assert!(
        w.log().contains("serving a cached policy set"),
        "{}",
        w.log()
    );
}

#[test]
fn serve_with_an_unreachable_registry_and_no_cache_is_not_ready_and_denies() {
    let tmp = tempfile::tempdir().unwrap();
    let w = Webhook::start(&[
        "-p",
        "oci://127.0.0.1:9/policies:v1",
        "--insecure-registry",
        "127.0.0.1:9",
        "--policy-poll",
        "0.5",
        "--policy-cache",
        tmp.path().join("cache").to_str().unwrap(),
    ]);
    let (status, body) = readyz(&w);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no policy set loaded") && body.contains("oci://127.0.0.1:9/policies:v1"),
        "{body}"
    );
    let (code, r) = w.review(&admission("ghcr.io/acme/app:1"));
    assert_eq!(code, 200);
    assert_eq!(r["response"]["allowed"], false, "{r}");
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("no policy set loaded"),
        "{r}"
    );
}

/// `verify-image -p oci://…` takes its ClusterImagePolicies from a pushed set.
#[test]
fn verify_image_reads_image_policies_from_a_pushed_set() {
    let reg = TestRegistry::start();
    let pusher = Pusher::new(&reg.addr);
    let key = Key::generate();
    let digest = pusher.image("app", "1", "app");
    pusher.sign("app", &digest, &key);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cip.yaml"),
        common::oci::key_policy_yaml("signed", "**", "enforce", &key.public_pem),
    )
    .unwrap();
    // A set needs a policy file; the Rego is unused here.
    std::fs::write(dir.join("deny.rego"), DENY).unwrap();
    push(&reg.addr, &format!("{}/image-policies:v1", reg.addr), &dir);
    let env = [(
        "POLICYCTL_CACHE_DIR",
        tmp.path().join("cache").to_str().unwrap().to_string(),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = run(
        &[
            "verify-image",
            "--insecure-registry",
            &reg.addr,
            "-p",
            &format!("oci://{}/image-policies:v1", reg.addr),
            &reg.image("app", "1"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ALLOW"), "{out}");
    let unsigned = pusher.image("app", "2", "other");
    let (code, out, _) = run(
        &[
            "verify-image",
            "--insecure-registry",
            &reg.addr,
            "-p",
            &format!("oci://{}/image-policies:v1", reg.addr),
            &format!("{}/app@{unsigned}", reg.addr),
        ],
        &env,
    );
    assert_eq!(code, 1, "{out}");
}
