//! Reading a ConstraintTemplate's `K8sNativeValidation` source (Gatekeeper's
//! `pkg/drivers/k8scel/schema.Source`) strictly, and compiling every expression in it; each
//! error is placed on the line of the expression, or of the field, it is about.

use super::{
    compile, Expression, Scope, Validation, Validator, ANY_OBJECT, PARAMS, RESERVED_PREFIX,
};
use crate::finding::ToolError;
use crate::strict::Origin;
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeSet;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SourceDoc {
    #[serde(default)]
    validations: Vec<ValidationDoc>,
    #[serde(default)]
    failure_policy: Option<String>,
    /// Gatekeeper's JSON name is singular (`json:"matchCondition"`).
    #[serde(default)]
    match_condition: Vec<NamedDoc>,
    #[serde(default)]
    variables: Vec<NamedDoc>,
    /// Whether Gatekeeper generates a ValidatingAdmissionPolicy: nothing to policyctl.
    #[serde(default, rename = "generateVAP")]
    #[allow(dead_code)]
    generate_vap: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValidationDoc {
    #[serde(default)]
    expression: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    message_expression: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedDoc {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expression: String,
}

/// Compiles the source at `at` (a dotted path such as `spec.targets[0].code[1].source`).
pub fn compile_source(
    source: &Json,
    origin: &Origin,
    at: &str,
    what: &str,
) -> Result<Validator, ToolError> {
    if source.get("matchConditions").is_some() {
        return Err(origin.error(
            &format!("{at}.matchConditions"),
            format!(
                "{what}: Gatekeeper reads match conditions from `matchCondition` (singular) and \
                 ignores `matchConditions`, so these would never apply — rename the field"
            ),
        ));
    }
    let doc: SourceDoc = if source.is_null() {
        SourceDoc::default()
    } else {
        let wrapped = serde_json::json!({ "apiVersion": "", "kind": "", "spec": source });
        let typed: crate::strict::Manifest<SourceDoc> =
            origin.read(&wrapped, what).map_err(|e| {
                ToolError::new(
                    e.file.as_str(),
                    e.line,
                    e.message.replace("spec.", &format!("{at}.")),
                )
            })?;
        typed.spec
    };
    let fail_closed = match doc.failure_policy.as_deref() {
        None | Some("Fail") => true,
        Some("Ignore") => false,
        Some(other) => {
            return Err(origin.error(
                &format!("{at}.failurePolicy"),
                format!("{what}: failurePolicy {other:?} is not Fail or Ignore"),
            ))
        }
    };
    if doc.validations.is_empty() {
        return Err(origin.error(
            &format!("{at}.validations"),
            format!(
                "{what}: the {} source has no validations, so it would never deny anything",
                super::ENGINE
            ),
        ));
    }
    let expr = |field: String,
                text: &str,
                scope,
                declared: &BTreeSet<String>|
     -> Result<Expression, ToolError> {
        if text.trim().is_empty() {
            return Err(origin.error(&field, format!("{what}: the expression is empty")));
        }
        compile(text, scope, declared).map_err(|(msg, line_in_expr)| {
            let e = origin.error(&field, format!("{what}: {msg}"));
            // A block scalar (`expression: |`) starts on the next line.
            let first = origin
                .text
                .lines()
                .nth(e.line.saturating_sub(1))
                .unwrap_or("");
            let block = first.trim_end().ends_with(['|', '>'])
                || first.trim_end().ends_with("|-")
                || first.trim_end().ends_with(">-");
            let line = e.line + line_in_expr - usize::from(!block);
            ToolError::new(e.file.as_str(), line, e.message)
        })
    };
    let mut declared: BTreeSet<String> = [ANY_OBJECT, PARAMS].map(String::from).into();
    let mut variables = Vec::new();
    for (i, v) in doc.variables.iter().enumerate() {
        let field = format!("{at}.variables[{i}]");
        if v.name.is_empty() {
            return Err(origin.error(
                &format!("{field}.name"),
                format!("{what}: a variable needs a name"),
            ));
        }
        if v.name.starts_with(RESERVED_PREFIX) || v.name == PARAMS || v.name == ANY_OBJECT {
            return Err(origin.error(
                &format!("{field}.name"),
                format!("{what}: variable name {:?} is reserved by Gatekeeper ({PARAMS}, {ANY_OBJECT} and the {RESERVED_PREFIX} prefix)", v.name),
            ));
        }
        if declared.contains(&v.name) {
            return Err(origin.error(
                &format!("{field}.name"),
                format!("{what}: variable {} is declared twice", v.name),
            ));
        }
        let e = expr(
            format!("{field}.expression"),
            &v.expression,
            Scope::Variable,
            &declared,
        )?;
        declared.insert(v.name.clone());
        variables.push((v.name.clone(), e));
    }
    let mut match_conditions = Vec::new();
    for (i, m) in doc.match_condition.iter().enumerate() {
        let field = format!("{at}.matchCondition[{i}]");
        if m.name.is_empty() || m.name.starts_with(RESERVED_PREFIX) {
            return Err(origin.error(
                &format!("{field}.name"),
                format!("{what}: a match condition needs a name that does not start with {RESERVED_PREFIX}"),
            ));
        }
        let e = expr(
            format!("{field}.expression"),
            &m.expression,
            Scope::Validation,
            &declared,
        )?;
        match_conditions.push((m.name.clone(), e));
    }
    let mut validations = Vec::new();
    for (i, v) in doc.validations.iter().enumerate() {
        let field = format!("{at}.validations[{i}]");
        let expression = expr(
            format!("{field}.expression"),
            &v.expression,
            Scope::Validation,
            &declared,
        )?;
        let message_expression = if v.message_expression.trim().is_empty() {
            None
        } else {
            Some(expr(
                format!("{field}.messageExpression"),
                &v.message_expression,
                Scope::Validation,
                &declared,
            )?)
        };
        validations.push(Validation {
            expression,
            message: (!v.message.is_empty()).then(|| v.message.clone()),
            message_expression,
        });
    }
    Ok(Validator {
        variables,
        match_conditions,
        validations,
        fail_closed,
    })
}
