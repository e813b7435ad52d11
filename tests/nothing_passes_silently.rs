//! Inputs, Rego shapes and defaults that used to pass silently (issue 9): empty files are
//! evaluated with `input` null, a bare string on stdin warns, `deny[x] if` under rego.v1 is
//! refused as conftest refuses it, `./policy` is the default policy directory, a test run
//! with no tests is an error, HCL findings sit on their block's line, and print() output is
//! attributed to its input (and nothing is printed while policies are prepared).

mod common;
use common::{check_json, findings, policyctl};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_file_with_no_document_is_evaluated_once_with_input_null() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy/p.rego",
        "package main\nimport rego.v1\ndeny contains \"always\" if true\ndeny contains \"a pod\" if input.kind == \"Pod\"\n",
    );
    let empty = write(dir.path(), "empty.yaml", "");
    let comments = write(dir.path(), "comments.yaml", "# nothing here\n---\n---\n");
    let (code, report) = check_json(&["check", "-p", &policy, &empty, &comments]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report);
    assert_eq!(f.len(), 2, "once per file: {f:?}");
    assert!(f.iter().all(|f| f.4 == "always" && f.2 == 1), "{f:?}");
    assert_eq!(report["summary"]["resources"], 2);
    // Empty documents between `---` are skipped: two documents, two evaluations.
    let two = write(
        dir.path(),
        "two.yaml",
        "kind: Pod\n---\n---\nkind: Service\n",
    );
    let (_, report) = check_json(&["check", "-p", &policy, &two]);
    assert_eq!(report["summary"]["resources"], 2, "{report:#}");
    let f = findings(&report);
    assert_eq!(
        f.iter()
            .filter(|f| f.4 == "a pod")
            .map(|f| f.2)
            .collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn a_bare_string_on_stdin_warns_that_parser_is_probably_missing() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.rego",
        "package main\nimport rego.v1\ndeny contains \"from\" if input[0].Cmd == \"from\"\n",
    );
    let out = policyctl()
        .args(["check", "-p", &policy, "-"])
        .write_stdin("FROM ubuntu:24.04\n")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr.contains("warning: -:1: standard input parsed as YAML gives a bare string")
            && stderr.contains("--parser"),
        "{stderr}"
    );
    // With the right parser: no warning, and the policy sees the Dockerfile.
    let out = policyctl()
        .args(["check", "-p", &policy, "--parser", "dockerfile", "-"])
        .write_stdin("FROM ubuntu:24.04\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn deny_with_if_but_without_contains_under_rego_v1_is_refused_as_conftest_does() {
    let dir = tempfile::tempdir().unwrap();
    for (name, header) in [
        ("v1.rego", "package main\n"),
        ("import.rego", "package main\nimport rego.v1\n"),
    ] {
        let policy = write(
            dir.path(),
            name,
            &format!("{header}\nwarn_latest[msg] if {{\n  msg := \"x\"\n}}\n"),
        );
        let input = write(dir.path(), "in.yaml", "kind: Pod\n");
        let (code, report) = check_json(&["check", "-p", &policy, &input, "--rego-version", "v1"]);
        assert_eq!(code, 2, "{name}: {report:#}");
        let errors = common::errors(&report);
        let line = header.lines().count() + 2;
        assert!(
            errors.iter().any(|(f, l, m)| f.ends_with(name)
                && *l == line as u64
                && m.starts_with("rule is using 'if' keyword without 'contains' keyword")),
            "{name}: {errors:?}"
        );
    }
    // v0 partial sets (`deny[msg] { … }`) are still sets.
    let policy = write(
        dir.path(),
        "v0.rego",
        "package main\ndeny[msg] {\n  msg := \"v0 set\"\n}\n",
    );
    let input = write(dir.path(), "in.yaml", "kind: Pod\n");
    let (code, report) = check_json(&["check", "-p", &policy, &input]);
    assert_eq!((code, findings(&report)[0].4.as_str()), (1, "v0 set"));
}

#[test]
fn check_uses_dot_policy_by_default_and_says_which_policies_ran() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "deploy.yaml",
        "kind: ConfigMap\nmetadata: {name: c}\n",
    );
    let run = || {
        let out = policyctl()
            .current_dir(dir.path())
            .args(["check", "deploy.yaml"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    // No ./policy: the built-in library, and the summary says so.
    let (code, out) = run();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("policies: built-in library (default"), "{out}");
    // A conftest repository: ./policy is used, not the built-in library.
    write(
        dir.path(),
        "policy/base.rego",
        "package main\nimport rego.v1\ndeny contains \"from ./policy\" if input.kind == \"ConfigMap\"\n",
    );
    let (code, out) = run();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("from ./policy"), "{out}");
    assert!(out.contains("policies: ./policy (default"), "{out}");
}

#[test]
fn policyctl_test_with_no_tests_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.rego",
        "package main\nimport rego.v1\ndeny contains \"x\" if input.bad\n",
    );
    let out = policyctl().arg("test").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no tests found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A filter that selects nothing: the same.
    write(
        dir.path(),
        "p_test.rego",
        "package main\nimport rego.v1\ntest_x if true\n",
    );
    let out = policyctl()
        .arg("test")
        .arg(dir.path())
        .args(["-r", "nomatch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = policyctl().arg("test").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn terraform_findings_carry_the_line_of_the_block_they_name() {
    let (code, report) = check_json(&["check", "testdata/terraform/denied/main.tf"]);
    assert_eq!(code, 1, "{report:#}");
    let text = std::fs::read_to_string("testdata/terraform/denied/main.tf").unwrap();
    for f in findings(&report) {
        let address = f.4.split(':').next().unwrap().to_string();
        let (kind, name) = address.split_once('.').unwrap();
        let line = text
            .lines()
            .position(|l| l.starts_with(&format!("resource \"{kind}\" \"{name}\"")))
            .unwrap()
            + 1;
        assert_eq!(f.2, line as u64, "{f:?}");
    }
    assert!(
        findings(&report).iter().any(|f| f.2 > 1),
        "not every block is on line 1"
    );
}

#[test]
fn print_output_is_attributed_to_its_input_and_preparation_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "p.rego",
        "package main\nimport rego.v1\ndeny contains msg if {\n  print(\"kind is\", input.kind)\n  input.kind == \"Pod\"\n  msg := \"no pods\"\n}\n",
    );
    let a = write(dir.path(), "a.yaml", "kind: Pod\n");
    let b = write(dir.path(), "b.yaml", "kind: Service\n");
    let out = policyctl()
        .args(["check", "-p", &policy, &a, &b])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("<undefined>"),
        "preparation printed: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{a}:1: {policy}:4: kind is Pod")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{b}:1: {policy}:4: kind is Service")),
        "{stderr}"
    );
}
