//! Every output format, snapshot-tested from one run (the same Decision): findings of every
//! severity, a resource-less finding with `_loc`, and a tool error.

mod common;
use common::policyctl;

const ARGS: [&str; 6] = [
    "check",
    "-p",
    "testdata/conftest/policy",
    "testdata/conftest/inputs",
    "testdata/bad/inputs/malformed.yaml",
    "--color=never",
];

fn render(format: &str) -> (i32, String) {
    let out = policyctl()
        .args(ARGS)
        .args(["-o", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn every_format_snapshot() {
    for format in ["text", "json", "sarif", "junit", "github", "tap", "table"] {
        let (code, out) = render(format);
        assert_eq!(
            code, 2,
            "{format}: the malformed input makes it an error run"
        );
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_suffix(format);
        settings.bind(|| insta::assert_snapshot!(out));
    }
}

#[test]
fn sarif_has_what_code_scanning_requires() {
    let (_, out) = render("sarif");
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "policyctl");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in run["results"].as_array().unwrap() {
        assert!(
            rules.contains(&result["ruleId"].as_str().unwrap()),
            "every result's rule is declared"
        );
        let loc = &result["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".yaml"));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
    }
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
}

#[test]
fn junit_is_well_formed_xml_with_failures_counted() {
    let (_, out) = render("junit");
    assert!(out.starts_with("<?xml"));
    assert!(out.contains("failures=\"3\""), "{out}");
    assert!(out.contains("errors=\"1\""), "{out}");
}

#[test]
fn github_annotations_point_at_file_and_line() {
    let (_, out) = render("github");
    assert!(out.contains("::error file=testdata/conftest/inputs/deployment.yaml,line=15,title=main/deny::Deployment/legacy: every Deployment needs a team label"), "{out}");
    assert!(out.contains("::warning file=testdata/conftest/inputs/deployment.yaml,line=1,title=main/warn_replicas::"), "{out}");
    assert!(out.contains("::error file=testdata/bad/inputs/malformed.yaml,line=6,title=policyctl error::invalid YAML"), "{out}");
}

#[test]
fn text_colours_only_when_asked() {
    let out = policyctl()
        .args(&ARGS[..5])
        .args(["--color", "always"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\u{1b}[31mFAIL\u{1b}[0m"), "{text}");
    let (_, plain) = render("text");
    assert!(!plain.contains('\u{1b}'));
    assert!(plain.ends_with("12 tests, 7 passed, 1 warnings, 3 failures, 1 exceptions, 1 errors (3 files, 3 resources)\n"), "{plain}");
}

/// JUnit and TAP report one case per rule evaluated against a resource, passes included
/// (conftest's shape): 4 rules × 3 resources in testdata/conftest = 12 cases, as many as the
/// summary's tests; JSON does not list passes (they are only counted there).
#[test]
fn junit_and_tap_have_one_case_per_rule_and_resource() {
    let run = |format: &str| {
        let out = common::policyctl()
            .args([
                "check",
                "-p",
                "testdata/conftest/policy",
                "testdata/conftest/inputs",
                "-o",
                format,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stdout).unwrap()
    };
    let junit = run("junit");
    assert_eq!(junit.matches("<testcase ").count(), 12, "{junit}");
    assert!(junit.contains("tests=\"12\" failures=\"3\""), "{junit}");
    assert!(
        junit.contains("name=\"main/deny Service/shop\""),
        "passes are cases: {junit}"
    );
    let tap = run("tap");
    assert!(tap.starts_with("1..12\n"), "{tap}");
    assert_eq!(
        tap.lines().filter(|l| l.starts_with("ok ")).count(),
        9,
        "{tap}"
    );
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["summary"]["passed"], 7);
    assert!(json.get("passes").is_none(), "{json:#}");
}

/// `-o policyreport`: every report validates against the PolicyReport CRD's schema
/// (testdata/policyreport), namespaced objects land in their namespace's PolicyReport and the
/// rest in the ClusterPolicyReport, one result per rule × resource, summaries that add up.
#[test]
fn policyreport_validates_against_the_crd_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("testdata/policyreport/v1alpha2.schema.json").unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    // The same check in two formats: the report and the TAP cases it must match one to one.
    let run = |format: &str| {
        let out = common::policyctl()
            .args([
                "check",
                "-o",
                format,
                "testdata/k8s",
                "testdata/conftest/inputs",
            ])
            .args(["-p", "builtin", "-p", "testdata/conftest/policy"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let yaml = run("policyreport");
    let tap = run("tap");
    let cases = tap
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("1..")
        .parse::<usize>()
        .unwrap();
    let mut results = 0;
    let mut kinds = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&yaml) {
        let report: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{report:#}");
        let list = report["results"].as_array().unwrap();
        results += list.len();
        let summed: u64 = ["pass", "fail", "warn", "error", "skip"]
            .iter()
            .map(|k| report["summary"][k].as_u64().unwrap())
            .sum();
        assert_eq!(summed as usize, list.len(), "{report:#}");
        let kind = report["kind"].as_str().unwrap().to_string();
        let ns = report["metadata"]["namespace"].as_str().map(str::to_string);
        for r in list {
            if let Some(res) = r["resources"].as_array().and_then(|a| a.first()) {
                assert_eq!(
                    res["namespace"].as_str().map(str::to_string),
                    ns,
                    "{r:#} in {kind}"
                );
            }
        }
        kinds.push((kind, ns));
    }
    assert_eq!(
        results, cases,
        "one result per TAP case (rule × resource, errors included)"
    );
    assert!(
        kinds.iter().any(|(k, _)| k == "ClusterPolicyReport"),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(k, ns)| k == "PolicyReport" && ns.is_some()),
        "{kinds:?}"
    );
    assert!(
        yaml.contains("result: fail") && yaml.contains("result: pass"),
        "{yaml}"
    );
    assert!(
        yaml.contains("result: skip"),
        "the conftest exception is a skip: {yaml}"
    );
}

/// SARIF rule descriptors carry `title` / `description` from `# METADATA` (a rule's own block,
/// else its package's).
#[test]
fn sarif_rules_are_described_from_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.rego");
    std::fs::write(
        &policy,
        "# METADATA\n# title: Shop rules\n# description: What every shop workload follows.\npackage main\nimport rego.v1\n\n# METADATA\n# title: Deployments name their team\n# description: A Deployment without a team label has no owner to page.\ndeny contains msg if {\n  input.kind == \"Deployment\"\n  not input.metadata.labels.team\n  msg := \"needs a team label\"\n}\n\nwarn contains msg if {\n  input.kind == \"Deployment\"\n  msg := \"reviewed\"\n}\n",
    )
    .unwrap();
    let out = common::policyctl()
        .args([
            "check",
            "-o",
            "sarif",
            "-p",
            policy.to_str().unwrap(),
            "testdata/conftest/inputs/deployment.yaml",
        ])
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let rule = |id: &str| {
        rules
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {rules:#?}"))
    };
    assert_eq!(
        rule("main/deny")["shortDescription"]["text"],
        "Deployments name their team"
    );
    assert_eq!(
        rule("main/deny")["fullDescription"]["text"],
        "A Deployment without a team label has no owner to page."
    );
    assert_eq!(
        rule("main/warn")["shortDescription"]["text"],
        "Shop rules",
        "the package's block"
    );
}
