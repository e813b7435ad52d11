//! Differential: the fast YAML reader (src/input/yaml_fast.rs) against serde_yaml on arbitrary
//! text. Where the fast reader answers, serde_yaml must accept the document and give the same
//! JSON; where it does not, nothing is checked (the slow path is the one used).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (fast, reference) = policyctl::input::yaml_readers(text);
    if let Some(fast) = fast {
        match reference {
            Ok(reference) => assert_eq!(fast, reference, "fast reader differs on {text:?}"),
            Err(e) => panic!("fast reader read {fast} where serde_yaml says {e}: {text:?}"),
        }
    }
});
