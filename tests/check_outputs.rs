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
