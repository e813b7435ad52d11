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

/// JSONC: `//` and `/* */` comments outside strings become spaces (newlines kept), so the JSON
/// parser's line and column still point into the original file. An unterminated block comment
/// is left in place, for the JSON parser to report where it starts.
pub(super) fn strip_json_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            in_string = c != b'"';
            i += 1;
            continue;
        }
        match (c, b.get(i + 1)) {
            (b'"', _) => {
                in_string = true;
                out.push(c);
                i += 1;
            }
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => match text[i + 2..].find("*/") {
                Some(end) => {
                    for &x in &b[i..i + 2 + end + 2] {
                        out.push(if x == b'\n' { b'\n' } else { b' ' });
                    }
                    i += 2 + end + 2;
                }
                None => {
                    out.extend_from_slice(&b[i..]);
                    i = b.len();
                }
            },
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Only ASCII bytes were replaced, and only outside strings: still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod jsonc_tests {
    use super::*;

    #[test]
    fn comments_are_blanked_and_lines_kept() {
        let text = "{\n  // a comment with \"quotes\"\n  \"a\": \"x // not a comment\", /* block\n spanning */ \"b\": 1\n}\n";
        let stripped = strip_json_comments(text);
        assert_eq!(stripped.lines().count(), text.lines().count());
        let v: Json = serde_json::from_str(&stripped).unwrap();
        assert_eq!(v["a"], "x // not a comment");
        assert_eq!(v["b"], 1);
        let err = json_value(&strip_json_comments("{\n// c\n\"a\": ,\n}"), "JSON").unwrap_err();
        assert_eq!(err.line, 3, "{err:?}");
    }
}
