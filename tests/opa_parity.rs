//! Rego as OPA evaluates it (issue 11): each case is a policy written the way OPA reads it,
//! checked through `policyctl check` on the interpreter and on the compiled path, which must
//! agree with OPA's documented result.

mod common;
use common::{check_json, findings};

/// Runs `policy` on `input` with each engine; returns the finding messages of each.
fn run(policy: &str, input: &str) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rego"), policy).unwrap();
    std::fs::write(dir.path().join("in.yaml"), input).unwrap();
    ["auto", "interpreter"]
        .iter()
        .map(|engine| {
            let (code, report) = check_json(&[
                "check",
                "--rego-engine",
                engine,
                "-p",
                dir.path().join("p.rego").to_str().unwrap(),
                dir.path().join("in.yaml").to_str().unwrap(),
            ]);
            assert_ne!(code, 2, "{engine}: {report:#}");
            let mut m: Vec<String> = findings(&report).into_iter().map(|f| f.4).collect();
            m.sort();
            m
        })
        .collect()
}

#[test]
fn a_newline_before_a_parenthesis_ends_the_expression() {
    // gatekeeper-library style: a parameter on one line, arithmetic in parentheses on the next.
    let policy = "package main\nimport rego.v1\n\ndeny contains msg if {\n  minimum := input.parameters.minimumReplicaSpread\n  (input.replicas - input.ready) > minimum\n  msg := \"too few ready replicas\"\n}\n";
    for engine in run(
        policy,
        "parameters: {minimumReplicaSpread: 1}\nreplicas: 5\nready: 2\n",
    ) {
        assert_eq!(engine, vec!["too few ready replicas".to_string()]);
    }
    for engine in run(
        policy,
        "parameters: {minimumReplicaSpread: 3}\nreplicas: 5\nready: 2\n",
    ) {
        assert!(engine.is_empty(), "{engine:?}");
    }
}

#[test]
fn a_v0_set_rule_may_have_several_query_blocks() {
    // Each block is its own definition and contributes its messages (OPA's v0 semantics).
    let policy = "package main\n\ndeny[msg] {\n  input.kind == \"Pod\"\n  msg := \"pods are not allowed\"\n} {\n  input.metadata.name == \"bad\"\n  msg := \"bad name\"\n}\n";
    for engine in run(policy, "kind: Pod\nmetadata: {name: bad}\n") {
        assert_eq!(
            engine,
            vec!["bad name".to_string(), "pods are not allowed".to_string()]
        );
    }
    for engine in run(policy, "kind: Service\nmetadata: {name: good}\n") {
        assert!(engine.is_empty(), "{engine:?}");
    }
}

#[test]
fn a_later_query_block_of_a_complete_rule_yields_the_heads_value() {
    // v0 helper with two blocks: each is a definition `tier = t`, not a boolean.
    let policy = "package main\n\ntier = t {\n  input.kind == \"Deployment\"\n  t := \"apps\"\n} {\n  input.kind == \"Pod\"\n  t := \"pods\"\n}\n\ndeny[msg] {\n  msg := sprintf(\"tier %v\", [tier])\n}\n";
    for engine in run(policy, "kind: Pod\n") {
        assert_eq!(engine, vec!["tier pods".to_string()]);
    }
    for engine in run(policy, "kind: Deployment\n") {
        assert_eq!(engine, vec!["tier apps".to_string()]);
    }
}
