//! Evaluation: one document in, findings out. Owns how rule results become [`Finding`]s
//! (conftest's result shapes, `_loc`, exceptions). It must not read files or render output.

use crate::finding::{Finding, Severity, ToolError};
use crate::input::Document;
use crate::policy::{exception_name, PolicySet, RuleKind, RuleRef};
use globset::{Glob, GlobSet, GlobSetBuilder};
use regorus::{Engine, Value};
use serde_json::Value as Json;

/// Which packages a run evaluates (`-n`, `--all-namespaces`).
#[derive(Debug, Clone)]
pub enum Namespaces {
    /// `main` plus every package of the built-in library (the default).
    Default,
    All,
    Globs(GlobSet),
}

impl Namespaces {
    pub fn from_globs(globs: &[String]) -> Result<Self, String> {
        let mut b = GlobSetBuilder::new();
        for g in globs {
            // Package names use dots; `*` must not stop at them, so no literal separator.
            b.add(Glob::new(g).map_err(|e| format!("invalid namespace glob {g:?}: {e}"))?);
        }
        b.build().map(Namespaces::Globs).map_err(|e| e.to_string())
    }

    fn selects(&self, package: &str, builtin: bool) -> bool {
        match self {
            Namespaces::Default => package == "main" || builtin,
            Namespaces::All => true,
            Namespaces::Globs(set) => set.is_match(package),
        }
    }
}

struct Selected {
    package: String,
    rules: Vec<RuleRef>,
    exception_path: Option<String>,
}

/// Evaluates documents against a prepared policy set. Cheap to share across threads: each call
/// clones the prepared engine.
pub struct Evaluator {
    engine: Engine,
    selected: Vec<Selected>,
    uses_conftest_data: bool,
}

/// The result of evaluating one document.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub errors: Vec<ToolError>,
    /// Rules evaluated that produced nothing.
    pub passed: usize,
}

impl Evaluator {
    pub fn new(set: &PolicySet, namespaces: &Namespaces) -> Self {
        let selected = set
            .packages
            .iter()
            .filter(|p| !p.rules.is_empty() && namespaces.selects(&p.name, p.builtin))
            .map(|p| Selected {
                package: p.name.clone(),
                rules: p.rules.clone(),
                exception_path: p
                    .has_exception
                    .then(|| format!("data.{}.exception", p.name)),
            })
            .collect();
        Evaluator {
            engine: set.engine.clone(),
            selected,
            uses_conftest_data: set.uses_conftest_data,
        }
    }

    /// Number of rules each document is checked against.
    pub fn rule_count(&self) -> usize {
        self.selected.iter().map(|s| s.rules.len()).sum()
    }

    /// An engine for one file: the shared one, or (when policies read `data.conftest`) one that
    /// carries `data.conftest.file.{name,dir}` for that file.
    pub fn engine_for_file(&self, file: &str) -> Engine {
        let mut engine = self.engine.clone();
        if self.uses_conftest_data {
            let path = std::path::Path::new(file);
            let dir = path
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let data = serde_json::json!({"conftest": {"file": {"name": file, "dir": dir}}});
            // Merging can only fail if a policy's own data defines `conftest` differently.
            let _ = engine.add_data(Value::from(data));
        }
        engine
    }

    /// Evaluates every selected rule against one document.
    pub fn evaluate(&self, file_engine: &Engine, doc: &Document) -> Outcome {
        self.evaluate_value(file_engine, doc, Value::from(doc.contents.clone()))
    }

    /// As [`Evaluator::evaluate`], with the input already converted.
    pub fn evaluate_value(&self, file_engine: &Engine, doc: &Document, input: Value) -> Outcome {
        let mut out = Outcome::default();
        let mut engine = file_engine.clone();
        engine.set_input(input);
        for sel in &self.selected {
            let exceptions = match &sel.exception_path {
                Some(path) => match engine.eval_rule(path.clone()) {
                    Ok(v) => exception_names(&v),
                    Err(e) => {
                        out.errors.push(runtime_error(doc, path, &e.to_string()));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            for rule in &sel.rules {
                let value = match engine.eval_rule(rule.path.clone()) {
                    Ok(v) => v,
                    Err(e) => {
                        out.errors
                            .push(runtime_error(doc, &rule.path, &e.to_string()));
                        continue;
                    }
                };
                let excepted = exceptions.iter().any(|n| n == exception_name(&rule.name));
                let before = out.findings.len();
                for result in results(&value) {
                    let severity = match (excepted, rule.kind) {
                        (true, _) => Severity::Exception,
                        (false, RuleKind::Failure) => Severity::Failure,
                        (false, RuleKind::Warning) => Severity::Warning,
                    };
                    out.findings
                        .push(finding(doc, &sel.package, &rule.name, severity, result));
                }
                if out.findings.len() == before {
                    out.passed += 1;
                }
            }
        }
        out
    }
}

fn runtime_error(doc: &Document, rule_path: &str, msg: &str) -> ToolError {
    let at = crate::policy::rego_error("", msg);
    let place = if at.file.is_empty() {
        String::new()
    } else {
        format!(" at {}:{}", at.file, at.line)
    };
    ToolError::new(
        doc.file.as_str(),
        doc.line,
        format!("policy {rule_path} failed{place}: {}", at.message),
    )
}

/// `exception contains ["run_as_root"]` / `exception[rules] { rules := [...] }`.
fn exception_names(v: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in items(v) {
        for name in items(&item) {
            if let Ok(s) = name.as_string() {
                names.push(s.to_string());
            }
        }
    }
    names
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Set(s) => s.iter().cloned().collect(),
        Value::Array(a) => a.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

/// A rule's value as a list of results: a set or array of strings/objects; `true` counts as one.
fn results(v: &Value) -> Vec<Value> {
    match v {
        Value::Set(_) | Value::Array(_) => items(v),
        Value::Bool(true) | Value::String(_) | Value::Object(_) => vec![v.clone()],
        _ => Vec::new(),
    }
}

fn finding(
    doc: &Document,
    package: &str,
    rule: &str,
    severity: Severity,
    result: Value,
) -> Finding {
    let json = serde_json::to_value(&result).unwrap_or(Json::Null);
    let (mut file, mut line) = (doc.file.clone(), doc.line);
    let (message, details) = match json {
        Json::String(s) => (s, Json::Null),
        Json::Object(mut map) => {
            let msg = match map.remove("msg") {
                Some(Json::String(s)) => s,
                Some(other) => other.to_string(),
                None => rule.to_string(),
            };
            if let Some(loc) = map.remove("_loc") {
                if let Some(f) = loc.get("file").and_then(Json::as_str) {
                    file = f.to_string();
                }
                if let Some(l) = loc.get("line").and_then(Json::as_u64) {
                    line = l as usize;
                }
            }
            let details = if map.is_empty() {
                Json::Null
            } else {
                Json::Object(map)
            };
            (msg, details)
        }
        Json::Bool(true) => (format!("{rule} is true"), Json::Null),
        other => (other.to_string(), Json::Null),
    };
    Finding {
        severity,
        file,
        line,
        resource: doc.resource.clone(),
        policy: package.to_string(),
        rule: rule.to_string(),
        message,
        details,
    }
}
