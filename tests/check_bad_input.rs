//! Bad input never crashes the run or hides other files' findings: each problem is an error
//! naming the file (and line where known), the run exits 2, the rest is still reported.

mod common;
use common::{check_json, errors, findings};

fn error_for<'a>(
    errs: &'a [(String, u64, String)],
    file_suffix: &str,
) -> &'a (String, u64, String) {
    errs.iter()
        .find(|e| e.0.ends_with(file_suffix))
        .unwrap_or_else(|| panic!("no error for {file_suffix}: {errs:#?}"))
}

#[test]
fn malformed_inputs_and_policies_are_errors_with_positions() {
    let (code, report) = check_json(&[
        "check",
        "-p",
        "testdata/bad/policies",
        "testdata/bad/inputs",
    ]);
    assert_eq!(code, 2);
    let errs = errors(&report);
    let yaml = error_for(&errs, "malformed.yaml");
    assert_eq!(yaml.1, 6);
    assert!(yaml.2.starts_with("invalid YAML"), "{yaml:?}");
    let json = error_for(&errs, "malformed.json");
    assert_eq!(
        (json.1, json.2.starts_with("invalid JSON")),
        (4, true),
        "{json:?}"
    );
    let hcl = error_for(&errs, "malformed.tf");
    assert_eq!(
        (hcl.1, hcl.2.starts_with("invalid HCL")),
        (2, true),
        "{hcl:?}"
    );
    let utf8 = error_for(&errs, "invalid-utf8.yaml");
    assert_eq!(utf8.1, 4);
    assert!(utf8.2.contains("invalid UTF-8"));
    assert!(error_for(&errs, "binary.json").2.contains("binary file"));
    let syntax = error_for(&errs, "syntax.rego");
    assert!(
        syntax.1 >= 7,
        "syntax errors carry the policy line: {syntax:?}"
    );
    let runtime = errs
        .iter()
        .find(|e| e.2.contains("runtime.rego"))
        .expect("runtime error reported");
    assert!(
        runtime.0.ends_with("good.yaml"),
        "runtime errors name the input: {runtime:?}"
    );
    assert!(runtime.2.contains("data.main.deny"), "{runtime:?}");

    // The good policy still ran on the good inputs.
    let f = findings(&report);
    let files: Vec<_> = f
        .iter()
        .map(|x| x.1.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(files, vec!["good.yaml", "pod.yaml"], "{f:#?}");
}

#[test]
fn huge_and_deeply_nested_files_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let line = "- value-value-value-value-value-value-value-value\n";
    std::fs::write(
        &big,
        format!("items:\n{}", line.repeat(50 * 1024 * 1024 / line.len() + 1)),
    )
    .unwrap();
    let deep_yaml = dir.path().join("deep.yaml");
    std::fs::write(
        &deep_yaml,
        format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
    )
    .unwrap();
    let deep_json = dir.path().join("deep.json");
    std::fs::write(
        &deep_json,
        format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)),
    )
    .unwrap();
    let fine = dir.path().join("fine.yaml");
    std::fs::write(&fine, "debug: true\n").unwrap();

    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/parsers/parsers.rego");
    let dirs = dir.path().to_str().unwrap();
    let (code, report) = check_json(&["check", "-p", policy, "-n", "parsers", dirs]);
    assert_eq!(code, 2);
    let errs = errors(&report);
    assert!(error_for(&errs, "big.yaml")
        .2
        .contains("larger than the 16 MiB input limit"));
    assert!(
        error_for(&errs, "deep.yaml").2.contains("recursion limit"),
        "{errs:?}"
    );
    assert!(
        error_for(&errs, "deep.json").2.contains("recursion limit"),
        "{errs:?}"
    );
    let f = findings(&report);
    assert_eq!(f.len(), 1);
    assert!(f[0].1.ends_with("fine.yaml"));

    // The limit is a flag, not a wall.
    let (_, report) = check_json(&[
        "check",
        "-p",
        policy,
        "-n",
        "parsers",
        "--max-file-size",
        "64",
        big.to_str().unwrap(),
    ]);
    assert_eq!(errors(&report).len(), 0, "{report:#}");
}

#[test]
fn text_output_names_errors_for_humans() {
    let out = common::policyctl()
        .args([
            "check",
            "-p",
            "testdata/bad/policies",
            "testdata/bad/inputs/malformed.yaml",
            "testdata/bad/inputs/pod.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ERROR - testdata/bad/inputs/malformed.yaml:6: invalid YAML"),
        "{text}"
    );
    assert!(
        text.contains("WARN - testdata/bad/inputs/pod.yaml:1 (Pod/p) - main/warn - Pod p checked"),
        "{text}"
    );
}

/// Inputs the fuzzers found (`scripts/fuzz.sh`), kept as regressions: each is refused with a
/// located error, promptly. The bound is generous (a debug build on a busy machine); what it
/// catches is the hang the fuzzer found (hours), not a speed target.
#[test]
fn fuzzer_findings_are_refused_promptly() {
    // A ConstraintTemplate whose Rego has 41 unbalanced `[`: regorus's parser backtracked 2^41
    // times (third_party/regorus/PATCHES.md, patch 22).
    let out = common::policyctl()
        .args([
            "check",
            "-o",
            "json",
            "-p",
            "testdata/fuzz/template-nested-brackets-hang.yaml",
            "testdata/k8s/allowed/pod.yaml",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errs = errors(&report);
    let e = error_for(&errs, "template-nested-brackets-hang.yaml");
    assert!(e.2.contains("expecting `]`"), "{e:?}");
}
