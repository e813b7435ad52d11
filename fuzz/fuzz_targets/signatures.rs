//! Signature material from registries: Sigstore bundles (message signatures and DSSE), PEM
//! certificates, keyless signature layers, trusted roots. Refusals are fine; panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policyctl::supply::{bundle, keyless};
use std::sync::OnceLock;

fn roots() -> &'static (bundle::TrustedRoot, keyless::TrustRoot) {
    static R: OnceLock<(bundle::TrustedRoot, keyless::TrustRoot)> = OnceLock::new();
    R.get_or_init(|| {
        (
            bundle::production_root().unwrap(),
            keyless::TrustRoot::production().unwrap(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (bundle_root, keyless_root) = roots();
    match sel % 4 {
        0 => {
            let _ = bundle::verify(
                &text,
                bundle::Subject::Bytes(b"fuzz"),
                &bundle::Signer::AnyIdentity { skip_sct: false },
                bundle_root,
            );
        }
        1 => {
            let _ = keyless::certificates(&text);
        }
        2 => {
            let layer = keyless::KeylessLayer {
                payload: b"{}",
                signature: "MEUCIQ==",
                certificate: Some(&text),
                bundle: Some(&text),
            };
            let _ = keyless::verify(&layer, keyless_root, &[], false);
        }
        _ => {
            let _ = bundle::trusted_root(&text);
            let _ = keyless::TrustRoot::from_trusted_root_json("fuzz", &text);
        }
    }
});
