//! `cargo bench --bench gatekeeper_engines`: evaluation time per review of the same Gatekeeper
//! policy written for both engines, under `--gatekeeper-engine rego` and `cel`, in process
//! (template and constraint loaded once, as check/serve do; one `review` per object: binding the
//! object, matching, evaluating, collecting the messages). Run side by side, interleaved, so
//! machine noise hits both; prints medians per review and the CEL/Rego ratio, and checks both
//! engines give the same verdicts on every object.
//!
//! Environment: BENCH_REVIEWS (default 2000 objects per round), BENCH_REPS (default 7).

use policyctl::eval::gatekeeper::{review, subject_of_object, Subject};
use policyctl::policy::gatekeeper::{Gatekeeper, TemplateEngine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn pod(i: usize) -> Value {
    let mut containers = vec![json!({
        "name": "app",
        "image": format!("registry.example.com/app-{i}:1"),
        "securityContext": {"allowPrivilegeEscalation": i % 5 == 0, "privileged": i % 11 == 0},
    })];
    for s in 0..(i % 4) {
        containers.push(json!({"name": format!("sidecar-{s}"), "image": if s == 0 { "registry.example.com/debug/sh:1".to_string() } else { format!("registry.example.com/side-{s}:2") }, "securityContext": {"allowPrivilegeEscalation": false}}));
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{i}"), "namespace": "team", "labels": {"app": "x"}},
           "spec": {"initContainers": [{"name": "init", "image": "registry.example.com/init:1", "securityContext": {"allowPrivilegeEscalation": false}}], "containers": containers}})
}

fn load(template: &str, constraint: &str, engine: TemplateEngine) -> Gatekeeper {
    let dir = env!("CARGO_MANIFEST_DIR");
    let opts = policyctl::policy::LoadOptions {
        policy_paths: vec![format!("{dir}/{template}"), format!("{dir}/{constraint}")],
        gatekeeper_engine: engine,
        ..Default::default()
    };
    let (sources, errors) = policyctl::policy::discover(&opts);
    assert!(errors.is_empty(), "{errors:?}");
    let (set, errors) = policyctl::policy::load(sources, &opts);
    assert!(errors.is_empty(), "{errors:?}");
    set.gatekeeper
}

fn round(gk: &Gatekeeper, subjects: &[Subject]) -> (Duration, Vec<usize>) {
    let c = &gk.constraints[0];
    let start = Instant::now();
    let verdicts = subjects
        .iter()
        .map(|s| review(gk, c, s).unwrap().map_or(0, |v| v.len()))
        .collect();
    (start.elapsed(), verdicts)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("BENCH_REVIEWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let subjects: Vec<Subject> = (0..n).map(|i| subject_of_object(pod(i))).collect();
    println!("gatekeeper_engines: {n} Pod reviews per round, {reps} rounds, median per review");
    println!(
        "{:34} {:>10} {:>10} {:>9}",
        "policy", "rego µs", "cel µs", "cel/rego"
    );
    for (name, template, constraint) in [
        (
            "no privileged (variables, 2 checks)",
            "testdata/gatekeeper-cel/templates/k8snoprivileged-both.yaml",
            "testdata/gatekeeper-cel/constraints/no-privileged.yaml",
        ),
        (
            "allowed repos (one expression)",
            "testdata/gatekeeper/templates/k8sallowedrepos-cel-and-rego.yaml",
            "testdata/gatekeeper/constraints/allowed-repos.yaml",
        ),
    ] {
        let rego = load(template, constraint, TemplateEngine::Rego);
        let cel = load(template, constraint, TemplateEngine::Cel);
        let (mut r, mut c) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            // Alternate which engine goes first.
            let ((rt, rv), (ct, cv)) = if rep % 2 == 0 {
                let a = round(&rego, &subjects);
                (a, round(&cel, &subjects))
            } else {
                let b = round(&cel, &subjects);
                (round(&rego, &subjects), b)
            };
            let denied = |v: &[usize]| v.iter().map(|n| *n > 0).collect::<Vec<_>>();
            assert_eq!(denied(&rv), denied(&cv), "{name}: the engines disagree");
            r.push(rt.as_secs_f64() * 1e6 / n as f64);
            c.push(ct.as_secs_f64() * 1e6 / n as f64);
        }
        let (rm, cm) = (median(r), median(c));
        println!("{name:34} {rm:10.1} {cm:10.1} {:9.2}", cm / rm);
    }
}
