//! `policyctl check` with the built-in library over the shipped fixtures.

mod common;
use common::{check_json, findings};

#[test]
fn compliant_workloads_of_every_kind_pass() {
    let (code, report) = check_json(&["check", "testdata/k8s/allowed"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["failures"], 0);
    assert_eq!(report["summary"]["warnings"], 0);
    assert_eq!(report["summary"]["resources"], 9);
    assert!(report["summary"]["passed"].as_u64().unwrap() > 100);
}

#[test]
fn each_denied_fixture_trips_exactly_its_policy() {
    let cases = [
        (
            "capabilities",
            "policyctl.k8s.capabilities",
            "adds capability NET_ADMIN",
        ),
        (
            "host-namespaces",
            "policyctl.k8s.host_namespaces",
            "spec.hostNetwork shares",
        ),
        (
            "host-path",
            "policyctl.k8s.host_path",
            "/var/run/docker.sock",
        ),
        ("host-ports", "policyctl.k8s.host_ports", "hostPort 8080"),
        (
            "image-tag",
            "policyctl.k8s.image_tag",
            "with the latest tag",
        ),
        (
            "privilege-escalation",
            "policyctl.k8s.privilege_escalation",
            "allowPrivilegeEscalation: false",
        ),
        ("privileged", "policyctl.k8s.privileged", "is privileged"),
        ("probes", "policyctl.k8s.probes", "has no livenessProbe"),
        (
            "read-only-root-filesystem",
            "policyctl.k8s.read_only_root_filesystem",
            "readOnlyRootFilesystem: true",
        ),
        (
            "required-labels",
            "policyctl.k8s.required_labels",
            "app.kubernetes.io/name",
        ),
        (
            "resources",
            "policyctl.k8s.resources",
            "resources.limits.memory",
        ),
        (
            "run-as-non-root",
            "policyctl.k8s.run_as_non_root",
            "runAsUser: 0",
        ),
        (
            "seccomp",
            "policyctl.k8s.seccomp",
            "RuntimeDefault or Localhost",
        ),
        ("sysctls", "policyctl.k8s.sysctls", "kernel.msgmax"),
    ];
    for (file, policy, needle) in cases {
        let path = format!("testdata/k8s/denied/{file}.yaml");
        let (code, report) = check_json(&["check", &path]);
        let policies: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["policy"].as_str().unwrap())
            .collect();
        assert!(!policies.is_empty(), "{file}: no findings");
        assert!(
            policies.iter().all(|p| *p == policy),
            "{file}: {policies:?}"
        );
        let first = &report["findings"][0];
        assert!(
            first["message"].as_str().unwrap().contains(needle)
                || report.to_string().contains(needle),
            "{file}: {report:#}"
        );
        assert_eq!(
            first["line"], 2,
            "{file}: the document starts after the comment line"
        );
        assert_eq!(first["resource"]["namespace"], "shop");
        let expected_code = if file == "probes" { 0 } else { 1 };
        assert_eq!(code, expected_code, "{file}");
    }
}

#[test]
fn multi_document_and_list_items_report_their_own_lines() {
    let (code, report) = check_json(&[
        "check",
        "testdata/k8s/denied/multi-document.yaml",
        "testdata/k8s/denied/list.yaml",
    ]);
    assert_eq!(code, 1);
    let f = findings(&report);
    assert!(f.contains(&(
        "failure".into(),
        "testdata/k8s/denied/list.yaml".into(),
        42,
        "deny".into(),
        "Pod \"list-bad\": container \"app\" is privileged; set securityContext.privileged: false".into()
    )), "{f:#?}");
    let multi: Vec<_> = f
        .iter()
        .filter(|x| x.1.ends_with("multi-document.yaml"))
        .collect();
    assert_eq!(multi.len(), 1, "only the second document fails: {multi:?}");
    assert_eq!(multi[0].2, 49);
    assert_eq!(
        report["summary"]["resources"], 5,
        "3 documents + 2 list items"
    );
}

#[test]
fn exemption_annotation_is_honoured() {
    let (code, report) = check_json(&["check", "testdata/k8s/allowed/exempted.yaml"]);
    assert_eq!((code, report["summary"]["failures"].as_u64()), (0, Some(0)));
}

#[test]
fn allowed_registries_come_from_data() {
    let (code, report) = check_json(&[
        "check",
        "-d",
        "testdata/k8s/data/registries.yaml",
        "testdata/k8s/allowed/pod.yaml",
        "testdata/k8s/denied/image-tag.yaml",
    ]);
    assert_eq!(code, 1);
    let hits: Vec<_> = findings(&report)
        .into_iter()
        .filter(|f| f.4.contains("not from an allowed registry"))
        .collect();
    assert_eq!(hits.len(), 1, "{report:#}");
    assert!(hits[0].4.contains("\"nginx:latest\""));
}

#[test]
fn dockerfile_and_terraform_policies() {
    let (code, report) = check_json(&["check", "testdata/docker", "testdata/terraform"]);
    assert_eq!(code, 1);
    let f = findings(&report);
    let docker: Vec<_> = f
        .iter()
        .filter(|x| x.1 == "testdata/docker/denied/Dockerfile")
        .map(|x| x.2)
        .collect();
    assert_eq!(
        docker,
        vec![1, 3, 6],
        "FROM latest, ADD, USER root at their own lines"
    );
    let tf: Vec<_> = f
        .iter()
        .filter(|x| x.1 == "testdata/terraform/denied/main.tf")
        .map(|x| x.4.clone())
        .collect();
    assert_eq!(tf.len(), 3, "{tf:?}");
    assert!(f.iter().all(|x| !x.1.contains("/allowed/")), "{f:#?}");
}

#[test]
fn builtin_named_explicitly_runs_beside_user_policies() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "builtin",
        "-p",
        "testdata/conftest/policy",
        "testdata/conftest/inputs/deployment.yaml",
    ]);
    assert_eq!(code, 1);
    let policies: std::collections::BTreeSet<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["policy"].as_str().unwrap().to_string())
        .collect();
    assert!(policies.contains("main"));
    assert!(
        policies.iter().any(|p| p.starts_with("policyctl.k8s.")),
        "{policies:?}"
    );
}

#[test]
fn conftest_exception_in_a_builtin_package_turns_failures_into_exceptions() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "builtin",
        "-p",
        "testdata/k8s/exceptions",
        "testdata/k8s/denied/privileged.yaml",
    ]);
    assert_eq!(code, 0, "{report:#}");
    let f = findings(&report);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].0, "exception");
    assert_eq!(report["summary"]["exceptions"], 1);
}

#[test]
fn the_interpreter_and_the_compiled_engine_report_the_same() {
    let args = |engine: &'static str| {
        [
            "check",
            "--rego-engine",
            engine,
            "testdata/k8s",
            "testdata/docker",
            "testdata/terraform",
        ]
    };
    let (code_auto, auto) = check_json(&args("auto"));
    let (code_interp, interp) = check_json(&args("interpreter"));
    assert_eq!(code_auto, code_interp);
    assert_eq!(auto["summary"], interp["summary"]);
    assert_eq!(findings(&auto), findings(&interp));
    assert!(findings(&auto).len() >= 20);
}
