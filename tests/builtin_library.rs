//! Dogfood: the built-in library's own Rego unit tests pass under `policyctl test`, with at
//! least 90% line coverage, and every policy has a test file and is documented.

mod common;
use common::policyctl;

#[test]
fn builtin_rego_tests_pass_with_coverage() {
    let out = policyctl()
        .args(["test", "policies/", "--threshold", "90", "-o", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(report["summary"]["errored"], 0);
    assert!(report["summary"]["passed"].as_u64().unwrap() >= 60);
    assert!(report["summary"]["coverage"].as_f64().unwrap() >= 90.0);
}

#[test]
fn every_policy_has_tests_and_docs() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/policies.md")).unwrap();
    let mut count = 0;
    for dir in ["k8s", "docker", "terraform"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(dir);
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with("_test.rego") || !name.ends_with(".rego") {
                continue;
            }
            count += 1;
            let test = path.with_file_name(name.replace(".rego", "_test.rego"));
            assert!(test.exists(), "{name} has no _test.rego");
            let package = format!("policyctl.{dir}.{}", name.trim_end_matches(".rego"));
            assert!(
                docs.contains(&package),
                "docs/policies.md does not document {package}"
            );
        }
    }
    assert!(
        count >= 21,
        "15 Kubernetes + 3 Dockerfile + 3 Terraform policies, found {count}"
    );
}
