//! The raw regorus baseline shared by the benches: every built-in `.rego` (no tests) added to
//! a bare regorus engine, prepared once, and the paths of the library's rules.

use regorus::Engine;

pub fn raw_engine() -> (Engine, Vec<String>) {
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(false);
    let (sources, _) = policyctl::policy::discover(&Default::default());
    for s in &sources {
        engine
            .add_policy(s.path.clone(), s.text.clone())
            .expect("built-in policy parses");
    }
    let (set, _) = policyctl::policy::load(sources, &Default::default());
    let rules: Vec<String> = set
        .packages
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.path.clone()))
        .collect();
    // Prepare once, so clones are cheap (regorus prepares lazily).
    engine.eval_rule(rules[0].clone()).unwrap();
    (engine, rules)
}
