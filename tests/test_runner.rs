//! `policyctl test`: opa-test parity for Rego unit tests, and gator suites.

mod common;
use common::policyctl;
use serde_json::Value;
use std::collections::BTreeMap;

fn run_json(args: &[&str]) -> (i32, Value) {
    let out = policyctl()
        .arg("test")
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), json)
}

fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pass_fail_error_skip_mocks_duplicates_v0_and_v1() {
    let (code, report) = run_json(&["testdata/rego-tests"]);
    assert_eq!(code, 1);
    let s = statuses(&report);
    let expect = [
        ("data.demo.test_admin_allowed", "pass"),
        ("data.demo.test_guest_denied", "pass"),
        ("data.demo.test_on_call_on_a_weekday", "pass"),
        ("data.demo.test_on_call_on_sunday", "pass"),
        ("data.demo.test_function_mock", "pass"),
        ("data.demo.test_print_and_fail", "fail"),
        ("data.demo.test_duplicate", "pass"),
        ("data.demo.test_duplicate#01", "fail"),
        ("data.demo.test_runtime_error", "error"),
        ("data.demo.todo_test_later", "skip"),
    ];
    for (name, status) in expect {
        assert_eq!(
            s.get(name).map(String::as_str),
            Some(status),
            "{name}: {s:#?}"
        );
    }
    assert_eq!(s.len(), expect.len());
    let summary = &report["summary"];
    assert_eq!(
        (
            summary["passed"].as_u64(),
            summary["failed"].as_u64(),
            summary["errored"].as_u64(),
            summary["skipped"].as_u64()
        ),
        (Some(6), Some(2), Some(1), Some(1))
    );
    let error = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["status"] == "error")
        .unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("policy_test.rego:41: rule conflicts"),
        "{error}"
    );
    let failing = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "data.demo.test_print_and_fail")
        .unwrap();
    assert_eq!(
        failing["prints"][0],
        "testdata/rego-tests/policy_test.rego:31: replicas checked: 0"
    );
    assert_eq!(failing["line"], 30);
    assert_eq!(failing["kind"], "rego");
    assert!(failing["duration_ns"].as_u64().unwrap() > 0);
}

#[test]
fn text_output_shows_failures_and_their_prints_and_everything_with_verbose() {
    let out = policyctl()
        .args(["test", "testdata/rego-tests"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("data.demo.test_print_and_fail: FAIL ("),
        "{text}"
    );
    assert!(
        text.contains("  testdata/rego-tests/policy_test.rego:31: replicas checked: 0"),
        "{text}"
    );
    assert!(
        !text.contains("test_admin_allowed"),
        "passes are hidden without -v: {text}"
    );
    assert!(
        text.ends_with("PASS: 6/10\nFAIL: 2/10\nERROR: 1/10\nSKIPPED: 1/10\n"),
        "{text}"
    );
    let out = policyctl()
        .args(["test", "-v", "testdata/rego-tests"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("data.demo.test_admin_allowed: PASS ("),
        "{text}"
    );
}

#[test]
fn run_filter_selects_by_full_name() {
    let (code, report) = run_json(&["-r", "admin|guest", "testdata/rego-tests"]);
    assert_eq!(code, 0);
    assert_eq!(statuses(&report).len(), 2);
}

#[test]
fn coverage_and_threshold() {
    let (code, report) = run_json(&["--coverage", "-r", "admin", "testdata/rego-tests"]);
    assert_eq!(code, 0);
    let pct = report["summary"]["coverage"].as_f64().unwrap();
    assert!(pct > 0.0 && pct < 100.0, "{pct}");
    let file = &report["coverage"][0];
    assert_eq!(
        file["file"], "testdata/rego-tests/policy.rego",
        "test files are not counted"
    );
    assert!(
        file["covered"].as_array().unwrap().iter().any(|l| l == 7),
        "allow's admin body ran: {file}"
    );
    assert!(
        file["not_covered"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == 27),
        "deny never ran: {file}"
    );

    let out = policyctl()
        .args([
            "test",
            "-r",
            "admin",
            "--threshold",
            "99",
            "testdata/rego-tests",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "below the threshold fails");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is below the threshold 99%"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Coverage:\n  testdata/rego-tests/policy.rego: "),
        "{text}"
    );
    let out = policyctl()
        .args([
            "test",
            "-r",
            "admin",
            "--threshold",
            "5",
            "testdata/rego-tests",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn junit_output() {
    let out = policyctl()
        .args(["test", "-o", "junit", "testdata/rego-tests"])
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains("tests=\"10\" failures=\"2\" errors=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("<skipped/>"), "{xml}");
    assert!(
        xml.contains("name=\"data.demo.test_duplicate#01\""),
        "{xml}"
    );
}

#[test]
fn load_errors_exit_2() {
    let out = policyctl()
        .args(["test", "testdata/bad/policies"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("testdata/bad/policies/syntax.rego:"));
}

#[test]
fn gator_suites_pass() {
    let (code, report) = run_json(&["testdata/gatekeeper"]);
    assert_eq!(code, 0, "{report:#}");
    let tests = report["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 16);
    assert!(tests
        .iter()
        .all(|t| t["kind"] == "suite" && t["status"] == "pass"));
    let case = tests
        .iter()
        .find(|t| t["name"] == "immutable-owner/delete-protected")
        .unwrap();
    assert_eq!(case["file"], "testdata/gatekeeper/suites/suite.yaml");
    assert!(case["line"].as_u64().unwrap() > 1);
}

#[test]
fn failing_gator_case_says_what_was_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let suite = format!(
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: owner\n  template: {root}/testdata/gatekeeper/templates/k8srequiredlabels.yaml\n  constraint: {root}/testdata/gatekeeper/constraints/required-owner.yaml\n  cases:\n  - name: wrong-expectation\n    object: {root}/testdata/gatekeeper/suites/samples/deploy-unowned.yaml\n    assertions:\n    - violations: no\n  - name: two-objects\n    object: {root}/testdata/gatekeeper/inventory/namespaces.yaml\n    assertions:\n    - violations: no\n  - name: skipped\n    skip: true\n    object: x.yaml\n    assertions: [{{violations: no}}]\n"
    );
    std::fs::write(dir.path().join("suite.yaml"), suite).unwrap();
    let (code, report) = run_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    let s = statuses(&report);
    assert_eq!(s["owner/wrong-expectation"], "fail");
    assert_eq!(s["owner/two-objects"], "error");
    assert_eq!(s["owner/skipped"], "skip");
    let msg = report["tests"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("got 1 violations but want none; messages: [\"All deployments in prod"),
        "{msg}"
    );
    let msg = report["tests"][1]["message"].as_str().unwrap();
    assert!(
        msg.contains("defines 3 objects; a case reviews exactly one"),
        "{msg}"
    );
}
