//! `cargo bench --bench webhook` (needs `wrk`, `docker-registry`; scripts/install-test-deps.sh
//! and `apt-get install wrk`): the webhook under HTTPS keep-alive load, side by side in one run
//! with (a) a trivial axum+rustls server that allows everything (the HTTP/TLS ceiling) and
//! (b) the raw regorus evaluation rate of the same policies on the same object (the
//! evaluation ceiling). The webhook runs the built-in library plus an image policy whose
//! verdict is cached (the image is signed on a loopback registry and warmed once).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "shared/raw.rs"]
mod raw;

use common::oci::{self, Key, Pusher, TestRegistry};
use common::webhook::{review, Webhook};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 8;
const SECONDS: u64 = 10;

struct Load {
    rps: f64,
    /// wrk's "Latency Distribution" lines.
    distribution: String,
    p50_ms: f64,
    p99_ms: f64,
}

fn ms(s: &str) -> f64 {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("us") {
        v.parse::<f64>().unwrap_or(f64::NAN) / 1000.0
    } else if let Some(v) = s.strip_suffix("ms") {
        v.parse().unwrap_or(f64::NAN)
    } else if let Some(v) = s.strip_suffix('s') {
        v.parse::<f64>().unwrap_or(f64::NAN) * 1000.0
    } else {
        f64::NAN
    }
}

fn wrk(url: &str, body_file: &std::path::Path) -> Load {
    let script = body_file.with_extension("lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nlocal f = io.open(\"{}\", \"r\")\nwrk.body = f:read(\"*a\")\nf:close()\n",
            body_file.display()
        ),
    )
    .unwrap();
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let find = |prefix: &str| -> String {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| {
                l.trim_start()[prefix.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default()
    };
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    let distribution = text
        .lines()
        .skip_while(|l| !l.contains("Latency Distribution"))
        .skip(1)
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    Load {
        distribution,
        rps: find("Requests/sec:").parse().unwrap_or(0.0),
        p50_ms: ms(&find("50%")),
        p99_ms: ms(&find("99%")),
    }
}

fn vm_hwm_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// (a) An axum + rustls server that parses the AdmissionReview and allows it.
fn allow_all(
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    port: u16,
) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.spawn(async move {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .unwrap();
        let app = axum::Router::new().route(
            "/validate",
            axum::routing::post(|body: axum::body::Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                axum::Json(
                    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                  "response": {"uid": v["request"]["uid"], "allowed": true}}),
                )
            }),
        );
        // The same acceptor as `policyctl serve` (TLS over TCP_NODELAY).
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
            .acceptor(axum_server::accept::NoDelayAcceptor::new());
        axum_server::bind(([127, 0, 0, 1], port).into())
            .acceptor(acceptor)
            .serve(app.into_make_service())
            .await
            .unwrap();
    });
    rt
}

/// (b) The raw regorus rates on 2 threads: the interpreter (prepared engine, clone, `eval_rule`
/// per rule) and the compiled RVM path (one entry rule gathering every rule, a fresh VM per
/// evaluation), which is what policyctl runs for this library.
fn raw_regorus(object: &Value) -> (f64, f64) {
    let (mut engine, rules) = raw::raw_engine();
    let input = regorus::Value::from(object.clone());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let n = 20_000;
    let start = Instant::now();
    pool.install(|| {
        (0..n).into_par_iter().for_each(|_| {
            let mut e = engine.clone();
            e.set_input(input.clone());
            for r in &rules {
                let _ = e.eval_rule(r.clone()).unwrap();
            }
        })
    });
    let interpreter = n as f64 / start.elapsed().as_secs_f64();

    let entry = "data.raw_batch.all";
    let slots: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| format!("\"r{i}\": [v | v := {r}]"))
        .collect();
    engine
        .add_policy(
            "raw_batch.rego".into(),
            format!(
                "package raw_batch\nimport rego.v1\nall := {{{}}}\n",
                slots.join(",\n\t")
            ),
        )
        .unwrap();
    let compiled = engine.compile_with_entrypoint(&entry.into()).unwrap();
    let program =
        regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[entry])
            .unwrap();
    let n = 50_000;
    let start = Instant::now();
    pool.install(|| {
        (0..n).into_par_iter().for_each(|_| {
            let mut vm = regorus::rvm::RegoVM::new_with_policy(compiled.clone());
            vm.load_program(program.clone());
            vm.set_max_instructions(usize::MAX);
            vm.set_input(input.clone());
            let _ = vm.execute().unwrap();
        })
    });
    (interpreter, n as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let digest = p.image("bench/web", "1", "bench");
    p.sign("bench/web", &digest, &key);
    let policy_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        policy_dir.path().join("cip.yaml"),
        oci::key_policy_yaml("signed", "127.0.0.1:*/**", "enforce", &key.public_pem),
    )
    .unwrap();
    let policies = raw::bench_policies();
    let mut args: Vec<&str> = Vec::new();
    for p in &policies {
        args.extend(["-p", p.as_str()]);
    }
    args.extend([
        "-p",
        policy_dir.path().to_str().unwrap(),
        "--insecure-registry",
        &reg.addr,
    ]);
    let w = Webhook::start(&args);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // An object the policies allow: the library's fixture, or the corpus's own.
    let object_file = if policies == ["builtin"] {
        root.join("testdata/k8s/allowed/deployment.yaml")
    } else {
        root.join("benches/corpus/deployment.yaml")
    };
    let mut object: Value =
        serde_yaml::from_str(&std::fs::read_to_string(object_file).unwrap()).unwrap();
    object["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!(reg.image("bench/web", "1"));
    let body = review("CREATE", Some(&object), None, false);
    let (_, warm) = w.review(&body);
    assert_eq!(
        warm["response"]["allowed"], true,
        "the benchmark object is allowed: {warm:#}"
    );
    let body_file = w.dir.path().join("review.json");
    std::fs::write(&body_file, serde_json::to_vec(&body).unwrap()).unwrap();

    let trivial_port = oci::free_port();
    let trivial = allow_all(
        w.dir.path().join("tls.crt"),
        w.dir.path().join("tls.key"),
        trivial_port,
    );
    std::thread::sleep(Duration::from_millis(300));
    let trivial_url = format!("https://127.0.0.1:{trivial_port}/validate");
    let webhook_url = w.url("/validate?timeout=10s");

    // Alternate, so drift on this noisy machine hits both alike; medians of 3.
    let (mut hook, mut ceil) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        hook.push(wrk(&webhook_url, &body_file));
        ceil.push(wrk(&trivial_url, &body_file));
    }
    drop(trivial);
    let (raw, raw_rvm) = raw_regorus(&object);
    let rss = vm_hwm_mib(w.pid());
    let median = |v: &mut Vec<Load>| {
        v.sort_by(|a, b| a.rps.total_cmp(&b.rps));
        v.remove(v.len() / 2)
    };
    let (hook, ceil) = (median(&mut hook), median(&mut ceil));
    let floor = ceil.rps.min(raw);
    let floor_rvm = ceil.rps.min(raw_rvm);
    println!("{CONNECTIONS} connections, HTTPS keep-alive, {SECONDS}s per run, medians of 3 alternating runs");
    println!("| server | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| policyctl serve ({policies:?} + cached image verdict) | {:.0} | {:.2} ms | {:.2} ms |",
        hook.rps, hook.p50_ms, hook.p99_ms
    );
    println!(
        "| (a) trivial axum+rustls allow-all | {:.0} | {:.2} ms | {:.2} ms |",
        ceil.rps, ceil.p50_ms, ceil.p99_ms
    );
    println!(
        "| (b) raw regorus interpreter, same policies and object, 2 threads | {raw:.0} evaluations/s | | |"
    );
    println!(
        "| (b') raw regorus RVM (compiled batch), same policies and object, 2 threads | {raw_rvm:.0} evaluations/s | | |"
    );
    println!(
        "webhook / min(a, b) = {:.2}; webhook / min(a, b') = {:.2}; p99 {:.2} ms; webhook peak RSS {rss:.1} MiB",
        hook.rps / floor,
        hook.rps / floor_rvm,
        hook.p99_ms
    );
    println!(
        "webhook latency distribution (median run):\n{}",
        hook.distribution
    );
}
