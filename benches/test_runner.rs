//! `cargo bench --bench test_runner`: `policyctl test` over a generated suite of 2,000 Rego test
//! rules at 1 and 2 threads (the release binary, end to end), and the time to load 50
//! ConstraintTemplates (in process: parse, compile each template's engine, prepare).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PACKAGES: usize = 20;
const TESTS_PER_PACKAGE: usize = 100;

fn generate_tests(dir: &Path) {
    for p in 0..PACKAGES {
        let mut policy = format!(
            "package gen.p{p}\nimport rego.v1\n\ndeny contains msg if {{\n\tsome c in input.spec.containers\n\tnot startswith(c.image, \"registry.example.com/\")\n\tmsg := sprintf(\"%s: bad image %s\", [input.metadata.name, c.image])\n}}\n\nlimit := {p}\n"
        );
        let mut tests = format!("package gen.p{p}\nimport rego.v1\n\n");
        for t in 0..TESTS_PER_PACKAGE {
            let image = if t % 2 == 0 {
                "registry.example.com/app:1"
            } else {
                "docker.io/x:1"
            };
            let expected = if t % 2 == 0 { 0 } else { 1 };
            tests.push_str(&format!(
                "test_case_{t} if {{\n\tcount(deny) == {expected} with input as {{\"metadata\": {{\"name\": \"w{t}\"}}, \"spec\": {{\"containers\": [{{\"name\": \"c\", \"image\": \"{image}\"}}]}}}}\n}}\n\n"
            ));
        }
        policy.push('\n');
        std::fs::write(dir.join(format!("p{p}.rego")), policy).unwrap();
        std::fs::write(dir.join(format!("p{p}_test.rego")), tests).unwrap();
    }
}

fn run_tests(dir: &Path, threads: usize) -> Duration {
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_policyctl"))
        .args(["test", "-o", "json", "--threads", &threads.to_string()])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "all generated tests pass");
    start.elapsed()
}

fn templates(n: usize) -> Vec<policyctl::policy::Source> {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/gatekeeper/templates/k8srequiredlabels.yaml"
    ))
    .unwrap();
    (0..n)
        .map(|i| policyctl::policy::Source {
            path: format!("t{i}.yaml"),
            text: base
                .replace(
                    "name: k8srequiredlabels",
                    &format!("name: k8srequiredlabels{i}"),
                )
                .replace(
                    "kind: K8sRequiredLabels",
                    &format!("kind: K8sRequiredLabels{i}"),
                )
                .replace(
                    "package k8srequiredlabels",
                    &format!("package k8srequiredlabels{i}"),
                ),
            builtin: false,
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    generate_tests(dir.path());
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        one.push(run_tests(dir.path(), 1));
        two.push(run_tests(dir.path(), 2));
    }
    let (one, two) = (median(one), median(two));
    let n = PACKAGES * TESTS_PER_PACKAGE;
    println!(
        "policyctl test, {n} test rules in {PACKAGES} packages ({reps} alternating runs, medians):"
    );
    println!("| threads | wall time | tests/s |");
    println!("|---|---|---|");
    println!(
        "| 1 | {:.3} s | {:.0} |",
        one.as_secs_f64(),
        n as f64 / one.as_secs_f64()
    );
    println!(
        "| 2 | {:.3} s | {:.0} |",
        two.as_secs_f64(),
        n as f64 / two.as_secs_f64()
    );
    println!(
        "2-thread speed-up: {:.2}x",
        one.as_secs_f64() / two.as_secs_f64()
    );

    let sources = templates(50);
    let mut loads = Vec::new();
    for _ in 0..reps {
        let start = Instant::now();
        let (set, errors) = policyctl::policy::load(sources.clone(), &Default::default());
        loads.push(start.elapsed());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(set.gatekeeper.templates.len(), 50);
    }
    let load = median(loads);
    println!(
        "load 50 ConstraintTemplates: {:.1} ms median ({:.2} ms per template)",
        load.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3 / 50.0
    );
}
