//! HCL2 (Terraform `.tf`, `.tfvars`, `.hcl`) in conftest's document shape: block labels nest as
//! objects and every block body is appended to a list (`resource.aws_s3_bucket.b[0].acl`);
//! expressions that are not literals are kept as their source wrapped in `${...}`.

use super::ParseError;
use hcl::{Body, Expression, ObjectKey, Structure, TemplateExpr};
use serde_json::{Map, Value as Json};

pub(super) fn parse(text: &str) -> Result<Json, ParseError> {
    let body = hcl::parse(text).map_err(|e| match &e {
        hcl::Error::Parse(p) => ParseError::new(
            p.location().line(),
            format!(
                "invalid HCL at column {}: {}",
                p.location().column(),
                p.message()
            ),
        ),
        other => ParseError::new(0, format!("invalid HCL: {other}")),
    })?;
    Ok(Json::Object(body_to_json(body)))
}

/// The line of every top-level block, under the addresses a policy message names it by:
/// `aws_s3_bucket.site` and `resource.aws_s3_bucket.site` for a resource, `data.x.y`,
/// `module.vpc`, `variable.region`, … (hcl-edit keeps the spans hcl-rs drops).
pub(super) fn block_lines(text: &str) -> Vec<(String, usize)> {
    use hcl_edit::Span;
    let Ok(body) = hcl_edit::parser::parse_body(text) else {
        return Vec::new();
    };
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let mut out = Vec::new();
    for structure in body.iter() {
        let Some(block) = structure.as_block() else {
            continue;
        };
        let Some(span) = block.span() else {
            continue;
        };
        let line = line_of(span.start);
        let ident = block.ident.as_str().to_string();
        let labels: Vec<String> = block
            .labels
            .iter()
            .map(|l| match l {
                hcl_edit::structure::BlockLabel::Ident(i) => i.as_str().to_string(),
                hcl_edit::structure::BlockLabel::String(s) => s.as_str().to_string(),
            })
            .collect();
        let mut full = vec![ident.clone()];
        full.extend(labels.iter().cloned());
        out.push((full.join("."), line));
        if ident == "resource" && !labels.is_empty() {
            out.push((labels.join("."), line));
        }
    }
    out
}

fn body_to_json(body: Body) -> Map<String, Json> {
    let mut out = Map::new();
    for structure in body {
        match structure {
            Structure::Attribute(attr) => {
                out.insert(attr.key.to_string(), expr_to_json(attr.expr));
            }
            Structure::Block(block) => {
                let value = Json::Object(body_to_json(block.body));
                let mut keys: Vec<String> = vec![block.identifier.to_string()];
                keys.extend(block.labels.iter().map(|l| l.as_str().to_string()));
                insert_block(&mut out, &keys, value);
            }
        }
    }
    out
}

fn insert_block(out: &mut Map<String, Json>, keys: &[String], value: Json) {
    let (last, parents) = keys.split_last().expect("a block always has an identifier");
    let mut cursor = out;
    for key in parents {
        let entry = cursor
            .entry(key.clone())
            .or_insert_with(|| Json::Object(Map::new()));
        if !entry.is_object() {
            // An attribute and a block share a name; keep both rather than lose one.
            let previous = std::mem::replace(entry, Json::Object(Map::new()));
            if let Json::Object(m) = entry {
                m.insert("_value".into(), previous);
            }
        }
        cursor = match entry {
            Json::Object(m) => m,
            _ => unreachable!("made an object just above"),
        };
    }
    match cursor.get_mut(last) {
        Some(Json::Array(list)) => list.push(value),
        Some(existing) => {
            let previous = existing.take();
            *existing = Json::Array(vec![previous, value]);
        }
        None => {
            cursor.insert(last.clone(), Json::Array(vec![value]));
        }
    }
}

fn expr_to_json(expr: Expression) -> Json {
    match expr {
        Expression::Null => Json::Null,
        Expression::Bool(b) => Json::Bool(b),
        Expression::Number(n) => serde_json::to_value(n).unwrap_or(Json::Null),
        Expression::String(s) => Json::String(s),
        Expression::Array(items) => Json::Array(items.into_iter().map(expr_to_json).collect()),
        Expression::Object(obj) => Json::Object(
            obj.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        ObjectKey::Identifier(id) => id.to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s,
                        ObjectKey::Expression(e) => e.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, expr_to_json(v))
                })
                .collect(),
        ),
        Expression::TemplateExpr(t) => Json::String(match *t {
            TemplateExpr::QuotedString(s) => s,
            TemplateExpr::Heredoc(h) => h.template,
        }),
        Expression::Parenthesis(inner) => expr_to_json(*inner),
        other => Json::String(format!("${{{other}}}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_nest_by_label_and_bodies_are_lists() {
        let v = parse(
            r#"
resource "aws_s3_bucket" "b" {
  bucket = "x"
  acl    = "public-read"
  tags = { env = "prod" }
  versioning { enabled = true }
}
resource "aws_s3_bucket" "c" { bucket = var.name }
"#,
        )
        .unwrap();
        let b = &v["resource"]["aws_s3_bucket"]["b"][0];
        assert_eq!(b["acl"], "public-read");
        assert_eq!(b["tags"]["env"], "prod");
        assert_eq!(b["versioning"][0]["enabled"], true);
        assert_eq!(
            v["resource"]["aws_s3_bucket"]["c"][0]["bucket"],
            "${var.name}"
        );
    }

    #[test]
    fn block_lines_name_each_block() {
        let text = "variable \"region\" {}\n\nresource \"aws_s3_bucket\" \"site\" {\n  acl = \"x\"\n}\nmodule \"vpc\" {\n}\n";
        let lines = block_lines(text);
        assert!(lines.contains(&("variable.region".into(), 1)), "{lines:?}");
        assert!(
            lines.contains(&("aws_s3_bucket.site".into(), 3)),
            "{lines:?}"
        );
        assert!(
            lines.contains(&("resource.aws_s3_bucket.site".into(), 3)),
            "{lines:?}"
        );
        assert!(lines.contains(&("module.vpc".into(), 6)), "{lines:?}");
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = parse("a = 1\nresource \"x\" {\n  b = \n}\n").unwrap_err();
        assert!(err.line >= 3, "{err:?}");
    }
}
