//! Configuration documents as `-p` loads them: ClusterImagePolicy, TrustRoot,
//! ConstraintTemplate (its Rego compiled), Constraint — strict reading with file:line errors.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policyctl::policy::{self, LoadOptions, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Only documents that look like policy documents are read as such (as from a directory).
    let text = if text.contains("gatekeeper.sh/") || text.contains("policy.sigstore.dev/") {
        text.to_string()
    } else {
        format!("apiVersion: policy.sigstore.dev/v1beta1\n{text}")
    };
    let source = Source { path: "fuzz.yaml".into(), text, builtin: false };
    let _ = policy::load(vec![source], &LoadOptions::default());
});
