//! The raw regorus baseline shared by the benches: every `.rego` of a policy set (no tests)
//! added to a bare regorus engine with policyctl's evaluation options (non-strict builtin
//! errors, OPA's negation), prepared once, and the paths of the set's rules.
//!
//! `BENCH_POLICIES` picks the set: `builtin` (default, the built-in library) or a policy
//! directory, e.g. `benches/corpus/ordinary` (conftest-style policies written the ordinary way).

use regorus::Engine;

/// `-p` values for policyctl and the baseline (`BENCH_POLICIES`).
pub fn bench_policies() -> Vec<String> {
    let v = std::env::var("BENCH_POLICIES").unwrap_or_else(|_| "builtin".into());
    if v == "builtin" {
        return vec![v];
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&v);
    vec![path.to_string_lossy().into_owned()]
}

pub fn raw_engine() -> (Engine, Vec<String>) {
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(false);
    engine.set_opa_negation(true);
    let opts = policyctl::policy::LoadOptions {
        policy_paths: bench_policies(),
        ..Default::default()
    };
    let (sources, _) = policyctl::policy::discover(&opts);
    for s in &sources {
        engine
            .add_policy(s.path.clone(), s.text.clone())
            .expect("policy parses");
    }
    let (set, _) = policyctl::policy::load(sources, &opts);
    let rules: Vec<String> = set
        .packages
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.path.clone()))
        .collect();
    // Prepare once, so clones are cheap (regorus prepares lazily).
    engine.eval_rule(rules[0].clone()).unwrap();
    (engine, rules)
}
