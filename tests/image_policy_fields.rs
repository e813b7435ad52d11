//! Every ClusterImagePolicy field is enforced or refused (issue 9): refused fields and typos
//! are load errors naming file, line and field; `spec.policy`, `spec.match`, `source`,
//! `ctlog`, `signatureFormat`, `static.message` and `no-match-policy` change verdicts, checked
//! against a real registry on loopback through verify-image, check and the webhook.

mod common;
use common::fulcio::TestFulcio;
use common::oci::{self, Key, Pusher, TestRegistry};
use common::webhook::{review, Webhook};
use common::{check_json, findings, policyctl};
use serde_json::{json, Value};
use std::path::Path;

const HEAD: &str = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\n";

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(n)))
        .collect()
}

/// `verify-image -o json` → (exit code, first image verdict, stderr).
fn verify(policy: &Path, registry: &str, image: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["-p", policy.to_str().unwrap()];
    args.extend_from_slice(extra);
    common::verify_image(registry, &args, image, &[])
}

fn reasons(v: &Value) -> String {
    v["policies"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .flat_map(|p| p["reasons"].as_array().cloned().unwrap_or_default())
                .map(|r| r.as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

#[test]
fn each_refused_or_misspelt_field_is_a_load_error_with_its_line() {
    let key = Key::generate();
    let key_block = indent(&key.public_pem, 10);
    let dir = tempfile::tempdir().unwrap();
    // (what, authority or spec text appended after `images`, line, expected text)
    let cases: Vec<(&str, String, usize, &str)> = vec![
        (
            "attestation typo",
            format!("  authorities:\n    - key:\n        data: |\n{key_block}      attestation:\n        - {{name: sbom, predicateType: cyclonedx}}\n"),
            0,
            "unknown field spec.authorities[0].attestation",
        ),
        (
            "unknown spec field",
            "  authorities: [{static: {action: pass}}]\n  imagez: []\n".into(),
            8,
            "unknown field spec.imagez",
        ),
        (
            "cue policy",
            "  authorities: [{static: {action: pass}}]\n  policy:\n    type: cue\n    data: 'x: 1'\n".into(),
            9,
            "spec.policy.type: \"cue\" is not supported",
        ),
        (
            "configMapRef",
            "  authorities: [{static: {action: pass}}]\n  policy:\n    type: rego\n    configMapRef: {name: p}\n".into(),
            10,
            "spec.policy.configMapRef: needs cluster access",
        ),
        (
            "remote url",
            "  authorities: [{static: {action: pass}}]\n  policy:\n    type: rego\n    remote: {url: https://example.com/p.rego}\n".into(),
            10,
            "spec.policy.remote: remote policies (url) are not fetched",
        ),
        (
            "kms",
            "  authorities:\n    - key:\n        kms: awskms:///alias/x\n".into(),
            9,
            "spec.authorities[0].key.kms: KMS keys are not supported",
        ),
        (
            "secretRef",
            "  authorities:\n    - key:\n        secretRef: {name: k}\n".into(),
            9,
            "spec.authorities[0].key.secretRef: needs cluster access",
        ),
        (
            "hashAlgorithm",
            format!("  authorities:\n    - key:\n        hashAlgorithm: sha512\n        data: |\n{key_block}"),
            9,
            "spec.authorities[0].key.hashAlgorithm: \"sha512\" is not supported",
        ),
        (
            "signaturePullSecrets",
            format!("  authorities:\n    - key:\n        data: |\n{key_block}      source:\n        - oci: registry.example/sigs\n          signaturePullSecrets: [{{name: pull}}]\n"),
            0,
            "spec.authorities[0].source[0].signaturePullSecrets: needs cluster access",
        ),
        (
            "rfc3161timestamp",
            format!("  authorities:\n    - key:\n        data: |\n{key_block}      rfc3161timestamp: {{trustRootRef: tsa}}\n"),
            0,
            "spec.authorities[0].rfc3161timestamp: RFC 3161 timestamp verification is not supported yet",
        ),
        (
            "signatureFormat",
            format!("  authorities:\n    - key:\n        data: |\n{key_block}      signatureFormat: sigstore\n"),
            0,
            "spec.authorities[0].signatureFormat: \"sigstore\" is not legacy or bundle",
        ),
        (
            "keyless ctlog off",
            "  authorities:\n    - keyless:\n        trustRootRef: r\n        identities: [{issuer: i, subject: s}]\n      ctlog: {}\n".into(),
            11,
            "spec.authorities[0].ctlog: ctlog: {} turns the transparency log off",
        ),
        (
            "match without resource",
            "  authorities: [{static: {action: pass}}]\n  match:\n    - {group: apps, version: v1}\n".into(),
            9,
            "spec.match[0].resource: is required",
        ),
        (
            "selector operator",
            "  authorities: [{static: {action: pass}}]\n  match:\n    - version: v1\n      resource: pods\n      selector:\n        matchExpressions:\n          - {key: app, operator: Near}\n".into(),
            13,
            "spec.match[0].selector.matchExpressions[0].operator: \"Near\" is not In",
        ),
        (
            "unknown identity field",
            "  authorities:\n    - keyless:\n        trustRootRef: r\n        identities:\n          - issuer: i\n            subjectRegex: '.*'\n".into(),
            12,
            "unknown field spec.authorities[0].keyless.identities[0].subjectRegex",
        ),
    ];
    for (what, tail, line, needle) in cases {
        let file = dir.path().join("cip.yaml");
        let text =
            format!("{HEAD}metadata:\n  name: case\nspec:\n  images: [{{glob: \"**\"}}]\n{tail}");
        std::fs::write(&file, &text).unwrap();
        let (code, _, stderr) = verify(&file, "127.0.0.1:1", "127.0.0.1:1/app:1", &[]);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stderr.contains(needle), "{what}: {stderr}");
        let line = if line == 0 {
            // After the key block: the line holding the field's key.
            let field = needle
                .trim_start_matches("unknown field ")
                .split(':')
                .next()
                .unwrap()
                .rsplit('.')
                .next()
                .unwrap();
            let field = field.split('[').next().unwrap();
            text.lines()
                .position(|l| {
                    l.trim_start()
                        .trim_start_matches("- ")
                        .starts_with(&format!("{field}:"))
                })
                .unwrap()
                + 1
        } else {
            line
        };
        let at = format!("{}:{line}: ClusterImagePolicy case", file.display());
        assert!(stderr.contains(&at), "{what}: expected {at} in {stderr}");
    }

    // TrustRoot: strict too.
    let file = dir.path().join("root.yaml");
    std::fs::write(
        &file,
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: r}\nspec:\n  sigstoreKeys:\n    certificateAuthorities: []\n    tlogs: []\n",
    )
    .unwrap();
    let (code, _, stderr) = verify(&file, "127.0.0.1:1", "127.0.0.1:1/app:1", &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:7: TrustRoot r: unknown field spec.sigstoreKeys.tlogs",
            file.display()
        )),
        "{stderr}"
    );
    std::fs::write(
        &file,
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: r}\nspec:\n  repository: {root: e30=, mirrorFS: e30=, targets: elsewhere}\n",
    )
    .unwrap();
    let (code, _, stderr) = verify(&file, "127.0.0.1:1", "127.0.0.1:1/app:1", &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:5: spec.repository.targets: only the default targets directory (targets) is supported",
            file.display()
        )),
        "{stderr}"
    );
}

const NEVER: &str = "package sigstore\ndefault isCompliant = false\n";

/// A static-pass policy for `glob` with this CIP-level Rego (and extra `policy:` fields).
fn static_with_policy(name: &str, glob: &str, rego: &str, extra: &str) -> String {
    format!(
        "{HEAD}metadata: {{name: {name}}}\nspec:\n  images: [{{glob: \"{glob}\"}}]\n  authorities: [{{static: {{action: pass}}}}]\n  policy:\n    type: rego\n{extra}    data: |\n{}",
        indent(rego, 6)
    )
}

fn pod(image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "labels": {"team": "web"}},
           "spec": {"serviceAccountName": "builder", "containers": [{"name": "c", "image": image}]}})
}

#[test]
fn a_never_compliant_cip_policy_denies_in_verify_image_check_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("never.yaml"),
        static_with_policy("never", "127.0.0.1:*/**", NEVER, ""),
    )
    .unwrap();
    let down = format!("127.0.0.1:{}", oci::free_port());
    let image = format!("{down}/app:1");
    let (code, v, stderr) = verify(dir.path(), &down, &image, &[]);
    assert_eq!(
        (code, v["verdict"].as_str()),
        (1, Some("deny")),
        "{v:#}{stderr}"
    );
    assert!(
        reasons(&v).contains("spec.policy: isCompliant is not true"),
        "{v:#}"
    );

    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(
        manifests.path().join("pod.yaml"),
        serde_yaml::to_string(&pod(&image)).unwrap(),
    )
    .unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &down,
        manifests.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].3, "image-policy-noncompliant", "{f:?}");

    let w = Webhook::start(&[
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &down,
    ]);
    let (_, body) = w.review(&review("CREATE", Some(&pod(&image)), None, false));
    assert_eq!(body["response"]["allowed"], false, "{body:#}");
    assert!(
        body["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("ClusterImagePolicy/never/image-policy-noncompliant"),
        "{body:#}"
    );
}

#[test]
fn cip_policy_input_has_policy_controllers_shape() {
    let dir = tempfile::tempdir().unwrap();
    // authorityMatches.<name>.static, and the workload through includeSpec/ObjectMeta/TypeMeta.
    let rego = "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.authorityMatches[\"authority-0\"].static == true\n  input.spec.serviceAccountName == \"builder\"\n  input.metadata.labels.team == \"web\"\n  not input.typemeta\n}\n";
    std::fs::write(
        dir.path().join("shape.yaml"),
        static_with_policy(
            "shape",
            "127.0.0.1:*/**",
            rego,
            "    includeSpec: true\n    includeObjectMeta: true\n    includeTypeMeta: true\n",
        ),
    )
    .unwrap();
    let down = format!("127.0.0.1:{}", oci::free_port());
    let image = format!("{down}/app:1");
    let resource = dir.path().join("pod.json");
    std::fs::write(&resource, pod(&image).to_string()).unwrap();
    let (code, v, stderr) = verify(
        dir.path(),
        &down,
        &image,
        &["--resource", resource.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{v:#}{stderr}");
    // Without the workload there is no spec: not compliant.
    let (code, v, _) = verify(dir.path(), &down, &image, &[]);
    assert_eq!(code, 1, "{v:#}");
}

#[test]
fn spec_match_selects_the_workloads_a_policy_applies_to() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cronjobs.yaml"),
        format!("{HEAD}metadata: {{name: cronjobs-only}}\nspec:\n  images: [{{glob: \"127.0.0.1:*/**\"}}]\n  authorities: [{{static: {{action: fail, message: batch images need a signature}}}}]\n  match:\n    - group: batch\n      version: v1\n      resource: cronjobs\n      selector:\n        matchLabels: {{tier: batch}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("all.yaml"),
        format!("{HEAD}metadata: {{name: everything}}\nspec:\n  images: [{{glob: \"127.0.0.1:*/**\"}}]\n  authorities: [{{static: {{action: pass}}}}]\n"),
    )
    .unwrap();
    let image = "127.0.0.1:5999/app:1";
    let template = json!({"spec": {"containers": [{"name": "c", "image": image}]}});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"tier": "batch"}},
        "spec": {"template": template}});
    let cronjob = |tier: &str| {
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": format!("cj-{tier}"), "labels": {"tier": tier}},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}})
    };
    // The webhook selects the same way.
    let w = Webhook::start(&["-p", dir.path().to_str().unwrap()]);
    for (obj, allowed) in [
        (&deployment, true),
        (&cronjob("batch"), false),
        (&cronjob("web"), true),
    ] {
        let mut obj = obj.clone();
        obj["metadata"]["namespace"] = json!("default");
        let (_, body) = w.review(&review("CREATE", Some(&obj), None, false));
        assert_eq!(body["response"]["allowed"], allowed, "{obj:#}: {body:#}");
    }
    drop(w);
    let manifests = tempfile::tempdir().unwrap();
    for (name, obj) in [
        ("deploy.yaml", deployment),
        ("cron-batch.yaml", cronjob("batch")),
        ("cron-web.yaml", cronjob("web")),
    ] {
        std::fs::write(
            manifests.path().join(name),
            serde_yaml::to_string(&obj).unwrap(),
        )
        .unwrap();
    }
    let (code, report) = check_json(&[
        "check",
        "-p",
        dir.path().to_str().unwrap(),
        manifests.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report);
    assert_eq!(f.len(), 1, "only the labelled CronJob: {f:?}");
    assert!(f[0].1.ends_with("cron-batch.yaml"), "{f:?}");
    assert!(f[0].4.contains("batch images need a signature"), "{f:?}");

    // verify-image --resource applies the same selection.
    let (code, v, _) = verify(
        dir.path(),
        "127.0.0.1:5999",
        image,
        &[
            "--resource",
            manifests.path().join("deploy.yaml").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{v:#}");
    let (code, v, _) = verify(
        dir.path(),
        "127.0.0.1:5999",
        image,
        &[
            "--resource",
            manifests.path().join("cron-batch.yaml").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{v:#}");
}

#[test]
fn no_match_policy_deny_warn_allow_in_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.yaml"),
        format!("{HEAD}metadata: {{name: base}}\nspec:\n  images: [{{glob: \"127.0.0.1:*/base/**\"}}]\n  authorities: [{{static: {{action: pass}}}}]\n"),
    )
    .unwrap();
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(
        manifests.path().join("pod.yaml"),
        serde_yaml::to_string(&pod("127.0.0.1:5999/other/app:1")).unwrap(),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "-p", dir.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(manifests.path().to_str().unwrap());
        check_json(&args)
    };
    let (code, report) = run(&[]);
    assert_eq!(code, 1, "deny by default, as policy-controller: {report:#}");
    assert_eq!(findings(&report)[0].3, "image-no-policy");
    let (code, report) = run(&["--no-match-policy", "warn"]);
    assert_eq!(
        (code, findings(&report)[0].0.as_str()),
        (0, "warning"),
        "{report:#}"
    );
    let (code, report) = run(&["--no-match-policy", "allow"]);
    assert_eq!((code, findings(&report).len()), (0, 0), "{report:#}");
    // serve: the same flag, the same default.
    let pod = pod("127.0.0.1:5999/other/app:1");
    for (flag, allowed, warned) in [
        ("deny", false, false),
        ("warn", true, true),
        ("allow", true, false),
    ] {
        let w = Webhook::start(&[
            "-p",
            dir.path().to_str().unwrap(),
            "--no-match-policy",
            flag,
        ]);
        let (_, body) = w.review(&review("CREATE", Some(&pod), None, false));
        assert_eq!(body["response"]["allowed"], allowed, "{flag}: {body:#}");
        assert_eq!(
            body["response"]["warnings"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            warned,
            "{flag}: {body:#}"
        );
    }
}

/// A key policy with extra authority fields.
fn key_policy(name: &str, glob: &str, key: &Key, extra: &str) -> String {
    format!(
        "{HEAD}metadata: {{name: {name}}}\nspec:\n  images: [{{glob: \"{glob}\"}}]\n  authorities:\n    - name: team\n      key:\n        data: |\n{}{extra}",
        indent(&key.public_pem, 10)
    )
}

#[test]
fn signatures_kept_in_another_repository_through_source_oci_and_tag_prefix() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let digest = p.image("apps/web", "1", "web");
    // The signature lives in sigs/store, as COSIGN_REPOSITORY=<reg>/sigs/store writes it.
    p.sign("sigs/store", &digest, &key);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("cip.yaml");
    std::fs::write(
        &policy,
        key_policy("signed", "127.0.0.1:*/apps/**", &key, ""),
    )
    .unwrap();
    let image = reg.image("apps/web", "1");
    let (code, v, _) = verify(&policy, &reg.addr, &image, &[]);
    assert_eq!(code, 1, "not in the image's repository: {v:#}");
    assert!(reasons(&v).contains("no cosign signature"), "{v:#}");
    std::fs::write(
        &policy,
        key_policy(
            "signed",
            "127.0.0.1:*/apps/**",
            &key,
            &format!("      source:\n        - oci: {}/sigs/store\n", reg.addr),
        ),
    )
    .unwrap();
    let (code, v, _) = verify(&policy, &reg.addr, &image, &[]);
    assert_eq!(code, 0, "{v:#}");

    // tagPrefix: cosign's tag with a prefix.
    let d2 = p.image("apps/api", "1", "api");
    let payload = oci::simple_signing(&format!("{}/apps/api", reg.addr), &d2);
    p.annotated_signature(
        "sigs/store",
        &format!("team-{}", oci::cosign_tag(&d2, "sig")),
        &payload,
        json!({"dev.cosignproject.cosign/signature": oci::b64(&key.sign(&payload))}),
    );
    let image = reg.image("apps/api", "1");
    let (code, v, _) = verify(&policy, &reg.addr, &image, &[]);
    assert_eq!(code, 1, "{v:#}");
    std::fs::write(
        &policy,
        key_policy(
            "signed",
            "127.0.0.1:*/apps/**",
            &key,
            &format!(
                "      source:\n        - oci: {}/sigs/store\n          tagPrefix: team-\n",
                reg.addr
            ),
        ),
    )
    .unwrap();
    let (code, v, _) = verify(&policy, &reg.addr, &image, &[]);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn a_key_authority_with_ctlog_requires_a_valid_rekor_entry() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let log = TestFulcio::new("log");
    let rogue = TestFulcio::new("rogue");
    let sign = |repo: &str, bundle_by: Option<&TestFulcio>| {
        let digest = p.image(repo, "1", repo);
        let payload = oci::simple_signing(&format!("{}/{repo}", reg.addr), &digest);
        let sig = oci::b64(&key.sign(&payload));
        let mut notes = json!({"dev.cosignproject.cosign/signature": sig});
        if let Some(l) = bundle_by {
            notes["dev.sigstore.cosign/bundle"] =
                json!(l.bundle(&payload, &sig, &key.public_pem, 1_767_225_700));
        }
        p.annotated_signature(repo, &oci::cosign_tag(&digest, "sig"), &payload, notes);
    };
    sign("tl/unlogged", None);
    sign("tl/logged", Some(&log));
    sign("tl/rogue", Some(&rogue));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("root.yaml"),
        log.trust_root_yaml("log-root"),
    )
    .unwrap();
    for ctlog in [
        "      ctlog: {trustRootRef: log-root}\n",
        "      ctlog: {url: \"https://rekor.test\"}\n",
    ] {
        std::fs::write(
            dir.path().join("cip.yaml"),
            key_policy("logged", "127.0.0.1:*/tl/**", &key, ctlog),
        )
        .unwrap();
        let (code, v, e) = verify(dir.path(), &reg.addr, &reg.image("tl/logged", "1"), &[]);
        assert_eq!(code, 0, "{ctlog}: {v:#}{e}");
        let (code, v, _) = verify(dir.path(), &reg.addr, &reg.image("tl/unlogged", "1"), &[]);
        assert_eq!(code, 1, "{v:#}");
        assert!(reasons(&v).contains("no Rekor bundle"), "{v:#}");
        let (code, v, _) = verify(dir.path(), &reg.addr, &reg.image("tl/rogue", "1"), &[]);
        assert_eq!(code, 1, "{v:#}");
        assert!(
            reasons(&v).contains("Rekor bundle does not verify"),
            "{v:#}"
        );
    }
    // Without ctlog, a key authority does not look at the log (policy-controller's default).
    std::fs::write(
        dir.path().join("cip.yaml"),
        key_policy("logged", "127.0.0.1:*/tl/**", &key, ""),
    )
    .unwrap();
    let (code, v, _) = verify(dir.path(), &reg.addr, &reg.image("tl/unlogged", "1"), &[]);
    assert_eq!(code, 0, "{v:#}");
    // A log URL no TrustRoot knows: denied with that reason.
    std::fs::write(
        dir.path().join("cip.yaml"),
        key_policy(
            "logged",
            "127.0.0.1:*/tl/**",
            &key,
            "      ctlog: {url: \"https://rekor.example.com\"}\n",
        ),
    )
    .unwrap();
    let (code, v, _) = verify(dir.path(), &reg.addr, &reg.image("tl/logged", "1"), &[]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        reasons(&v).contains(
            "names no transparency log of a loaded TrustRoot nor of the public-good Sigstore root"
        ),
        "{v:#}"
    );
    // The public-good Rekor is known without a TrustRoot: its key decides (this test log's
    // entry is not in it).
    std::fs::write(
        dir.path().join("cip.yaml"),
        key_policy(
            "logged",
            "127.0.0.1:*/tl/**",
            &key,
            "      ctlog: {url: \"https://rekor.sigstore.dev\"}\n",
        ),
    )
    .unwrap();
    let (code, v, _) = verify(dir.path(), &reg.addr, &reg.image("tl/logged", "1"), &[]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        reasons(&v).contains("Rekor bundle does not verify"),
        "{v:#}"
    );
}

#[test]
fn signature_format_legacy_and_bundle_read_only_their_format() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let legacy = p.image("fmt/legacy", "1", "legacy");
    p.sign("fmt/legacy", &legacy, &key);
    let bundled = p.image("fmt/bundle", "1", "bundle");
    let st = oci::statement("https://sigstore.dev/cosign/sign/v1", &bundled, json!({}));
    p.bundle_referrers(
        "fmt/bundle",
        &bundled,
        &[oci::envelope(
            &st,
            "https://sigstore.dev/cosign/sign/v1",
            &|m| key.sign(m),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("cip.yaml");
    for (format, legacy_ok, bundle_ok) in [
        ("", true, true),
        ("legacy", true, false),
        ("bundle", false, true),
    ] {
        let extra = if format.is_empty() {
            String::new()
        } else {
            format!("      signatureFormat: {format}\n")
        };
        std::fs::write(
            &policy,
            key_policy("fmt", "127.0.0.1:*/fmt/**", &key, &extra),
        )
        .unwrap();
        for (repo, ok) in [("fmt/legacy", legacy_ok), ("fmt/bundle", bundle_ok)] {
            let (code, v, _) = verify(&policy, &reg.addr, &reg.image(repo, "1"), &[]);
            assert_eq!(code, if ok { 0 } else { 1 }, "{format:?} {repo}: {v:#}");
        }
    }
}

#[test]
fn fetch_config_file_gives_the_policy_each_platforms_config() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    p.image("cfg/app", "1", "configured");
    let dir = tempfile::tempdir().unwrap();
    let rego = "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.config[\"linux/amd64\"].config.Labels.fixture == \"configured\"\n}\n";
    std::fs::write(
        dir.path().join("cfg.yaml"),
        static_with_policy(
            "cfg",
            "127.0.0.1:*/cfg/**",
            rego,
            "    fetchConfigFile: true\n",
        ),
    )
    .unwrap();
    let (code, v, e) = verify(dir.path(), &reg.addr, &reg.image("cfg/app", "1"), &[]);
    assert_eq!(code, 0, "{v:#}{e}");
}

#[test]
fn keyless_ca_cert_replaces_the_trust_roots_authorities_and_ctlog_names_the_log() {
    use common::fulcio::NOT_BEFORE;
    const ISSUER: &str = "https://accounts.example.com";
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let root = TestFulcio::new("root");
    let other = TestFulcio::new("other");
    // Signed by root's CA, logged in root's Rekor.
    let digest = p.image("kl/app", "1", "keyless app");
    let payload = oci::simple_signing("x", &digest);
    let leaf = root.leaf("alice@example.com", ISSUER, true);
    let sig = leaf.sign_b64(&payload);
    let bundle = root.bundle(&payload, &sig, &leaf.cert_pem, NOT_BEFORE + 120);
    p.keyless_signature("kl/app", &digest, &payload, &sig, &leaf.cert_pem, &bundle);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.yaml"), root.trust_root_yaml("root")).unwrap();
    std::fs::write(
        dir.path().join("other.yaml"),
        other.trust_root_yaml("other"),
    )
    .unwrap();
    let policy = |extra: &str| {
        std::fs::write(
            dir.path().join("cip.yaml"),
            format!("{HEAD}metadata: {{name: kl}}\nspec:\n  images: [{{glob: \"127.0.0.1:*/kl/**\"}}]\n  authorities:\n    - name: ci\n      keyless:\n        url: https://fulcio.example\n        trustRootRef: root\n        identities: [{{issuer: \"{ISSUER}\", subject: alice@example.com}}]\n{extra}"),
        )
        .unwrap();
    };
    let image = reg.image("kl/app", "1");
    policy("");
    let (code, v, e) = verify(dir.path(), &reg.addr, &image, &[]);
    assert_eq!(code, 0, "{v:#}{e}");
    // ca-cert: only that CA is trusted, whatever the trust root holds.
    policy(&format!(
        "        ca-cert:\n          data: |\n{}",
        indent(&other.ca_pem, 12)
    ));
    let (code, v, _) = verify(dir.path(), &reg.addr, &image, &[]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        reasons(&v).contains("not issued by a certificate authority"),
        "{v:#}"
    );
    policy(&format!(
        "        ca-cert:\n          data: |\n{}",
        indent(&root.ca_pem, 12)
    ));
    let (code, v, _) = verify(dir.path(), &reg.addr, &image, &[]);
    assert_eq!(code, 0, "{v:#}");
    // ctlog.trustRootRef: the Rekor entry must verify with that root's log key.
    policy("      ctlog: {trustRootRef: other}\n");
    let (code, v, _) = verify(dir.path(), &reg.addr, &image, &[]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        reasons(&v).contains("Rekor bundle does not verify"),
        "{v:#}"
    );
    policy("      ctlog: {trustRootRef: root}\n");
    let (code, v, _) = verify(dir.path(), &reg.addr, &image, &[]);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn a_cip_policy_can_require_several_authorities() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let (team, release) = (Key::generate(), Key::generate());
    let one = p.image("nm/one", "1", "one signature");
    p.sign("nm/one", &one, &team);
    let both = p.image("nm/both", "1", "two signatures");
    let payload = oci::simple_signing(&format!("{}/nm/both", reg.addr), &both);
    p.signatures(
        "nm/both",
        &both,
        &[
            (payload.clone(), oci::b64(&team.sign(&payload))),
            (payload.clone(), oci::b64(&release.sign(&payload))),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let rego = "package sigstore\ndefault isCompliant = false\nisCompliant {\n  count(input.authorityMatches.team.signatures) > 0\n  count(input.authorityMatches.release.signatures) > 0\n}\n";
    std::fs::write(
        dir.path().join("cip.yaml"),
        format!(
            "{HEAD}metadata: {{name: two-of-two}}\nspec:\n  images: [{{glob: \"127.0.0.1:*/nm/**\"}}]\n  authorities:\n    - name: team\n      key:\n        data: |\n{}    - name: release\n      key:\n        data: |\n{}  policy:\n    type: rego\n    data: |\n{}",
            indent(&team.public_pem, 10),
            indent(&release.public_pem, 10),
            indent(rego, 6)
        ),
    )
    .unwrap();
    let (code, v, e) = verify(dir.path(), &reg.addr, &reg.image("nm/both", "1"), &[]);
    assert_eq!(code, 0, "{v:#}{e}");
    let (code, v, _) = verify(dir.path(), &reg.addr, &reg.image("nm/one", "1"), &[]);
    assert_eq!(
        code, 1,
        "one authority passes, the policy wants both: {v:#}"
    );
    assert!(reasons(&v).contains("spec.policy"), "{v:#}");
}

#[test]
fn verify_image_takes_cosigns_flags_without_a_policy_file() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let (key, other) = (Key::generate(), Key::generate());
    let digest = p.image("adhoc/app", "1", "ad hoc");
    p.sign("adhoc/app", &digest, &key);
    let dir = tempfile::tempdir().unwrap();
    let write_key = |name: &str, k: &Key| {
        let path = dir.path().join(name);
        std::fs::write(&path, &k.public_pem).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (good, bad) = (write_key("good.pub", &key), write_key("bad.pub", &other));
    let image = reg.image("adhoc/app", "1");
    let run = |args: &[&str]| {
        let (code, v, _) = common::verify_image(&reg.addr, args, &image, &[]);
        (code, v)
    };
    let (code, v) = run(&["--key", &good]);
    assert_eq!(code, 0, "{v:#}");
    let (code, v) = run(&["--key", &bad]);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        reasons(&v).contains("does not verify with the authority's key"),
        "{v:#}"
    );
    // Keyless flags: the image has no keyless signature (legacy or bundle).
    let (code, v) = run(&[
        "--certificate-identity-regexp",
        "@acme\\.example$",
        "--certificate-oidc-issuer",
        "https://accounts.example.com",
    ]);
    assert_eq!(code, 1, "{v:#}");
    // Neither -p nor a signer: a usage error.
    let out = policyctl()
        .args(["verify-image", "127.0.0.1:1/x:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
