// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)] // line and byte offsets within one source text

//! OPA's metadata annotations (`# METADATA` comment blocks) and the builtins that read them,
//! `rego.metadata.rule()` and `rego.metadata.chain()`.
//!
//! A block is a run of comment lines starting at column 1, the first being `# METADATA`; the
//! rest, without the leading `#`, is a YAML document. It annotates the next statement: a
//! `package` (default scope `package`) or a rule (default scope `rule`). The active rule of a
//! call is the rule whose text contains the call, so both engines resolve it the same way: the
//! interpreter when it evaluates the call, the RVM compiler by loading the result as a constant.

use crate::ast::{Expr, Module, Ref, Rule, RuleHead};
use crate::lexer::Span;
use crate::value::Value;
use crate::*;

use alloc::collections::BTreeMap;
use anyhow::{bail, Result};

/// Which metadata builtin a function path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataBuiltin {
    Rule,
    Chain,
}

pub fn metadata_builtin(path: &str) -> Option<MetadataBuiltin> {
    match path {
        "rego.metadata.rule" => Some(MetadataBuiltin::Rule),
        "rego.metadata.chain" => Some(MetadataBuiltin::Chain),
        _ => None,
    }
}

/// Registered so that both engines know the names and arities; never called, because the
/// engines answer these calls themselves (see [`evaluate`]).
pub fn register(m: &mut crate::Map<&'static str, builtins::BuiltinFcn>) {
    m.insert("rego.metadata.rule", (unreachable_builtin, 0));
    m.insert("rego.metadata.chain", (unreachable_builtin, 0));
}

fn unreachable_builtin(
    span: &Span,
    _params: &[Ref<Expr>],
    _args: &[Value],
    _strict: bool,
) -> Result<Value> {
    bail!(span.error("rego.metadata.* is evaluated by the engine, not as a builtin"))
}

/// One `# METADATA` block and the statement it annotates.
struct Block {
    /// The annotations, with `scope` filled in.
    value: Value,
    scope: String,
    /// Line of the annotated statement.
    target_line: u32,
}

/// The blocks of one source text, each attached to the first statement line after it.
fn blocks(module: &Module) -> Result<Vec<Block>> {
    let source = &module.package.span.source;
    let text = source.contents();
    let lines: Vec<&str> = text.lines().collect();
    let mut statement_lines: Vec<(u32, bool)> = module
        .policy
        .iter()
        .map(|r| (r.span().line, false))
        .collect();
    statement_lines.push((module.package.span.line, true));
    statement_lines.sort_unstable();

    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "# METADATA" {
            i += 1;
            continue;
        }
        let start = i;
        let mut yaml = String::new();
        i += 1;
        while i < lines.len() && lines[i].starts_with('#') {
            yaml.push_str(&lines[i][1..]);
            yaml.push('\n');
            i += 1;
        }
        // 1-based line of the block's last comment line.
        let end_line = u32::try_from(i).unwrap_or(u32::MAX);
        let Some(&(target_line, is_package)) =
            statement_lines.iter().find(|(line, _)| *line > end_line)
        else {
            bail!(source.error(
                u32::try_from(start + 1).unwrap_or(u32::MAX),
                1,
                "METADATA block annotates no statement"
            ));
        };
        let parsed = if yaml.trim().is_empty() {
            Value::new_object()
        } else {
            Value::from_yaml_str(&yaml).map_err(|e| {
                source.error(
                    u32::try_from(start + 1).unwrap_or(u32::MAX),
                    1,
                    &format!("invalid METADATA block: {e}"),
                )
            })?
        };
        let Value::Object(fields) = parsed else {
            bail!(source.error(
                u32::try_from(start + 1).unwrap_or(u32::MAX),
                1,
                "invalid METADATA block: expected a YAML mapping"
            ));
        };
        let mut fields: BTreeMap<Value, Value> =
            fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let scope = match fields.get(&Value::from("scope")) {
            Some(Value::String(s)) => s.to_string(),
            Some(_) => bail!(source.error(
                u32::try_from(start + 1).unwrap_or(u32::MAX),
                1,
                "invalid METADATA block: scope must be a string"
            )),
            None if is_package => "package".to_string(),
            None => "rule".to_string(),
        };
        fields.insert(Value::from("scope"), Value::from(scope.as_str()));
        normalize(&mut fields);
        out.push(Block {
            value: Value::from(fields),
            scope,
            target_line,
        });
    }
    Ok(out)
}

/// OPA's normal forms: an author `"Jane <jane@example.com>"` is `{"name", "email"}`, a related
/// resource `"https://…"` is `{"ref": …}`.
fn normalize(fields: &mut BTreeMap<Value, Value>) {
    if let Some(Value::Array(authors)) = fields.get(&Value::from("authors")) {
        let authors: Vec<Value> = authors
            .iter()
            .map(|a| match a {
                Value::String(s) => {
                    let s = s.trim();
                    let mut m = BTreeMap::new();
                    match (s.rfind('<'), s.ends_with('>')) {
                        (Some(i), true) => {
                            let name = s[..i].trim();
                            if !name.is_empty() {
                                m.insert(Value::from("name"), Value::from(name));
                            }
                            m.insert(Value::from("email"), Value::from(&s[i + 1..s.len() - 1]));
                        }
                        _ => {
                            m.insert(Value::from("name"), Value::from(s));
                        }
                    }
                    Value::from(m)
                }
                other => other.clone(),
            })
            .collect();
        fields.insert(Value::from("authors"), Value::from(authors));
    }
    if let Some(Value::Array(resources)) = fields.get(&Value::from("related_resources")) {
        let resources: Vec<Value> = resources
            .iter()
            .map(|r| match r {
                Value::String(s) => {
                    let mut m = BTreeMap::new();
                    m.insert(Value::from("ref"), Value::from(s.as_ref()));
                    Value::from(m)
                }
                other => other.clone(),
            })
            .collect();
        fields.insert(Value::from("related_resources"), Value::from(resources));
    }
}

/// `data.a.b` of a package, `["a", "b"]`.
fn package_path(module: &Module) -> Vec<String> {
    let mut out = Vec::new();
    static_prefix(&module.package.refr, &mut out);
    // `package a.b` parses with a leading `data` in some forms; keep the path relative to data.
    if out.first().map(String::as_str) == Some("data") {
        out.remove(0);
    }
    out
}

/// The static part of a rule or package reference (`p.q["r"][x]` → `p.q.r`).
fn static_prefix(refr: &Ref<Expr>, out: &mut Vec<String>) -> bool {
    match refr.as_ref() {
        Expr::Var { span, .. } => {
            out.push(span.text().to_string());
            true
        }
        Expr::RefDot { refr, field, .. } if static_prefix(refr, out) => {
            out.push(field.0.text().to_string());
            true
        }
        Expr::RefBrack { refr, index, .. } => {
            if !static_prefix(refr, out) {
                return false;
            }
            match index.as_ref() {
                Expr::String {
                    value: Value::String(s),
                    ..
                } => {
                    out.push(s.to_string());
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn rule_path(rule: &Rule) -> Vec<String> {
    let refr = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let mut out = Vec::new();
    static_prefix(refr, &mut out);
    out
}

fn path_value(path: &[String]) -> Value {
    let mut v = Vec::with_capacity(path.len() + 1);
    v.push(Value::from("data"));
    v.extend(path.iter().map(|p| Value::from(p.as_str())));
    Value::from(v)
}

fn chain_entry(path: &[String], annotations: Option<&Value>) -> Value {
    let mut m = BTreeMap::new();
    m.insert(Value::from("path"), path_value(path));
    if let Some(a) = annotations {
        m.insert(Value::from("annotations"), a.clone());
    }
    Value::from(m)
}

/// `rego.metadata.rule()` / `rego.metadata.chain()` for the call at `span`.
pub fn evaluate(kind: MetadataBuiltin, modules: &[Ref<Module>], span: &Span) -> Result<Value> {
    let Some(module) = modules.iter().find(|m| {
        let s = &m.package.span.source;
        s.get_path() == span.source.get_path() && s.contents() == span.source.contents()
    }) else {
        bail!(span.error("rego.metadata: the call's module is not loaded"));
    };
    let Some(rule) = module
        .policy
        .iter()
        .find(|r| r.span().start <= span.start && span.end <= r.span().end)
    else {
        bail!(span.error("rego.metadata: the call is not inside a rule"));
    };
    let own = blocks(module)?;
    let rule_annotation = own
        .iter()
        .find(|b| b.target_line == rule.span().line && b.scope == "rule")
        .map(|b| b.value.clone());
    if kind == MetadataBuiltin::Rule {
        return Ok(rule_annotation.unwrap_or_else(Value::new_object));
    }

    let package = package_path(module);
    let mut path = package.clone();
    path.extend(rule_path(rule));
    let mut chain = vec![chain_entry(&path, rule_annotation.as_ref())];

    // Every module of the policy contributes: `document` scope on the same rule path, `package`
    // scope on the same package, `subpackages` scope on the package or an ancestor.
    let mut documents = Vec::new();
    let mut packages: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    let mut subpackages: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for m in modules {
        let m_package = package_path(m);
        if !package.starts_with(&m_package) {
            continue;
        }
        let m_blocks = if core::ptr::eq::<Module>(&**m, &**module) {
            None
        } else {
            Some(blocks(m)?)
        };
        for b in m_blocks.as_ref().unwrap_or(&own) {
            let on_package = b.target_line == m.package.span.line;
            match b.scope.as_str() {
                "document" if !on_package && m_package == package => {
                    let target = m.policy.iter().find(|r| r.span().line == b.target_line);
                    if target.is_some_and(|r| {
                        let mut p = m_package.clone();
                        p.extend(rule_path(r));
                        p == path
                    }) {
                        documents.push(b.value.clone());
                    }
                }
                "package" if on_package && m_package == package => {
                    packages
                        .entry(m_package.len())
                        .or_default()
                        .push(b.value.clone());
                }
                "subpackages" if on_package => {
                    subpackages
                        .entry(m_package.len())
                        .or_default()
                        .push(b.value.clone());
                }
                _ => {}
            }
        }
    }
    for d in &documents {
        chain.push(chain_entry(&path, Some(d)));
    }
    // Outward from the rule's package to the root.
    for len in (0..=package.len()).rev() {
        for p in packages.get(&len).into_iter().flatten() {
            chain.push(chain_entry(&package[..len], Some(p)));
        }
        for p in subpackages.get(&len).into_iter().flatten() {
            chain.push(chain_entry(&package[..len], Some(p)));
        }
    }
    Ok(Value::from(chain))
}
