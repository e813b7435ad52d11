//! `cargo bench --bench supply`: image verification against a real `docker-registry` on
//! loopback — cached verdict lookup latency, one cold verification (signature + SBOM
//! attestation) with its registry request count, and 100 concurrent checks of one uncached
//! image (how many verifications they cause).

#[path = "../tests/common/oci.rs"]
mod oci;

use oci::{Key, Pusher, TestRegistry};
use policyctl::supply::verify::{Verdict, Verifier};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn verifier(reg: &str, key: &Key) -> Arc<Verifier> {
    oci::key_verifier(
        reg,
        &key.public_pem,
        json!([{"name": "sbom", "predicateType": "cyclonedx"}]),
    )
}

/// A verifier with one keyless policy (no trustRootRef: the embedded public-good root) that
/// requires the real production attestation's signer and predicate type.
fn keyless_verifier(reg: &str) -> Arc<Verifier> {
    let doc = json!({
        "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "keyless"},
        "spec": {"images": [{"glob": "**"}], "authorities": [{"name": "cody", "keyless": {
            "identities": [{"issuer": "https://github.com/login/oauth", "subject": "cody@soyland.com"}]},
            "attestations": [{"name": "custom", "predicateType": "https://cosign.sigstore.dev/attestation/v1"}]}]},
    });
    let policy = policyctl::supply::policy::image_policy(&doc, "bench", "", 1).unwrap();
    let registry =
        policyctl::supply::registry::Registry::new(&policyctl::supply::registry::RegistryOptions {
            insecure: vec![reg.to_string()],
        });
    Arc::new(Verifier::new(
        registry,
        vec![policy],
        &policyctl::supply::verify::VerifierOptions::default(),
    ))
}

/// Cold and cached keyless verification of a production cosign v3 attestation bundle
/// (testdata/sigstore-real/oci/cosign-attest-empty-image) pushed as an OCI referrer.
fn keyless(rt: &tokio::runtime::Runtime, reg: &TestRegistry) {
    let art = std::path::Path::new("testdata/sigstore-real/oci/cosign-attest-empty-image");
    let read = |f: &str| std::fs::read(art.join(f)).unwrap();
    let p = Pusher::new(&reg.addr);
    p.blob("real/empty", &read("config.json"));
    let digest = p.manifest_bytes(
        "real/empty",
        "1",
        read("manifest.json"),
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    let bundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
    p.referrers(
        "real/empty",
        &digest,
        read("manifest.json").len(),
        &[(bundle, bundle, read("bundle.sigstore.json"))],
    );
    let image = reg.image("real/empty", "1");
    let mut cold = Vec::new();
    let mut requests = 0;
    for _ in 0..11 {
        let v = keyless_verifier(&reg.addr);
        let start = Instant::now();
        let verdict = rt.block_on(v.verify(&image));
        cold.push(start.elapsed());
        assert_eq!(verdict.verdict, Verdict::Allow, "{verdict:?}");
        requests = v.registry().requests();
    }
    println!(
        "cold keyless verification (tag resolve + bundle referrer + sigstore-verify, public-good root): median {:.2} ms, {} registry requests",
        pct(&mut cold, 0.5).as_secs_f64() * 1e3,
        requests
    );
    let v = keyless_verifier(&reg.addr);
    assert_eq!(rt.block_on(v.verify(&image)).verdict, Verdict::Allow);
    let mut lat = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let start = Instant::now();
        let verdict = rt.block_on(v.verify(&image));
        lat.push(start.elapsed());
        assert_eq!(verdict.verdict, Verdict::Allow);
    }
    println!(
        "cached keyless verdict lookup by tag: median {:.1} µs, p99 {:.1} µs (10,000 lookups, {} verification(s))",
        pct(&mut lat, 0.5).as_secs_f64() * 1e6,
        pct(&mut lat, 0.99).as_secs_f64() * 1e6,
        v.verifications()
    );
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let digest = p.image("bench/app", "1", "bench");
    p.sign("bench/app", &digest, &key);
    let st = oci::statement("https://cyclonedx.org/bom", &digest, oci::cyclonedx());
    p.attestations(
        "bench/app",
        &digest,
        &[oci::envelope(&st, "https://cyclonedx.org/bom", &|m| {
            key.sign(m)
        })],
    );
    let image = reg.image("bench/app", "1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    keyless(&rt, &reg);

    // Cold: a fresh verifier each time (empty caches).
    let mut cold = Vec::new();
    let mut requests = 0;
    for _ in 0..21 {
        let v = verifier(&reg.addr, &key);
        let start = Instant::now();
        let verdict = rt.block_on(v.verify(&image));
        cold.push(start.elapsed());
        assert_eq!(verdict.verdict, Verdict::Allow);
        requests = v.registry().requests();
    }
    println!("cold verification (tag resolve + signature + SBOM attestation): median {:.2} ms, {} registry requests", pct(&mut cold, 0.5).as_secs_f64() * 1e3, requests);

    // Coalescing: 100 concurrent checks of one uncached image.
    let v = verifier(&reg.addr, &key);
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let v = v.clone();
                let i = image.clone();
                tokio::spawn(async move { v.verify(&i).await })
            })
            .collect();
        for t in futures::future::join_all(tasks).await {
            assert_eq!(t.unwrap().verdict, Verdict::Allow);
        }
    });
    println!("100 concurrent checks of one uncached image: {} verification(s), {} registry requests, {:.2} ms total", v.verifications(), v.registry().requests(), start.elapsed().as_secs_f64() * 1e3);

    // Cached lookups: by digest (no tag resolution) and by tag (tag cache), each timed alone.
    let by_digest = format!("{}/bench/app@{digest}", reg.addr);
    for (label, reference) in [("digest", &by_digest), ("tag", &image)] {
        let mut lat = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let start = Instant::now();
            let verdict = rt.block_on(v.verify(reference));
            lat.push(start.elapsed());
            assert_eq!(verdict.verdict, Verdict::Allow);
        }
        println!(
            "cached verdict lookup by {label}: median {:.1} µs, p99 {:.1} µs (10,000 lookups, {} verifications in total)",
            pct(&mut lat, 0.5).as_secs_f64() * 1e6,
            pct(&mut lat, 0.99).as_secs_f64() * 1e6,
            v.verifications()
        );
    }
}
