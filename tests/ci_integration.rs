//! The GitHub Action (`action.yml`) and the pre-commit hooks users copy into their CI
//! (issue 12, items 3 and 4). The example workflow is linted with actionlint and the hooks run
//! with `pre-commit try-repo` by scripts/lint-ci-files.sh, a `.ci/run` step; these tests check
//! what needs no downloaded tool.

use std::process::Command;

fn yaml(path: &str) -> serde_json::Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every `${{ inputs.x }}` the action uses is declared, every step's shell script parses with
/// `bash -n`, and the steps that read inputs take them through `env:` (not spliced into the
/// script, where a crafted input would run as code).
#[test]
fn the_composite_action_is_well_formed() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let inputs = action["inputs"].as_object().unwrap();
    let text = std::fs::read_to_string("action.yml").unwrap();
    let re = regex::Regex::new(r"inputs\.([A-Za-z0-9_-]+)").unwrap();
    for cap in re.captures_iter(&text) {
        assert!(inputs.contains_key(&cap[1]), "undeclared input {}", &cap[1]);
    }
    let expr = regex::Regex::new(r"\$\{\{[^}]*\}\}").unwrap();
    for step in action["runs"]["steps"].as_array().unwrap() {
        let Some(run) = step["run"].as_str() else {
            continue;
        };
        assert_eq!(step["shell"], "bash", "{step:#}");
        assert!(
            !expr.is_match(run),
            "expressions go through env:, not the script: {run}"
        );
        let out = Command::new("bash")
            .args(["-n", "-c", run])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            step["name"],
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The example workflow uses the action with inputs it declares.
#[test]
fn the_example_workflow_uses_the_actions_inputs() {
    let action = yaml("action.yml");
    let workflow = yaml("docs/examples/github-workflow.yml");
    let step = workflow["jobs"]["policyctl"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uses"] == "./")
        .expect("a step using the action");
    for key in step["with"].as_object().unwrap().keys() {
        assert!(action["inputs"].get(key).is_some(), "unknown input {key}");
    }
}

/// Each hook names an entry that is a policyctl verb and a language pre-commit knows.
#[test]
fn the_pre_commit_hooks_are_declared() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let ids: Vec<&str> = hooks
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            assert!(
                ["rust", "system"].contains(&h["language"].as_str().unwrap()),
                "{h:#}"
            );
            let entry = h["entry"].as_str().unwrap();
            assert!(
                entry == "policyctl check" || entry == "policyctl test",
                "{h:#}"
            );
            h["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "policyctl-check",
            "policyctl-test",
            "policyctl-check-system",
            "policyctl-test-system"
        ]
    );
}
