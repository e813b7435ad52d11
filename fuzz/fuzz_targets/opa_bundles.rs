//! OPA bundles (`.tar.gz`) as `-p bundle.tar.gz` reads them, and the canonical JSON hasher
//! `.signatures.json` verification uses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policyctl::remote::bundle;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    if sel % 2 == 0 {
        let _ = bundle::read("fuzz.tar.gz", rest, None, "");
    } else {
        let _ = bundle::hash_file("data.json", rest, "SHA-256");
        let _ = bundle::hash_file(".manifest", rest, "SHA-512");
    }
});
