//! Gatekeeper CEL (`K8sNativeValidation`): an arbitrary expression compiled as a validation
//! (load-time checks, depth and size limits) and evaluated against an arbitrary object under
//! the cost limit — a template author's typo or an attacker's object must give an answer,
//! never a panic, a stack overflow or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policyctl::cel::{compile, Bindings, Scope, Validation, Validator};
use serde_json::Value as Json;
use std::collections::BTreeSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // "expression\0object JSON"
    let (expr, object) = text.split_once('\0').unwrap_or((text, "{}"));
    let declared: BTreeSet<String> = ["anyObject", "params"].map(String::from).into();
    let Ok(expression) = compile(expr, Scope::Validation, &declared) else { return };
    let object: Json = serde_json::from_str(object).unwrap_or(Json::Null);
    let validator = Validator {
        variables: Vec::new(),
        match_conditions: Vec::new(),
        validations: vec![Validation { expression, message: None, message_expression: None }],
        fail_closed: true,
    };
    let request = serde_json::json!({"operation": "CREATE", "object": object});
    let constraint = serde_json::json!({"spec": {"parameters": {"list": [1, "a"], "s": "x"}}});
    let null = Json::Null;
    let _ = validator.evaluate(&Bindings {
        object: &object,
        old_object: &null,
        request: &request,
        constraint: &constraint,
        namespace_object: None,
    });
});
