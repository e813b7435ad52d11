//! conftest compatibility: rule conventions, exceptions, namespaces, --combine, every parser,
//! exit-code flags, stdin.

mod common;
use common::{check_json, findings, policyctl};

const POLICY: &str = "testdata/conftest/policy";

#[test]
fn deny_warn_violation_exceptions_and_loc() {
    let (code, report) = check_json(&["check", "-p", POLICY, "testdata/conftest/inputs"]);
    assert_eq!(code, 1);
    let f = findings(&report);
    let dep = "testdata/conftest/inputs/deployment.yaml".to_string();
    assert_eq!(
        f,
        vec![
            (
                "failure".into(),
                "owners.yaml".into(),
                7,
                "violation".into(),
                "legacy must move to the new platform".into()
            ),
            (
                "failure".into(),
                dep.clone(),
                1,
                "deny_run_as_root".into(),
                "api must not run as root".into()
            ),
            (
                "warning".into(),
                dep.clone(),
                1,
                "warn_replicas".into(),
                "api has fewer than 2 replicas".into()
            ),
            (
                "failure".into(),
                dep.clone(),
                15,
                "deny".into(),
                "every Deployment needs a team label".into()
            ),
            (
                "exception".into(),
                dep,
                15,
                "deny_run_as_root".into(),
                "legacy must not run as root".into()
            ),
        ]
    );
    let violation = &report["findings"][0];
    assert_eq!(
        violation["details"]["owner"], "platform",
        "extra keys are metadata"
    );
    assert_eq!(violation["resource"]["name"], "legacy");
    assert_eq!(violation["policy"], "main");
    let s = &report["summary"];
    assert_eq!(
        (s["files"].as_u64(), s["resources"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(
        (
            s["failures"].as_u64(),
            s["warnings"].as_u64(),
            s["exceptions"].as_u64()
        ),
        (Some(3), Some(1), Some(1))
    );
}

#[test]
fn namespaces_globs_and_conftest_file_data() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        POLICY,
        "-n",
        "team.*",
        "testdata/conftest/inputs",
    ]);
    assert_eq!(code, 1);
    let f = findings(&report);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|x| x.1.ends_with("service.yaml")));
    assert!(
        f.iter()
            .any(|x| x.4 == "checked shop in testdata/conftest/inputs"),
        "data.conftest.file is set per file: {f:#?}"
    );

    let (_, all) = check_json(&[
        "check",
        "-p",
        POLICY,
        "--all-namespaces",
        "testdata/conftest/inputs",
    ]);
    assert_eq!(all["findings"].as_array().unwrap().len(), 7);

    let (code, none) = check_json(&[
        "check",
        "-p",
        POLICY,
        "-n",
        "nothing.here",
        "testdata/conftest/inputs",
    ]);
    assert_eq!(code, 2, "no rules selected is a usage error");
    assert!(none["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no deny/violation/warn rules"));
}

#[test]
fn combine_gives_one_document_of_path_and_contents() {
    let (code, report) = check_json(&[
        "check",
        "--combine",
        "-p",
        "testdata/conftest/combine",
        "testdata/conftest/inputs",
    ]);
    assert_eq!(code, 1);
    let msgs: Vec<_> = findings(&report).into_iter().map(|f| f.4).collect();
    assert_eq!(
        msgs,
        vec![
            "Deployment api has no Service",
            "Deployment legacy has no Service"
        ]
    );
}

#[test]
fn every_parser_produces_conftest_shaped_documents() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "testdata/parsers/parsers.rego",
        "-n",
        "parsers",
        "testdata/parsers/inputs",
    ]);
    assert_eq!(code, 1);
    let mut got: Vec<(String, String)> = findings(&report)
        .into_iter()
        .map(|f| (f.1.rsplit('/').next().unwrap().to_string(), f.4))
        .collect();
    got.sort();
    let expected = [
        (".env", "dotenv: DEBUG is on"),
        (".gitignore", "ignore: .env must be ignored"),
        ("Dockerfile", "dockerfile: line 3 runs curl | sh"),
        ("app.ini", "ini: database.port must not be 5432"),
        ("app.json", "json: debug is on"),
        ("app.jsonnet", "jsonnet: app-web runs 1 replica"),
        ("app.properties", "properties: log level is DEBUG"),
        ("app.yaml", "yaml: debug is on"),
        ("config.toml", "toml: server.debug is on"),
        ("main.tf", "hcl2: bucket assets has versioning off"),
        ("plan.tfplan.json", "tfplan: aws_instance.web is created"),
        ("pom.xml", "xml: dependency utils uses a SNAPSHOT"),
        (
            "sbom.cdx.json",
            "cyclonedx: component mystery has no version",
        ),
        ("sbom.spdx.json", "spdx: package openssl has no license"),
        ("settings.jsonc", "jsonc: editor.debug is on"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn forced_parser_and_stdin() {
    let out = policyctl()
        .args([
            "check",
            "-p",
            "testdata/parsers/parsers.rego",
            "-n",
            "parsers",
            "--parser",
            "toml",
            "-",
            "-o",
            "json",
        ])
        .write_stdin("[server]\ndebug = true\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["file"], "-");
    assert_eq!(report["findings"][0]["message"], "toml: server.debug is on");

    // Without --parser, stdin is YAML (a superset of JSON).
    let out = policyctl()
        .args([
            "check",
            "-p",
            "testdata/parsers/parsers.rego",
            "-n",
            "parsers",
            "-",
            "-o",
            "json",
        ])
        .write_stdin("{\"settings\": {\"debug\": true}}")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["message"], "json: debug is on");
}

#[test]
fn exit_code_flags() {
    let probes = "testdata/k8s/denied/probes.yaml";
    assert_eq!(
        policyctl()
            .args(["check", probes])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0),
        "warnings alone pass"
    );
    assert_eq!(
        policyctl()
            .args(["check", "--fail-on-warn", probes])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    let failing = "testdata/k8s/denied/privileged.yaml";
    assert_eq!(
        policyctl()
            .args(["check", failing])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        policyctl()
            .args(["check", "--no-fail", failing])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    let missing = policyctl()
        .args(["check", "--no-fail", "does/not/exist.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        missing.status.code(),
        Some(2),
        "--no-fail never hides errors"
    );
    assert!(String::from_utf8_lossy(&missing.stdout)
        .contains("does/not/exist.yaml: no such file or directory"));
    assert_eq!(
        policyctl()
            .args(["check", "--bogus"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2),
        "usage error"
    );
}

#[test]
fn ignore_regex_and_git_directories_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/bad.yaml"), "debug: true\n").unwrap();
    std::fs::write(dir.path().join("skip-me.yaml"), "debug: true\n").unwrap();
    std::fs::write(dir.path().join("check-me.yaml"), "debug: true\n").unwrap();
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/parsers/parsers.rego");
    let out = policyctl()
        .args([
            "check", "-p", policy, "-n", "parsers", "--ignore", "skip-me", "-o", "json",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<_> = findings(&report).into_iter().map(|f| f.1).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("check-me.yaml"));
}

#[test]
fn rego_version_is_detected_per_file_and_can_be_forced() {
    // main.rego is v0, team.rego is v1: both load by default (see the other tests).
    let (code, report) = check_json(&[
        "check",
        "--rego-version",
        "v1",
        "-p",
        POLICY,
        "--all-namespaces",
        "testdata/conftest/inputs",
    ]);
    assert_eq!(code, 2);
    let errs = common::errors(&report);
    assert!(
        errs.iter().any(|e| e.0.ends_with("main.rego") && e.1 > 0),
        "{errs:?}"
    );
    assert!(
        !report["findings"].as_array().unwrap().is_empty(),
        "the v1 file still ran"
    );
}

#[test]
fn parse_prints_what_policies_see() {
    let out = policyctl()
        .args(["parse", "testdata/parsers/inputs/main.tf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# testdata/parsers/inputs/main.tf:1\n"));
    let json: serde_json::Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
    assert_eq!(
        json["resource"]["aws_s3_bucket"]["assets"][0]["versioning"][0]["enabled"],
        false
    );
}

#[test]
fn builtin_errors_make_expressions_undefined_as_in_opa() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.rego");
    std::fs::write(
        &policy,
        "package main\nimport rego.v1\ndeny contains \"number\" if to_number(input.debug) > 0\nwarn contains \"seen\" if input.debug\n",
    )
    .unwrap();
    let input = dir.path().join("in.yaml");
    std::fs::write(&input, "debug: not-a-number\n").unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        policy.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(
        code, 0,
        "a builtin error is undefined, not a run error: {report:#}"
    );
    let f = findings(&report);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].4, "seen");
}

#[test]
fn policy_syntax_errors_carry_line_and_column() {
    let out = policyctl()
        .args([
            "check",
            "-p",
            "testdata/bad/policies",
            "testdata/bad/inputs/pod.yaml",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let re = regex::Regex::new(r"ERROR - testdata/bad/policies/syntax\.rego:\d+:\d+: ").unwrap();
    assert!(re.is_match(&text), "{text}");
}

#[test]
fn policies_in_a_configmap_volume_layout_are_loaded() {
    // Kubernetes mounts ConfigMap keys as symlinks into a hidden, atomically swapped `..data`.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("..2026_11_26_00_00_00.000");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(
        data.join("policy.rego"),
        "package main\nimport rego.v1\ndeny contains \"from configmap\" if input.debug\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&data, dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/policy.rego", dir.path().join("policy.rego")).unwrap();
    let input = dir.path().join("in.yaml");
    std::fs::write(&input, "debug: true\n").unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        dir.path().to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        findings(&report).len(),
        1,
        "loaded once, not once per link: {report:#}"
    );
}
