//! regorus patch 23's GraphQL builtins on arbitrary documents: gqlparser's lexer and parser,
//! the schema conversion and the 26 query validation rules must give an answer (a value, or a
//! builtin error, which is undefined here) for any query and schema a policy is handed —
//! never a panic, a stack overflow or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use regorus::{Engine, Value};

const POLICY: &str = r#"package fuzz
import rego.v1

r := {
  "query": graphql.parse_query(input.q),
  "schema": graphql.parse_schema(input.s),
  "schema_valid": graphql.schema_is_valid(input.s),
  "valid": graphql.is_valid(input.q, input.s),
  "verified": graphql.parse_and_verify(input.q, input.s),
  "parsed": graphql.parse(input.q, input.s),
}
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // "query\0schema"; without a schema, a fixed one with every kind of type.
    let (query, schema) = text.split_once('\0').unwrap_or((
        text,
        "schema { query: Q mutation: M } directive @d(a: Int!) repeatable on FIELD | FRAGMENT_SPREAD
         interface N { id: ID! } type Q implements N { id: ID! q(a: [In!], e: E = A): [U] n: N }
         type M { m(x: Int! = 1): Q } union U = Q | M enum E { A B } input In { f: Float! g: [In] }",
    ));
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(false);
    if engine.add_policy("fuzz.rego".into(), POLICY.into()).is_err() {
        return;
    }
    let mut input = std::collections::BTreeMap::new();
    input.insert(Value::from("q"), Value::from(query));
    input.insert(Value::from("s"), Value::from(schema));
    engine.set_input(Value::from(input));
    let _ = engine.eval_rule("data.fuzz.r".into());
});
