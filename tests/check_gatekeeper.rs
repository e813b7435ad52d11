//! Gatekeeper templates and constraints in `policyctl check`: the same verdicts as the gator
//! suite gives under `policyctl test`, enforcement actions, unsupported templates.

mod common;
use common::{check_json, findings};
use serde_json::Value;
use std::path::Path;

const SUITE: &str = "testdata/gatekeeper/suites/suite.yaml";

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// For every case of the suite, `policyctl check` with the case's template, constraint and
/// inventory on the case's object must satisfy the case's assertions.
#[test]
fn check_gives_the_same_verdicts_as_the_gator_suite() {
    let suite: Value = serde_yaml::from_str(&std::fs::read_to_string(SUITE).unwrap()).unwrap();
    let dir = Path::new(SUITE).parent().unwrap();
    let rel = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let mut checked = 0;
    for test in suite["tests"].as_array().unwrap() {
        for case in test["cases"].as_array().unwrap() {
            let mut args = vec![
                "check".to_string(),
                "-p".into(),
                rel(test["template"].as_str().unwrap()),
                "-p".into(),
                rel(test["constraint"].as_str().unwrap()),
            ];
            for inv in strs(&case["inventory"]) {
                args.push("--inventory".into());
                args.push(rel(&inv));
            }
            args.push(rel(case["object"].as_str().unwrap()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, report) = check_json(&args);
            let name = format!(
                "{}/{}",
                test["name"].as_str().unwrap(),
                case["name"].as_str().unwrap()
            );
            assert_ne!(code, 2, "{name}: {report:#}");
            let messages: Vec<String> = findings(&report).into_iter().map(|f| f.4).collect();
            for a in case["assertions"].as_array().unwrap() {
                let re = a["message"].as_str().map(|m| regex::Regex::new(m).unwrap());
                let n = messages
                    .iter()
                    .filter(|m| re.as_ref().is_none_or(|r| r.is_match(m)))
                    .count();
                let ok = match &a["violations"] {
                    Value::Null => n > 0,
                    Value::String(s) if s == "yes" => n > 0,
                    Value::String(s) if s == "no" => n == 0,
                    Value::Number(want) => n as u64 == want.as_u64().unwrap(),
                    other => panic!("{name}: bad assertion {other}"),
                };
                assert!(
                    ok,
                    "{name}: assertion {a} does not hold for check's findings {messages:?}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn enforcement_actions_map_to_severities_and_exit_codes() {
    let base = [
        "check",
        "-p",
        "testdata/gatekeeper/templates",
        "-p",
        "testdata/gatekeeper/constraints",
        "--inventory",
        "testdata/gatekeeper/inventory",
    ];
    let run = |object: &str| {
        let mut args = base.to_vec();
        args.push(object);
        check_json(&args)
    };
    let (code, report) = run("testdata/gatekeeper/suites/samples/ingress-conflict.yaml");
    assert_eq!(code, 0, "dryrun never fails: {report:#}");
    assert_eq!(report["findings"][0]["severity"], "dryrun");
    assert_eq!(
        report["findings"][0]["policy"],
        "K8sUniqueIngressHost/unique-ingress-host"
    );
    assert_eq!(report["summary"]["dryrun"], 1);

    let (code, report) = run("testdata/gatekeeper/suites/samples/review-update-same-owner.yaml");
    assert_eq!(code, 0, "warn does not fail: {report:#}");
    assert_eq!(report["findings"][0]["severity"], "warning");
    assert_eq!(
        report["findings"][0]["resource"]["name"], "cart",
        "AdmissionReview is unwrapped to its object"
    );

    let (code, report) = run("testdata/gatekeeper/suites/samples/deploy-unowned.yaml");
    assert_eq!(code, 1);
    let sev: Vec<_> = findings(&report).into_iter().map(|f| (f.0, f.3)).collect();
    assert!(sev.contains(&("failure".into(), "violation".into())));
    assert!(sev.contains(&("warning".into(), "violation".into())));
    let details = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "warning")
        .unwrap();
    assert_eq!(
        details["details"]["missing_labels"],
        serde_json::json!(["cost-center"])
    );
}

#[test]
fn namespace_selector_without_inventory_is_an_error_as_in_gatekeeper() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "testdata/gatekeeper/templates/k8srequiredlabels.yaml",
        "-p",
        "testdata/gatekeeper/constraints/required-cost-center.yaml",
        "testdata/gatekeeper/suites/samples/deploy-unowned.yaml",
    ]);
    assert_eq!(code, 2);
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not in the inventory"));
}

#[test]
fn unsupported_templates_are_refused_clearly() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "testdata/gatekeeper-unsupported",
        "testdata/gatekeeper/suites/samples/pod-bad-repo.yaml",
    ]);
    assert_eq!(code, 2);
    let messages: Vec<String> = common::errors(&report).into_iter().map(|e| e.2).collect();
    assert!(
        messages
            .iter()
            .any(|m| m
                .contains("`authorizer` (the API server's authorization checks) is not available")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("calls external_data")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("no ConstraintTemplate defines kind K8sExternalData")),
        "{messages:?}"
    );
}

#[test]
fn conftest_policies_and_constraints_run_together() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "builtin",
        "-p",
        "testdata/gatekeeper/templates/k8sallowedrepos-cel-and-rego.yaml",
        "-p",
        "testdata/gatekeeper/constraints/allowed-repos.yaml",
        "testdata/gatekeeper/suites/samples/pod-bad-repo.yaml",
    ]);
    assert_eq!(code, 1);
    let policies: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["policy"].as_str().unwrap().to_string())
        .collect();
    assert!(
        policies.contains(&"K8sAllowedRepos/prod-repos".to_string()),
        "{policies:?}"
    );
    assert!(
        policies.iter().any(|p| p.starts_with("policyctl.k8s.")),
        "{policies:?}"
    );
}

/// ExpansionTemplates: a Deployment whose pod template violates a Pod constraint fails at the
/// Deployment's line, the message marked `[Implied by <template>]`; `match.source: Generated`
/// constraints see only expanded objects, `Original` ones only what is in the files; the
/// template's `enforcementAction` overrides the constraints' for expanded objects.
#[test]
fn expansion_templates_review_the_pods_workloads_would_create() {
    let dir = tempfile::tempdir().unwrap();
    let workloads = dir.path().join("workloads.yaml");
    std::fs::write(
        &workloads,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bare, namespace: shop, labels: {owner: me}}\nspec: {containers: [{name: c, image: nginx}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop, labels: {owner: me}}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: nginx}]}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: once, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: once}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
    )
    .unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "-p",
            "testdata/gatekeeper/templates/k8srequiredlabels.yaml",
            "-p",
            "testdata/gatekeeper-expansion",
        ];
        args.extend_from_slice(extra);
        args.push(workloads.to_str().unwrap());
        check_json(&args)
    };
    let (code, report) = check(&[]);
    assert_eq!(code, 1, "{report:#}");
    let mut found: Vec<(u64, String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["severity"].as_str().unwrap().to_string(),
                f["policy"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    // The Deployment (line 6) through its Pod; the bare Pod has its owner label; the Job's
    // kind is not in the template's applyTo, so it is not expanded.
    assert_eq!(
        found,
        vec![
            (
                6,
                "failure".into(),
                "K8sRequiredLabels/pods-need-owner".into(),
                "[Implied by expand-workloads] you must provide labels: {\"owner\"}".into()
            ),
            (
                6,
                "warning".into(),
                "K8sRequiredLabels/generated-pods-need-team".into(),
                "[Implied by expand-workloads] you must provide labels: {\"team\"}".into()
            ),
        ],
        "{report:#}"
    );
    // The template's enforcementAction overrides the constraint's for expanded objects.
    let overriding = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("testdata/gatekeeper-expansion/expansion.yaml")
        .unwrap()
        .replace(
            "  templateSource:",
            "  enforcementAction: dryrun\n  templateSource:",
        );
    std::fs::write(overriding.path().join("expansion.yaml"), text).unwrap();
    for f in ["pods-need-owner.yaml", "only-generated.yaml"] {
        std::fs::copy(
            format!("testdata/gatekeeper-expansion/{f}"),
            overriding.path().join(f),
        )
        .unwrap();
    }
    let (code, report) = check_json(&[
        "check",
        "-p",
        "testdata/gatekeeper/templates/k8srequiredlabels.yaml",
        "-p",
        overriding.path().to_str().unwrap(),
        workloads.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "dryrun never fails the run: {report:#}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "dryrun"),
        "{report:#}"
    );
    // Strict: an ExpansionTemplate without a generated kind is a load error at its line.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("expansion.yaml"),
        "apiVersion: expansion.gatekeeper.sh/v1beta1\nkind: ExpansionTemplate\nmetadata: {name: broken}\nspec:\n  applyTo: [{groups: [apps], kinds: [Deployment], versions: [v1]}]\n  templateSource: spec.template\n  generatedGVK: {version: v1}\n",
    )
    .unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        bad.path().to_str().unwrap(),
        workloads.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{report:#}");
    assert!(
        report
            .to_string()
            .contains("ExpansionTemplate broken: generatedGVK needs a version and a kind"),
        "{report:#}"
    );
}
