//! `cargo bench --bench check`: `policyctl check` over 10,000 generated Kubernetes manifests with
//! the built-in library (or `BENCH_POLICIES=benches/corpus/ordinary`), side by side with a raw regorus baseline (prepared engine, clone per
//! document, `eval_rule` per rule, the same documents already in memory, the same thread count,
//! no output), at 1 and 2 threads. Prints medians, ratios and policyctl's peak RSS.
//!
//! Environment: BENCH_DOCS (default 10000), BENCH_REPS (default 5), BENCH_POLICIES (see
//! `shared/raw.rs`).

#[path = "shared/raw.rs"]
mod raw;

use raw::{bench_policies, raw_engine};
use rayon::prelude::*;
use regorus::{Engine, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn manifest(i: usize) -> String {
    // A mix of kinds and of compliant / non-compliant objects, like a real repository.
    let kind = ["Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"][i % 5];
    let image = if i % 7 == 0 {
        "nginx:latest".to_string()
    } else {
        format!("registry.example.com/team/app-{i}:1.{i}")
    };
    let privileged = i % 11 == 0;
    let container = format!(
        r#"
        - name: app
          image: {image}
          ports: [{{containerPort: 8080}}]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            privileged: {privileged}
            capabilities: {{drop: [ALL]}}
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
          livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}
          readinessProbe: {{httpGet: {{path: /readyz, port: 8080}}}}"#
    );
    let pod_spec = format!(
        "securityContext:\n        runAsNonRoot: true\n        seccompProfile: {{type: RuntimeDefault}}\n      containers:{container}"
    );
    let meta = format!("metadata:\n  name: app-{i}\n  namespace: team-{}\n  labels:\n    app.kubernetes.io/name: app-{i}\n", i % 13);
    match kind {
        "Pod" => format!("apiVersion: v1\nkind: Pod\n{meta}spec:\n  {}\n", pod_spec.replace("\n      ", "\n  ")),
        "Job" => format!("apiVersion: batch/v1\nkind: Job\n{meta}spec:\n  template:\n    spec:\n      {pod_spec}\n"),
        _ => format!("apiVersion: apps/v1\nkind: {kind}\n{meta}spec:\n  replicas: 2\n  template:\n    spec:\n      {pod_spec}\n"),
    }
}

fn generate(dir: &Path, n: usize) -> Vec<serde_json::Value> {
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let text = manifest(i);
        let sub = dir.join(format!("ns-{:02}", i % 50));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("app-{i}.yaml")), &text).unwrap();
        docs.push(serde_yaml::from_str(&text).expect("generated manifest parses"));
    }
    docs
}

fn baseline(
    engine: &Engine,
    rules: &[String],
    docs: &[serde_json::Value],
    threads: usize,
) -> (Duration, usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let start = Instant::now();
    let results: usize = pool.install(|| {
        docs.par_iter()
            .map(|doc| {
                let mut e = engine.clone();
                e.set_input(Value::from(doc.clone()));
                rules
                    .iter()
                    .map(|r| match e.eval_rule(r.clone()).unwrap() {
                        Value::Set(s) => s.len(),
                        _ => 0,
                    })
                    .sum::<usize>()
            })
            .sum()
    });
    (start.elapsed(), results)
}

/// Runs the binary; returns wall time and peak RSS (VmHWM, polled from /proc every 5 ms).
fn policyctl(dir: &Path, threads: usize) -> (Duration, u64) {
    let start = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policyctl"));
    cmd.arg("check");
    for p in bench_policies() {
        cmd.args(["-p", &p]);
    }
    let mut child = cmd
        .args(["--no-fail", "-o", "json", "--threads", &threads.to_string()])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(line) = s.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "policyctl failed: {status}");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (start.elapsed(), peak_kib)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let docs = generate(dir.path(), n);
    let (engine, rules) = raw_engine();
    println!(
        "{n} manifests, {} rules of {:?}, {reps} alternating repetitions per thread count",
        rules.len(),
        bench_policies()
    );
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let (mut raw, mut cli, mut peak) = (Vec::new(), Vec::new(), 0);
        for _ in 0..reps {
            let (t, found) = baseline(&engine, &rules, &docs, threads);
            assert!(found > 0, "the baseline finds violations");
            raw.push(t);
            let (t, kib) = policyctl(dir.path(), threads);
            cli.push(t);
            peak = peak.max(kib);
        }
        let (raw, cli) = (median(raw), median(cli));
        rows.push((threads, raw, cli, peak));
    }
    println!("| threads | raw regorus (median) | policyctl check (median) | ratio check/raw | policyctl manifests/s | raw manifests/s | policyctl peak RSS |");
    println!("|---|---|---|---|---|---|---|");
    for (threads, raw, cli, peak) in &rows {
        println!(
            "| {threads} | {:.3} s | {:.3} s | {:.2} | {:.0} | {:.0} | {:.1} MiB |",
            raw.as_secs_f64(),
            cli.as_secs_f64(),
            cli.as_secs_f64() / raw.as_secs_f64(),
            n as f64 / cli.as_secs_f64(),
            n as f64 / raw.as_secs_f64(),
            *peak as f64 / 1024.0
        );
    }
    println!(
        "2-thread speed-up: policyctl {:.2}x, raw regorus {:.2}x",
        rows[0].2.as_secs_f64() / rows[1].2.as_secs_f64(),
        rows[0].1.as_secs_f64() / rows[1].1.as_secs_f64()
    );
}
