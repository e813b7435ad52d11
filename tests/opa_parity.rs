//! Rego as OPA evaluates it (issue 11): each case is a policy written the way OPA reads it,
//! checked through `policyctl check` on the interpreter and on the compiled path only
//! (`--rego-engine compiled`: no fallback to the interpreter), which must agree with OPA's
//! documented result.

mod common;
use common::{check_json, findings};

const ENGINES: [&str; 2] = ["compiled", "interpreter"];

/// `policyctl check --rego-engine ENGINE` of `policy` on `input`: exit code and JSON report.
fn check(engine: &str, policy: &str, input: &str) -> (i32, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rego"), policy).unwrap();
    std::fs::write(dir.path().join("in.yaml"), input).unwrap();
    check_json(&[
        "check",
        "--rego-engine",
        engine,
        "-p",
        dir.path().join("p.rego").to_str().unwrap(),
        dir.path().join("in.yaml").to_str().unwrap(),
    ])
}

/// Runs `policy` on `input` with each engine; returns the finding messages of each.
fn run(policy: &str, input: &str) -> Vec<Vec<String>> {
    ENGINES
        .iter()
        .map(|engine| {
            let (code, report) = check(engine, policy, input);
            assert_ne!(code, 2, "{engine}: {report:#}");
            let mut m: Vec<String> = findings(&report).into_iter().map(|f| f.4).collect();
            m.sort();
            m
        })
        .collect()
}

/// Runs `policy` on `input` with each engine, expecting an evaluation error (exit 2) on each;
/// returns the error messages of each.
fn run_errors(policy: &str, input: &str) -> Vec<String> {
    ENGINES
        .iter()
        .map(|engine| {
            let (code, report) = check(engine, policy, input);
            assert_eq!(code, 2, "{engine}: {report:#}");
            assert!(findings(&report).is_empty(), "{engine}: {report:#}");
            report["errors"].to_string()
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

/// The helpers most repositories write: a complete rule and a function with several
/// definitions, a partial object, an `else` chain. They compile, and give OPA's findings.
const ORDINARY: &str = r#"package main
import rego.v1

pod_spec := input.spec if input.kind == "Pod"
pod_spec := input.spec.template.spec if input.kind in {"Deployment", "StatefulSet"}

image_tag(image) := "latest" if not contains(image, ":")
image_tag(image) := split(image, ":")[1] if contains(image, ":")

limits[c.name] := c.resources.limits if some c in pod_spec.containers

tier := "privileged" if pod_spec.hostNetwork
else := "restricted" if pod_spec.securityContext.runAsNonRoot
else := "baseline"

deny contains msg if {
  some c in pod_spec.containers
  image_tag(c.image) == "latest"
  msg := sprintf("%s uses the latest tag (tier %s)", [c.name, tier])
}

deny contains msg if {
  some name, l in limits
  not l.memory
  msg := sprintf("%s has no memory limit", [name])
}
"#;

#[test]
fn helpers_with_several_definitions_compile_and_give_opas_findings() {
    let deployment = "kind: Deployment\nspec:\n  template:\n    spec:\n      securityContext: {runAsNonRoot: true}\n      containers:\n      - {name: app, image: nginx, resources: {limits: {cpu: 1}}}\n      - {name: side, image: envoy:1.2, resources: {limits: {memory: 1Gi}}}\n";
    for engine in run(ORDINARY, deployment) {
        assert_eq!(
            engine,
            vec![
                "app has no memory limit".to_string(),
                "app uses the latest tag (tier restricted)".to_string(),
            ]
        );
    }
    let pod = "kind: Pod\nspec:\n  hostNetwork: true\n  containers:\n  - {name: one, image: 'busybox:1', resources: {limits: {memory: 1Gi}}}\n";
    for engine in run(ORDINARY, pod) {
        assert!(engine.is_empty(), "{engine:?}");
    }
    let service = "kind: Service\nspec: {ports: [{port: 80}]}\n";
    for engine in run(ORDINARY, service) {
        assert!(engine.is_empty(), "{engine:?}");
    }
}

#[test]
fn a_genuine_conflict_is_an_error_on_both_paths() {
    // OPA: eval_conflict_error. Never undefined (which would let the document through).
    let complete = "package main\nimport rego.v1\n\nowner := \"team-a\" if input.metadata.labels.team == \"a\"\nowner := \"platform\" if input.kind == \"Deployment\"\n\ndeny contains \"no owner\" if not owner\n";
    let input = "kind: Deployment\nmetadata: {labels: {team: a}}\n";
    for errors in run_errors(complete, input) {
        assert!(
            errors.contains("multiple outputs") || errors.contains("conflict"),
            "{errors}"
        );
    }
    // The same policy without the conflict evaluates normally.
    for engine in run(complete, "kind: Pod\nmetadata: {labels: {team: b}}\n") {
        assert_eq!(engine, vec!["no owner".to_string()]);
    }

    let function = "package main\nimport rego.v1\n\nsize(n) := \"small\" if n < 10\nsize(n) := \"even\" if n % 2 == 0\n\ndeny contains msg if {\n  msg := sprintf(\"size %s\", [size(input.replicas)])\n}\n";
    for errors in run_errors(function, "replicas: 4\n") {
        assert!(
            errors.contains("functions must not produce multiple outputs"),
            "{errors}"
        );
    }
    for engine in run(function, "replicas: 3\n") {
        assert_eq!(engine, vec!["size small".to_string()]);
    }

    let one_body = "package main\nimport rego.v1\n\nfirst_port := p if some p in input.ports\n\ndeny contains \"port\" if first_port > 0\n";
    for errors in run_errors(one_body, "ports: [80, 443]\n") {
        assert!(errors.contains("multiple outputs"), "{errors}");
    }

    let object = "package main\nimport rego.v1\n\nowners[r.name] := r.owner if some r in input.resources\n\ndeny contains msg if {\n  some n, o in owners\n  msg := sprintf(\"%s: %s\", [n, o])\n}\n";
    for errors in run_errors(
        object,
        "resources: [{name: a, owner: x}, {name: a, owner: y}]\n",
    ) {
        assert!(
            errors.contains("object keys must be unique") || errors.contains("multiple outputs"),
            "{errors}"
        );
    }
    for engine in run(
        object,
        "resources: [{name: a, owner: x}, {name: a, owner: x}]\n",
    ) {
        assert_eq!(engine, vec!["a: x".to_string()]);
    }
}

#[test]
fn negation_evaluates_its_operands_first_as_opa_does() {
    // OPA moves the operands of `not` out of it (call arguments, dynamic indexes): an undefined
    // one fails the rule instead of producing a finding. `not input.missing` and `==` (OPA's
    // unification) are not affected.
    let policy = r#"package main
import rego.v1

allowed_registry(image) if startswith(image, "registry.example.com/")

deny contains "call: registry not allowed" if not allowed_registry(input.image)
deny contains "membership: kind not allowed" if not input.kind in {"Pod", "Deployment"}
deny contains "count: no containers" if not count(input.containers) > 0
deny contains "index: unknown team" if not data.teams[input.team]
deny contains "plain: not approved" if not input.approved
deny contains "equality: not production" if not input.env == "production"
"#;
    // Every operand missing: only the two forms OPA keeps in place report.
    for engine in run(policy, "other: 1\n") {
        assert_eq!(
            engine,
            vec![
                "equality: not production".to_string(),
                "plain: not approved".to_string(),
            ]
        );
    }
    // Every operand present and the negated expression false: each `not` succeeds.
    for engine in run(
        policy,
        "image: docker.io/nginx\nkind: Service\ncontainers: []\nteam: nobody\nenv: dev\n",
    ) {
        assert_eq!(
            engine,
            vec![
                "call: registry not allowed".to_string(),
                "count: no containers".to_string(),
                "equality: not production".to_string(),
                "index: unknown team".to_string(),
                "membership: kind not allowed".to_string(),
                "plain: not approved".to_string(),
            ]
        );
    }
}

#[test]
fn crypto_jwt_and_cidr_builtins_load_and_give_opas_results() {
    // Policies using these failed to load on regorus 0.14.1 ("unknown function").
    let policy = r#"package main
import rego.v1

token := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

deny contains msg if {
  crypto.sha256(input.config) != input.checksum
  msg := sprintf("checksum mismatch: %s", [crypto.sha256(input.config)])
}

deny contains msg if {
  [_, claims, _] := io.jwt.decode(token)
  io.jwt.verify_hs256(token, "your-256-bit-secret")
  msg := sprintf("token for %s", [claims.name])
}

deny contains msg if {
  some cidr in input.allowed
  net.cidr_intersects(cidr, "10.0.0.0/8")
  msg := sprintf("%s overlaps the cluster network; merged: %v", [cidr, net.cidr_merge(input.allowed)])
}
"#;
    let input =
        "config: hello\nchecksum: nope\nallowed: [10.1.0.0/16, 10.1.0.0/17, 192.168.0.0/24]\n";
    for engine in run(policy, input) {
        assert_eq!(
            engine,
            vec![
                "10.1.0.0/16 overlaps the cluster network; merged: {\"10.1.0.0/16\", \"192.168.0.0/24\"}".to_string(),
                "10.1.0.0/17 overlaps the cluster network; merged: {\"10.1.0.0/16\", \"192.168.0.0/24\"}".to_string(),
                "checksum mismatch: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".to_string(),
                "token for John Doe".to_string(),
            ]
        );
    }
}

#[test]
fn an_outer_variable_reused_in_a_comprehension_before_its_inner_assignment() {
    // OPA reads `name` before the comprehension's own `name :=` as the enclosing variable;
    // regorus 0.14.1 refused the policy ("used before definition").
    let policy = r#"package main
import rego.v1

deny contains msg if {
  name := input.metadata.name
  owners := [name | some c in input.claims; c.resource == name; name := c.owner]
  count(owners) > 1
  msg := sprintf("%s has several owners: %v", [input.metadata.name, owners])
}
"#;
    let input = "metadata: {name: db}\nclaims:\n- {resource: db, owner: alice}\n- {resource: web, owner: bob}\n- {resource: db, owner: carol}\n";
    for engine in run(policy, input) {
        assert_eq!(
            engine,
            vec!["db has several owners: [\"alice\", \"carol\"]".to_string()]
        );
    }
}

#[test]
fn rego_metadata_rule_and_chain_read_the_rules_annotations() {
    // Conforma-style policies build their messages from METADATA annotations.
    let policy = r#"# METADATA
# title: Images
package main

import rego.v1

# METADATA
# title: Pinned images
# custom:
#   short_name: pinned
#   failure_msg: Image %s is not pinned to a digest
deny contains msg if {
  some c in input.spec.containers
  not contains(c.image, "@sha256:")
  meta := rego.metadata.rule()
  chain := rego.metadata.chain()
  msg := sprintf("%s: %s (%s)", [meta.custom.short_name, sprintf(meta.custom.failure_msg, [c.image]), chain[1].annotations.title])
}
"#;
    let input = "spec:\n  containers:\n  - {name: a, image: nginx:1.25}\n  - {name: b, image: 'nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000'}\n";
    for engine in run(policy, input) {
        assert_eq!(
            engine,
            vec!["pinned: Image nginx:1.25 is not pinned to a digest (Images)".to_string()]
        );
    }
}

#[test]
fn render_template_renders_as_go_and_refuses_call() {
    let policy = "package main\nimport rego.v1\n\ndeny contains strings.render_template(\"{{.kind}} {{.metadata.name}} is not allowed{{range .spec.containers}} [{{.name}}]{{end}}\", input) if input.kind == \"Pod\"\n\ndeny contains strings.render_template(`{{$n := len .spec.containers}}{{.metadata.name | printf \"%q\"}} has {{$n}} container{{if ne $n 1}}s{{end}}: {{range $i, $c := .spec.containers}}{{if $i}}, {{end}}{{index $c \"name\"}}{{end}}; replicas {{.spec.replicas}} (zero is {{if .spec.replicas}}true{{else}}false{{end}} for Go)`, input) if input.kind == \"Pod\"\n";
    for engine in run(
        policy,
        "kind: Pod\nmetadata: {name: web}\nspec: {replicas: 0, containers: [{name: a}, {name: b}]}\n",
    ) {
        assert_eq!(
            engine,
            vec![
                "\"web\" has 2 containers: a, b; replicas 0 (zero is true for Go)".to_string(),
                "Pod web is not allowed [a] [b]".to_string(),
            ]
        );
    }
    // `call` is not implemented (OPA's variables hold no functions, so OPA fails too, but with
    // its own message): the document is an error (exit 2), never a rule that silently produced
    // nothing.
    let unsupported = "package main\nimport rego.v1\n\ndeny contains strings.render_template(`{{call .kind}}`, input) if input.kind == \"Pod\"\n";
    for errors in run_errors(unsupported, "kind: Pod\n") {
        assert!(errors.contains("unsupported template action"), "{errors}");
    }
}

#[test]
fn x509_builtins_read_a_tls_secret_as_opa_does() {
    // crypto.x509.* failed to load on regorus 0.14.1 ("unknown function"). The Secret carries a
    // leaf (web.example.test, *.apps.example.test, valid 2025–2035) and its intermediate; the
    // annotation carries the root (testdata/x509, generated with Python's `cryptography`).
    let policy = r#"package main
import rego.v1

certs := crypto.x509.parse_certificates(base64.decode(input.data["tls.crt"]))
leaf := certs[0]
root_pem := base64.decode(input.metadata.annotations["example.test/ca"])
pem(c) := sprintf("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", [c.Raw])

# Go's verification order: root first, leaf last.
ordered := concat("", [root_pem, pem(certs[1]), pem(leaf)])

deny contains msg if {
  time.parse_rfc3339_ns(leaf.NotAfter) < time.parse_rfc3339_ns("2040-01-01T00:00:00Z")
  msg := sprintf("%s expires %s (serial %v, issuer %s)", [leaf.Subject.CommonName, leaf.NotAfter, leaf.SerialNumber, leaf.Issuer.CommonName])
}

deny contains msg if {
  some c in certs
  c.IsCA
  msg := sprintf("tls.crt carries CA %s (MaxPathLen %d)", [c.Subject.CommonName, c.MaxPathLen])
}

deny contains msg if {
  some host in [input.metadata.annotations["example.test/host"], "other.example.test"]
  [ok, _] := crypto.x509.parse_and_verify_certificates_with_options(ordered, {"DNSName": host})
  not ok
  msg := sprintf("chain does not verify for %s", [host])
}

deny contains msg if {
  [ok, verified] := crypto.x509.parse_and_verify_certificates(ordered)
  msg := sprintf("verified %v: %v", [ok, [c.Subject.CommonName | some c in verified]])
}

deny contains msg if {
  msg := sprintf("SANs %v %v %v", [leaf.DNSNames, leaf.IPAddresses, leaf.URIStrings])
}
"#;
    let input = std::fs::read_to_string("testdata/x509/tls-secret.yaml").unwrap();
    for engine in run(policy, &input) {
        assert_eq!(
            engine,
            vec![
                "SANs [\"web.example.test\", \"*.apps.example.test\"] [\"10.0.0.7\", \"2001:db8::1\"] [\"spiffe://example.test/ns/prod/sa/web\"]".to_string(),
                "chain does not verify for other.example.test".to_string(),
                "tls.crt carries CA Test Intermediate CA (MaxPathLen 0)".to_string(),
                "verified true: [\"web.example.test\", \"Test Intermediate CA\", \"Test Root CA\"]".to_string(),
                "web.example.test expires 2035-01-01T00:00:00Z (serial 12288, issuer Test Intermediate CA)".to_string(),
            ]
        );
    }
}

#[test]
fn graphql_parse_query_and_schema_give_opas_ast() {
    // graphql.parse_query / parse_schema failed to load on regorus 0.14.1. A GraphQL gateway's
    // allow-list policy walks the AST as OPA returns it (gqlparser's field names).
    let policy = r#"package main
import rego.v1

ast := graphql.parse_query(input.query)
schema := graphql.parse_schema(input.schema)

deny contains sprintf("introspection field %s is not allowed", [sel.Name]) if {
  some op in ast.Operations
  some sel in op.SelectionSet
  startswith(sel.Name, "__")
}

deny contains sprintf("%s is not a query type field", [sel.Name]) if {
  some op in ast.Operations
  op.Operation == "query"
  some sel in op.SelectionSet
  not startswith(sel.Name, "__")
  query_type := [d | some d in schema.Definitions; d.Name == "Query"][0]
  not sel.Name in {f.Name | some f in query_type.Fields}
}

deny contains sprintf("argument %s of %s is a %v", [arg.Name, sel.Name, arg.Value.Kind]) if {
  some op in ast.Operations
  some sel in op.SelectionSet
  some arg in sel.Arguments
  arg.Value.Kind == 0
}
"#;
    let input = "query: '{ __schema { types { name } } user(id: $id) { name } posts { title } }'\nschema: 'type Query { user(id: ID!): User  me: User } type User { name: String }'\n";
    for engine in run(policy, input) {
        assert_eq!(
            engine,
            vec![
                "argument id of user is a 0".to_string(),
                "introspection field __schema is not allowed".to_string(),
                "posts is not a query type field".to_string(),
            ]
        );
    }
    // A query that does not parse is a builtin error, which OPA (without
    // --strict-builtin-errors, as conftest runs it) turns into undefined: the rules that read
    // the AST produce nothing, on both engines alike (the message itself is checked in the
    // patched regorus's own cases).
    for engine in run(
        policy,
        "query: '{ user('\nschema: 'type Query { a: Int }'\n",
    ) {
        assert!(engine.is_empty(), "{engine:?}");
    }
    // graphql.schema_is_valid: gqlparser's schema validation (an interface implemented
    // without its fields, a type redeclaring a built-in scalar).
    let schema_policy = "package main\nimport rego.v1\n\ndeny contains \"invalid schema\" if not graphql.schema_is_valid(input.schema)\n";
    for (schema, want) in [
        ("type Query { me: User } type User implements Node { name: String } interface Node { id: ID! }", 1),
        ("scalar String type Query { a: String }", 1),
        ("type Query { me: User } type User implements Node { id: ID! name: String } interface Node { id: ID! }", 0),
    ] {
        for engine in run(schema_policy, &format!("schema: '{schema}'\n")) {
            assert_eq!(engine.len(), want, "{schema}: {engine:?}");
        }
    }
    // graphql.is_valid / parse / parse_and_verify: the query validated against the schema with
    // gqlparser's rules (failed to load before this patch). A gateway policy that admits only
    // valid queries, and reads the AST only of those: an unknown field, a missing required
    // argument, an undefined variable and a wrong argument type are each invalid.
    let gateway = r#"package main
import rego.v1

deny contains "query does not validate against the schema" if not graphql.is_valid(input.query, input.schema)

deny contains sprintf("%s needs the admin role", [sel.Name]) if {
  [true, ast, _] := graphql.parse_and_verify(input.query, input.schema)
  some op in ast.Operations
  some sel in op.SelectionSet
  sel.Name == "users"
  not "admin" in input.roles
}

deny contains "parse disagrees with parse_and_verify" if {
  [valid, _, _] := graphql.parse_and_verify(input.query, input.schema)
  valid != is_array(graphql.parse(input.query, input.schema))
}
"#;
    let schema = "type Query { me: User users(first: Int!): [User] } type User { name: String }";
    for (query, roles, want) in [
        ("{ me { name } }", "[]", vec![]),
        (
            "query Q($n: Int!) { users(first: $n) { name } }",
            "[]",
            vec!["users needs the admin role"],
        ),
        (
            "query Q($n: Int!) { users(first: $n) { name } }",
            "[admin]",
            vec![],
        ),
        (
            "{ me { name email } }",
            "[]",
            vec!["query does not validate against the schema"],
        ),
        (
            "{ users { name } }",
            "[admin]",
            vec!["query does not validate against the schema"],
        ),
        (
            "{ users(first: $n) { name } }",
            "[admin]",
            vec!["query does not validate against the schema"],
        ),
        (
            "{ users(first: \\\"ten\\\") { name } }",
            "[admin]",
            vec!["query does not validate against the schema"],
        ),
        (
            "{ me }",
            "[]",
            vec!["query does not validate against the schema"],
        ),
    ] {
        let input = format!("query: \"{query}\"\nschema: '{schema}'\nroles: {roles}\n");
        for engine in run(gateway, &input) {
            assert_eq!(engine, want, "{query}");
        }
    }
}
