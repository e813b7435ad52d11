//! Gatekeeper's CEL engine (`K8sNativeValidation`): the gator suite of testdata/gatekeeper-cel
//! under both `--gatekeeper-engine` values, a template whose CEL and Rego disagree (the flag
//! decides, in `check`, `test` and `serve`), ExpansionTemplates reported at the workload's
//! line, and compile errors placed on the expression's line.

mod common;
use common::webhook::{review, Webhook};
use common::{check_json, errors, findings};
use serde_json::{json, Value};

const CEL: &str = "testdata/gatekeeper-cel";

fn test_json(args: &[&str]) -> Value {
    let out = common::policyctl()
        .arg("test")
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn the_cel_suite_passes_under_both_engines() {
    for engine in ["rego", "cel"] {
        let report = test_json(&[CEL, "--gatekeeper-engine", engine]);
        let failing: Vec<&Value> = report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] != "pass")
            .collect();
        assert!(failing.is_empty(), "{engine}: {failing:#?}");
        assert_eq!(report["summary"]["passed"], 18, "{engine}: {report:#}");
    }
}

/// The suite's assertions can fail: the same cases with the wrong expectation do.
#[test]
fn a_wrong_expectation_fails_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let suite = std::fs::read_to_string(format!("{CEL}/suite.yaml"))
        .unwrap()
        .replace("- violations: 5\n", "- violations: 4\n");
    for sub in ["templates", "constraints", "samples", "expansion"] {
        let to = dir.path().join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(format!("{CEL}/{sub}")).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(dir.path().join("suite.yaml"), suite).unwrap();
    let report = test_json(&[dir.path().to_str().unwrap(), "--gatekeeper-engine", "cel"]);
    assert_eq!(report["summary"]["failed"], 2, "{report:#}");
}

fn disagree(engine: Option<&str>) -> Vec<(String, String)> {
    let mut args = vec![
        "check",
        "-p",
        "testdata/gatekeeper-cel/templates/k8srequiredowner-disagree.yaml",
        "-p",
        "testdata/gatekeeper-cel/constraints/required-owner.yaml",
        "testdata/gatekeeper-cel/samples/pod-team-only.yaml",
        "testdata/gatekeeper-cel/samples/pod-owner-only.yaml",
    ];
    if let Some(e) = engine {
        args.extend(["--gatekeeper-engine", e]);
    }
    let (code, report) = check_json(&args);
    assert_eq!(code, 1, "{report:#}");
    findings(&report).into_iter().map(|f| (f.1, f.4)).collect()
}

#[test]
fn the_flag_decides_when_cel_and_rego_disagree() {
    let rego = vec![(
        "testdata/gatekeeper-cel/samples/pod-team-only.yaml".to_string(),
        "Rego: an owner label is required".to_string(),
    )];
    let cel = vec![(
        "testdata/gatekeeper-cel/samples/pod-owner-only.yaml".to_string(),
        "CEL: a team label is required".to_string(),
    )];
    assert_eq!(disagree(None), rego, "Rego by default");
    assert_eq!(disagree(Some("rego")), rego);
    assert_eq!(disagree(Some("cel")), cel);
    // The environment variable, as for every flag.
    let out = common::policyctl()
        .env("POLICYCTL_GATEKEEPER_ENGINE", "cel")
        .args([
            "check",
            "-p",
            "testdata/gatekeeper-cel/templates/k8srequiredowner-disagree.yaml",
            "-p",
            "testdata/gatekeeper-cel/constraints/required-owner.yaml",
            "testdata/gatekeeper-cel/samples/pod-owner-only.yaml",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("CEL: a team label"));
    // Both engines of the template that agree (allowed repos) give the same verdict.
    for engine in ["rego", "cel"] {
        let (code, report) = check_json(&[
            "check",
            "--gatekeeper-engine",
            engine,
            "-p",
            "testdata/gatekeeper/templates/k8sallowedrepos-cel-and-rego.yaml",
            "-p",
            "testdata/gatekeeper/constraints/allowed-repos.yaml",
            "testdata/gatekeeper/suites/samples/pod-bad-repo.yaml",
        ]);
        assert_eq!(
            (code, findings(&report).len()),
            (1, 1),
            "{engine}: {report:#}"
        );
    }
}

#[test]
fn the_webhook_runs_the_engine_it_is_told_to() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "templates/k8srequiredowner-disagree.yaml",
        "constraints/required-owner.yaml",
        "templates/k8smaxreplicas-fail.yaml",
        "constraints/max-replicas-fail.yaml",
    ] {
        let from = std::path::Path::new(CEL).join(f);
        std::fs::copy(&from, dir.path().join(from.file_name().unwrap())).unwrap();
    }
    let pod = |labels: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d", "labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let verdict = |w: &Webhook, body: &Value| {
        let (status, out) = w.review(body);
        assert_eq!(status, 200);
        (
            out["response"]["allowed"].as_bool().unwrap(),
            out["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    let w = Webhook::start(&[
        "-p",
        dir.path().to_str().unwrap(),
        "--gatekeeper-engine",
        "cel",
    ]);
    let (allowed, _) = verdict(
        &w,
        &review("CREATE", Some(&pod(json!({"team": "a"}))), None, false),
    );
    assert!(allowed);
    let (allowed, msg) = verdict(
        &w,
        &review("CREATE", Some(&pod(json!({"owner": "a"}))), None, false),
    );
    assert!(
        !allowed && msg.contains("CEL: a team label is required"),
        "{msg}"
    );
    // DELETE: `object` is null and `variables.anyObject` is the old object.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "protected", "namespace": "d"}, "spec": {"replicas": 1}});
    let (allowed, msg) = verdict(&w, &review("DELETE", None, Some(&deploy), false));
    assert!(!allowed && msg.contains("cannot be deleted"), "{msg}");
    let big = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "d"}, "spec": {"replicas": 9}});
    let (allowed, msg) = verdict(&w, &review("UPDATE", Some(&big), Some(&deploy), false));
    assert!(!allowed && msg.contains("at most 5 replicas"), "{msg}");
    drop(w);
    let w = Webhook::start(&["-p", dir.path().to_str().unwrap()]);
    let (allowed, msg) = verdict(
        &w,
        &review("CREATE", Some(&pod(json!({"team": "a"}))), None, false),
    );
    assert!(!allowed && msg.contains("Rego: an owner label"), "{msg}");
}

#[test]
fn expanded_violations_land_on_the_workload_line() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("workloads.yaml");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: prod}\n---\n";
    let deploy =
        std::fs::read_to_string(format!("{CEL}/samples/deploy-bad-pod-template.yaml")).unwrap();
    std::fs::write(&manifests, format!("{cm}{deploy}")).unwrap();
    let (code, report) = check_json(&[
        "check",
        "--gatekeeper-engine",
        "cel",
        "-p",
        "testdata/gatekeeper-cel/templates/k8scontainerpolicy.yaml",
        "-p",
        "testdata/gatekeeper-cel/constraints/container-policy.yaml",
        "-p",
        "testdata/gatekeeper-cel/expansion/expand-workloads.yaml",
        manifests.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].2, 5, "the Deployment's line: {f:?}");
    assert_eq!(
        f[0].4,
        "[Implied by expand-deployments] memory limit above 1Gi in: web"
    );
    assert_eq!(
        report["findings"][0]["resource"]["kind"], "Deployment",
        "{report:#}"
    );
}

/// Each compile problem is a load error naming the file and the expression's line.
#[test]
fn compile_errors_name_the_file_and_line() {
    let template = |source: &str| {
        format!(
            "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8sbroken\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sBroken\n  targets:\n    - target: admission.k8s.gatekeeper.sh\n      code:\n        - engine: K8sNativeValidation\n          source:\n{source}"
        )
    };
    // (source, line of the problem, message fragment)
    let cases = [
        (
            "            validations:\n              - expression: 'has(object.metadata'\n",
            16,
            "does not parse as CEL",
        ),
        (
            "            validations:\n              - expression: |\n                  has(object.metadata) &&\n                  object.metadata.name.startWith('x')\n",
            18,
            "unknown function `startWith`",
        ),
        (
            "            variables:\n              - name: a\n                expression: variables.b\n              - name: b\n                expression: '1'\n            validations:\n              - expression: 'true'\n",
            17,
            "variables.b is not declared before this variable",
        ),
        (
            "            validations:\n              - expression: 'params.spec.parameters.x == 1'\n",
            16,
            "use `variables.params`",
        ),
        (
            "            matchConditions:\n              - name: x\n                expression: 'true'\n            validations:\n              - expression: 'true'\n",
            15,
            "`matchCondition` (singular)",
        ),
        (
            "            variables:\n              - name: params\n                expression: '1'\n            validations:\n              - expression: 'true'\n",
            16,
            "reserved by Gatekeeper",
        ),
        (
            "            failurePolicy: Sometimes\n            validations:\n              - expression: 'true'\n",
            15,
            "failurePolicy \"Sometimes\" is not Fail or Ignore",
        ),
        (
            "            validations:\n              - expresion: 'true'\n",
            16,
            "unknown field",
        ),
        ("            variables: []\n", 14, "has no validations"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (source, line, fragment)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("t{i}.yaml"));
        std::fs::write(&path, template(source)).unwrap();
        let (code, report) = check_json(&[
            "check",
            "-p",
            path.to_str().unwrap(),
            "testdata/gatekeeper-cel/samples/pod-good.yaml",
        ]);
        assert_eq!(code, 2, "case {i}: {report:#}");
        let errs = errors(&report);
        assert!(
            errs.iter()
                .any(|(file, l, m)| file.ends_with(&format!("t{i}.yaml"))
                    && *l == *line as u64
                    && m.contains(fragment)),
            "case {i}: want line {line} with {fragment:?}, got {errs:?}"
        );
    }
    // An engine policyctl does not run is refused, not skipped.
    let path = dir.path().join("engine.yaml");
    std::fs::write(
        &path,
        template("            rego: x\n").replace("K8sNativeValidation", "Wasm"),
    )
    .unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        path.to_str().unwrap(),
        "testdata/gatekeeper-cel/samples/pod-good.yaml",
    ]);
    assert_eq!(code, 2);
    assert!(
        errors(&report)
            .iter()
            .any(|e| e.1 == 13 && e.2.contains("engine \"Wasm\" is not one policyctl runs")),
        "{report:#}"
    );
}
