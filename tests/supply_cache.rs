//! Verdict caching and coalescing, through the library API against the real registry: 100
//! concurrent checks of one uncached image run one verification; cached verdicts need no
//! registry request; faults are not cached.

mod common;
use common::oci::{self, Key, Pusher, TestRegistry};
use policyctl::supply::verify::{Verdict, Verifier};
use serde_json::json;
use std::sync::Arc;

fn verifier(reg: &str, key: &Key) -> Arc<Verifier> {
    oci::key_verifier(reg, &key.public_pem, json!([]))
}

#[test]
fn concurrent_checks_of_one_image_coalesce_into_one_verification() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let digest = p.image("c/app", "1", "coalesce");
    p.sign("c/app", &digest, &key);
    let v = verifier(&reg.addr, &key);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let image = reg.image("c/app", "1");
    let verdicts = rt.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let v = v.clone();
                let image = image.clone();
                tokio::spawn(async move { v.verify(&image).await })
            })
            .collect();
        futures::future::join_all(tasks).await
    });
    assert!(verdicts
        .iter()
        .all(|r| r.as_ref().unwrap().verdict == Verdict::Allow));
    assert_eq!(
        v.verifications(),
        1,
        "one verification for 100 concurrent checks"
    );
    let cold_requests = v.registry().requests();
    assert!(
        cold_requests <= 4,
        "resolve + .sig manifest + blob: {cold_requests}"
    );
    // Cached: no more verifications, and by digest no registry request at all.
    let again = rt.block_on(v.verify(&format!("{}/c/app@{digest}", reg.addr)));
    assert_eq!(again.verdict, Verdict::Allow);
    assert_eq!(v.verifications(), 1);
    assert_eq!(v.registry().requests(), cold_requests);
}

#[test]
fn faults_are_not_cached() {
    let key = Key::generate();
    let down = format!("127.0.0.1:{}", oci::free_port());
    let v = verifier(&down, &key);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let image = format!("{down}/app@sha256:{}", "2".repeat(64));
    let first = rt.block_on(v.verify(&image));
    assert_eq!(first.verdict, Verdict::Deny);
    assert!(
        first.policies[0].reasons[0].contains("cannot read signatures from registry"),
        "{first:?}"
    );
    let _ = rt.block_on(v.verify(&image));
    assert_eq!(v.verifications(), 2, "a fault is retried, not remembered");
}
