//! JSON-family inputs (plain JSON, Terraform plans, CycloneDX and SPDX SBOMs) and TOML.

use super::{expand_list, resource_of, Document, ParseError};
use serde_json::Value as Json;

fn json_value(text: &str, what: &str) -> Result<Json, ParseError> {
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg
            .rsplit_once(" at line ")
            .map_or(msg.as_str(), |(m, _)| m);
        ParseError::new(
            e.line(),
            format!("invalid {what}: {msg} (column {})", e.column()),
        )
    })
}

/// A JSON file is one document (a `kind: List` object expands into its items).
pub(super) fn json_documents(file: &str, text: &str) -> Result<Vec<Document>, ParseError> {
    let value = json_value(text, "JSON")?;
    Ok(expand_list(value, 1, &[])
        .into_iter()
        .map(|(line, contents)| Document {
            file: file.to_string(),
            line,
            resource: resource_of(&contents),
            contents,
            anchors: Vec::new(),
        })
        .collect())
}

/// `terraform show -json` output; checked for the fields every plan has.
pub(super) fn terraform_plan(text: &str) -> Result<Json, ParseError> {
    let value = json_value(text, "Terraform plan JSON")?;
    let is_plan = value.get("format_version").is_some()
        && (value.get("planned_values").is_some() || value.get("resource_changes").is_some());
    if !is_plan {
        return Err(ParseError::new(
            1,
            "not a Terraform plan: expected `format_version` and `planned_values` or `resource_changes` \
             (produce one with `terraform show -json plan.out`)",
        ));
    }
    Ok(value)
}

pub(super) fn cyclonedx(text: &str) -> Result<Json, ParseError> {
    let value = json_value(text, "CycloneDX JSON")?;
    if value.get("bomFormat").and_then(Json::as_str) != Some("CycloneDX") {
        return Err(ParseError::new(
            1,
            "not a CycloneDX BOM: expected \"bomFormat\": \"CycloneDX\"",
        ));
    }
    Ok(value)
}

pub(super) fn spdx(text: &str) -> Result<Json, ParseError> {
    let value = json_value(text, "SPDX JSON")?;
    if value.get("spdxVersion").and_then(Json::as_str).is_none() {
        return Err(ParseError::new(
            1,
            "not an SPDX document: expected a \"spdxVersion\" field",
        ));
    }
    Ok(value)
}

pub(super) fn toml(text: &str) -> Result<Json, ParseError> {
    let value: toml::Value = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0);
        ParseError::new(line, format!("invalid TOML: {}", e.message()))
    })?;
    Ok(toml_to_json(value))
}

fn toml_to_json(value: toml::Value) -> Json {
    match value {
        toml::Value::String(s) => Json::String(s),
        toml::Value::Integer(i) => Json::Number(i.into()),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Json::String(f.to_string()), Json::Number),
        toml::Value::Boolean(b) => Json::Bool(b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(a) => Json::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Json::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_carry_line() {
        let err = json_documents("a.json", "{\n  \"a\": 1,\n  oops\n}").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn deep_json_is_refused() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = json_documents("d.json", &text).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err:?}");
    }

    #[test]
    fn toml_datetimes_become_strings() {
        let v = toml("[server]\nport = 8080\nat = 1979-05-27T07:32:00Z\n").unwrap();
        assert_eq!(v["server"]["port"], 8080);
        assert_eq!(v["server"]["at"], "1979-05-27T07:32:00Z");
    }

    #[test]
    fn toml_error_line() {
        assert_eq!(toml("a = 1\nb = = 2\n").unwrap_err().line, 2);
    }
}
