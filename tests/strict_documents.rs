//! Strict documents (issue 9): an unknown field in a ConstraintTemplate, Constraint or gator
//! Suite is a load error naming file, line and field; constraint parameters are validated
//! against the template's openAPIV3Schema as the API server would.

mod common;
use common::{check_json, errors, findings, policyctl};
use std::path::Path;

const TEMPLATE: &str = "\
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
      validation:
        openAPIV3Schema:
          type: object
          required: [labels]
          properties:
            labels:
              type: array
              items: {type: string}
            mode:
              type: string
              enum: [strict, lenient]
            extra:
              type: object
              x-kubernetes-preserve-unknown-fields: true
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels
        violation[{\"msg\": msg}] {
          required := input.parameters.labels[_]
          not input.review.object.metadata.labels[required]
          msg := sprintf(\"missing label %v\", [required])
        }
";

fn constraint(spec: &str) -> String {
    format!(
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: need-owner\nspec:\n  match:\n    kinds: [{{apiGroups: [\"\"], kinds: [Pod]}}]\n{spec}"
    )
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n";

/// `check -p template -p constraint pod.yaml` → (exit code, errors as `file:line: message`).
fn run(dir: &Path, template: &str, constraint: &str) -> (i32, Vec<String>, serde_json::Value) {
    std::fs::write(dir.join("template.yaml"), template).unwrap();
    std::fs::write(dir.join("constraint.yaml"), constraint).unwrap();
    std::fs::write(dir.join("pod.yaml"), POD).unwrap();
    let (code, report) = check_json(&[
        "check",
        "-p",
        dir.join("template.yaml").to_str().unwrap(),
        "-p",
        dir.join("constraint.yaml").to_str().unwrap(),
        dir.join("pod.yaml").to_str().unwrap(),
    ]);
    let errs = errors(&report)
        .into_iter()
        .map(|(f, l, m)| {
            format!(
                "{}:{l}: {m}",
                Path::new(&f).file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    (code, errs, report)
}

#[test]
fn constraint_parameters_are_validated_against_the_template_schema() {
    let dir = tempfile::tempdir().unwrap();
    // Valid: the constraint runs and finds the missing label.
    let (code, errs, report) = run(
        dir.path(),
        TEMPLATE,
        &constraint("  parameters:\n    labels: [owner]\n    extra: {anything: goes}\n"),
    );
    assert_eq!((code, errs.len()), (1, 0), "{report:#}");
    assert_eq!(findings(&report)[0].4, "missing label owner");

    for (params, needle) in [
        (
            "  parameters:\n    lables: [owner]\n",
            "constraint.yaml:8: K8sRequiredLabels/need-owner: spec.parameters: ",
        ),
        (
            "  parameters:\n    labels: \"owner\"\n",
            "constraint.yaml:9: K8sRequiredLabels/need-owner: spec.parameters.labels: \"owner\" is not of type \"array\"",
        ),
        (
            "  parameters:\n    labels: [owner, 3]\n",
            "constraint.yaml:9: K8sRequiredLabels/need-owner: spec.parameters.labels[1]: 3 is not of type \"string\"",
        ),
        (
            "  parameters:\n    labels: [owner]\n    mode: relaxed\n",
            "constraint.yaml:10: K8sRequiredLabels/need-owner: spec.parameters.mode: \"relaxed\" is not one of",
        ),
    ] {
        let (code, errs, report) = run(dir.path(), TEMPLATE, &constraint(params));
        assert_eq!(code, 2, "{params}: {report:#}");
        assert!(
            errs.iter().any(|e| e.contains(needle)),
            "{params}: expected {needle:?} in {errs:#?}"
        );
        assert!(
            findings(&report).is_empty(),
            "a refused constraint does not run: {report:#}"
        );
    }
    // The misspelt key is named.
    let (_, errs, _) = run(
        dir.path(),
        TEMPLATE,
        &constraint("  parameters:\n    lables: [owner]\n"),
    );
    assert!(errs.iter().any(|e| e.contains("lables")), "{errs:#?}");
    // A required parameter missing.
    let (code, errs, _) = run(dir.path(), TEMPLATE, &constraint("  parameters: {}\n"));
    assert_eq!(code, 2);
    assert!(
        errs.iter()
            .any(|e| e.contains("\"labels\" is a required property")),
        "{errs:#?}"
    );
}

#[test]
fn unknown_fields_in_templates_and_constraints_name_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, errs, _) = run(
        dir.path(),
        TEMPLATE,
        &constraint("  enforcementaction: warn\n  parameters:\n    labels: [owner]\n"),
    );
    assert_eq!(code, 2);
    assert!(
        errs.iter().any(|e| e.starts_with(
            "constraint.yaml:8: K8sRequiredLabels/need-owner: unknown field spec.enforcementaction"
        )),
        "{errs:#?}"
    );
    let typo_match = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: need-owner\nspec:\n  match:\n    kinds: [{apiGroups: [\"\"], kinds: [Pod]}]\n    namespace: [prod]\n  parameters:\n    labels: [owner]\n";
    let (code, errs, _) = run(dir.path(), TEMPLATE, typo_match);
    assert_eq!(code, 2);
    assert!(
        errs.iter().any(|e| e.starts_with(
            "constraint.yaml:8: K8sRequiredLabels/need-owner: unknown field spec.match.namespace"
        )),
        "{errs:#?}"
    );
    let bad_template = TEMPLATE.replace("      validation:", "      validaton:");
    let (code, errs, _) = run(
        dir.path(),
        &bad_template,
        &constraint("  parameters:\n    labels: [owner]\n"),
    );
    assert_eq!(code, 2);
    assert!(
        errs.iter().any(|e| e.starts_with(
            "template.yaml:10: ConstraintTemplate k8srequiredlabels: unknown field spec.crd.spec.validaton"
        )),
        "{errs:#?}"
    );
}

/// `enforcementAction: scoped`: `check` is gator's enforcement point (`gator.gatekeeper.sh`);
/// a constraint acts there with the actions listed for it or for `*`, and not at all otherwise.
#[test]
fn scoped_enforcement_actions_at_the_gator_point() {
    let dir = tempfile::tempdir().unwrap();
    let scoped = |list: &str| {
        constraint(&format!(
            "  enforcementAction: scoped\n  scopedEnforcementActions: {list}\n  parameters:\n    labels: [owner]\n"
        ))
    };
    let severities = |report: &serde_json::Value| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["severity"].as_str().unwrap().to_string())
            .collect()
    };
    // Only the webhook: not enforced by check.
    let (code, errs, report) = run(
        dir.path(),
        TEMPLATE,
        &scoped("[{action: deny, enforcementPoints: [{name: validation.gatekeeper.sh}]}]"),
    );
    assert_eq!((code, errs.len()), (0, 0), "{report:#}");
    assert!(severities(&report).is_empty());
    // Warn at gator, deny at the webhook: a warning here.
    let (code, _, report) = run(dir.path(), TEMPLATE, &scoped("[{action: deny, enforcementPoints: [{name: validation.gatekeeper.sh}]}, {action: warn, enforcementPoints: [{name: gator.gatekeeper.sh}]}]"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(severities(&report), vec!["warning"]);
    // `*` is every point; deny and warn both at gator give both.
    let (code, _, report) = run(dir.path(), TEMPLATE, &scoped("[{action: deny, enforcementPoints: [{name: \"*\"}]}, {action: warn, enforcementPoints: [{name: Gator.Gatekeeper.sh}]}]"));
    assert_eq!(code, 1, "{report:#}");
    let mut s = severities(&report);
    s.sort();
    assert_eq!(s, vec!["failure", "warning"]);
    // Refused, each with the field: a misspelt point, an unknown action, scoped without a list,
    // a list without scoped.
    for (spec, field) in [
        (scoped("[{action: deny, enforcementPoints: [{name: validation.gatekeeper.io}]}]"), "spec.scopedEnforcementActions[0].enforcementPoints[0].name"),
        (scoped("[{action: block, enforcementPoints: [{name: \"*\"}]}]"), "spec.scopedEnforcementActions[0].action"),
        (scoped("[{action: deny, enforcementPoints: []}]"), "spec.scopedEnforcementActions[0].enforcementPoints"),
        (constraint("  enforcementAction: scoped\n  parameters:\n    labels: [owner]\n"), "spec.enforcementAction"),
        (constraint("  scopedEnforcementActions: [{action: deny, enforcementPoints: [{name: \"*\"}]}]\n  parameters:\n    labels: [owner]\n"), "spec.scopedEnforcementActions"),
    ] {
        let (code, errs, _) = run(dir.path(), TEMPLATE, &spec);
        assert_eq!(code, 2, "{spec}");
        assert!(errs.iter().any(|e| e.contains("K8sRequiredLabels/need-owner")), "{field}: {errs:#?}");
    }
}

#[test]
fn gator_suites_refuse_unknown_fields_and_invalid_parameters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("template.yaml"), TEMPLATE).unwrap();
    std::fs::write(
        dir.path().join("constraint.yaml"),
        constraint("  parameters:\n    labels: [owner]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("pod.yaml"), POD).unwrap();
    let suite = |constraint: &str, assertion_key: &str| {
        format!("apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\nmetadata: {{name: s}}\ntests:\n  - name: labels\n    template: template.yaml\n    constraint: {constraint}\n    cases:\n      - name: unlabelled\n        object: pod.yaml\n        {assertion_key}:\n          - violations: yes\n")
    };
    let run = |text: String| {
        std::fs::write(dir.path().join("suite.yaml"), text).unwrap();
        let out = policyctl()
            .args(["test", "-o", "json"])
            .arg(dir.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(suite("constraint.yaml", "assertions"));
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(suite("constraint.yaml", "assertion"));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("unknown field tests[0].cases[0].assertion"),
        "{out}"
    );
    // Invalid parameters, in a constraint only the suite names (not among the policies).
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("bad-constraint.yaml"),
        constraint("  parameters:\n    labels: owner\n"),
    )
    .unwrap();
    let bad = elsewhere.path().join("bad-constraint.yaml");
    let (code, out) = run(suite(bad.to_str().unwrap(), "assertions"));
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("bad-constraint.yaml:9: K8sRequiredLabels/need-owner: spec.parameters.labels"),
        "{out}"
    );
}
