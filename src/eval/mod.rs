//! Evaluation: one document in, findings out. Owns how rule results become [`Finding`]s
//! (conftest's result shapes, `_loc`, exceptions). It must not read files or render output.

pub mod gatekeeper;
pub mod supply_chain;

use crate::finding::{Finding, Severity, ToolError};
use crate::input::Document;
use crate::policy::gatekeeper::Gatekeeper;
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

/// Package of the synthetic module that gathers every selected rule into one object, so one
/// evaluation per document shares helper rules (e.g. `lib.k8s.containers`) across all policies
/// instead of recomputing them for every rule.
const BATCH_PACKAGE: &str = "policyctl_internal_batch";
const BATCH_RULE: &str = "data.policyctl_internal_batch_all.all";

/// Evaluates documents against a prepared policy set. Cheap to share across threads: each call
/// clones the prepared engine.
pub struct Evaluator {
    engine: Engine,
    selected: Vec<Selected>,
    uses_conftest_data: bool,
    /// The engine carries the batch module (see [`BATCH_PACKAGE`]).
    batched: bool,
    gatekeeper: Gatekeeper,
    supply: Option<supply_chain::SupplyChain>,
}

/// The result of evaluating one document.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub errors: Vec<ToolError>,
    /// Rules evaluated that produced nothing.
    pub passed: usize,
}

/// Which value a result slot holds.
enum Slot<'a> {
    Exception(usize, &'a str),
    Rule(usize, &'a str),
}

/// `data["a"]["b"]["deny"]`: a reference that survives any package or rule name.
fn bracket_ref(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches("data.").split('.').collect();
    let mut out = String::from("data");
    for p in parts {
        out.push_str(&format!("[{}]", serde_json::Value::String(p.to_string())));
    }
    out
}

impl Evaluator {
    pub fn new(set: &PolicySet, namespaces: &Namespaces) -> Self {
        let selected: Vec<Selected> = set
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
        let mut evaluator = Evaluator {
            engine: set.engine.clone(),
            selected,
            uses_conftest_data: set.uses_conftest_data,
            batched: false,
            gatekeeper: set.gatekeeper.clone(),
            supply: None,
        };
        evaluator.add_batch_module();
        evaluator
    }

    /// Adds the batch module and prepares the engine; on any failure keeps per-rule evaluation.
    fn add_batch_module(&mut self) {
        if self.selected.is_empty() {
            return;
        }
        let mut rules = format!("package {BATCH_PACKAGE}\n\n");
        let mut n = 0;
        for (k, sel) in self.selected.iter().enumerate() {
            if let Some(path) = &sel.exception_path {
                rules.push_str(&format!("e{k} := v if {{ v := {} }}\n", bracket_ref(path)));
            }
            for rule in &sel.rules {
                rules.push_str(&format!(
                    "r{n} := v if {{ v := {} }}\n",
                    bracket_ref(&rule.path)
                ));
                n += 1;
            }
        }
        let all = format!(
            "package policyctl_internal_batch_all\n\nall := {{k: v | some k, v in data.{BATCH_PACKAGE}}}\n"
        );
        let mut engine = self.engine.clone();
        engine.set_rego_v0(false);
        let added = engine
            .add_policy(format!("<{BATCH_PACKAGE}>"), rules)
            .and_then(|_| engine.add_policy(format!("<{BATCH_PACKAGE}_all>"), all))
            .and_then(|_| engine.eval_rule(BATCH_RULE.into()));
        if added.is_ok() {
            self.engine = engine;
            self.batched = true;
        }
    }

    /// Verifies workload images with `supply` (when image policies are loaded).
    pub fn with_supply_chain(mut self, supply: supply_chain::SupplyChain) -> Self {
        self.supply = Some(supply);
        self
    }

    /// Number of rules, constraints and image policies each document is checked against.
    pub fn rule_count(&self) -> usize {
        self.selected.iter().map(|s| s.rules.len()).sum::<usize>()
            + self.gatekeeper.constraints.len()
            + self
                .supply
                .as_ref()
                .map_or(0, |s| usize::from(s.verifier.has_policies()))
    }

    /// An engine for one file: the shared one, or (when policies read `data.conftest`) one that
    /// carries `data.conftest.file.{name,dir}` for that file, prepared once for the file.
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
            // add_data resets preparation: prepare once here, not once per document.
            let first = if self.batched {
                Some(BATCH_RULE.to_string())
            } else {
                self.selected
                    .first()
                    .and_then(|s| s.rules.first())
                    .map(|r| r.path.clone())
            };
            if let Some(rule) = first {
                let _ = engine.eval_rule(rule);
            }
        }
        engine
    }

    /// Evaluates every selected rule and constraint against one document.
    pub fn evaluate(&self, file_engine: &Engine, doc: &Document) -> Outcome {
        self.evaluate_owned(file_engine, doc.clone())
    }

    /// As [`Evaluator::evaluate`], consuming the document (no copy of its contents when no
    /// Gatekeeper constraint needs a review). AdmissionReview documents are unwrapped: Rego
    /// policies see the object, templates the request.
    pub fn evaluate_owned(&self, file_engine: &Engine, doc: Document) -> Outcome {
        self.evaluate_with(file_engine, doc, true)
    }

    /// Rego rules and Gatekeeper constraints only; image verdicts are left to the caller (the
    /// webhook verifies images asynchronously, off the CPU-bound evaluation slots).
    pub fn evaluate_policies(&self, file_engine: &Engine, doc: Document) -> Outcome {
        self.evaluate_with(file_engine, doc, false)
    }

    /// The supply-chain stage, when image policies are loaded.
    pub fn supply_chain(&self) -> Option<&supply_chain::SupplyChain> {
        self.supply.as_ref()
    }

    fn evaluate_with(&self, file_engine: &Engine, mut doc: Document, images: bool) -> Outcome {
        let supply = self.supply.as_ref().filter(|_| images);
        let needs_subject = !self.gatekeeper.is_empty()
            || supply.is_some()
            || gatekeeper::is_admission_review(&doc.contents);
        if !needs_subject {
            let input = Value::from(std::mem::take(&mut doc.contents));
            return self.evaluate_rego(file_engine, &doc, input);
        }
        let subject = match gatekeeper::subject(&mut doc) {
            Ok(s) => s,
            Err(e) => {
                return Outcome {
                    errors: vec![e],
                    ..Default::default()
                }
            }
        };
        let mut out = self.evaluate_rego(file_engine, &doc, Value::from(subject.object.clone()));
        gatekeeper::evaluate(&self.gatekeeper, &doc, &subject, &mut out);
        if let Some(supply) = supply {
            supply.evaluate(&doc, &subject.object, &mut out);
        }
        out
    }

    /// The conftest-convention rules against one input.
    pub fn evaluate_rego(&self, file_engine: &Engine, doc: &Document, input: Value) -> Outcome {
        if self.selected.is_empty() {
            return Outcome::default();
        }
        let mut engine = file_engine.clone();
        engine.set_input(input);
        if self.batched {
            // One evaluation for all rules; an error anywhere falls through to rule-by-rule
            // evaluation, which attributes it to the rule that raised it.
            match engine.eval_rule(BATCH_RULE.into()) {
                Ok(Value::Object(all)) => {
                    return self.fold(doc, |slot| {
                        let key = match slot {
                            Slot::Exception(k, _) => format!("e{k}"),
                            Slot::Rule(n, _) => format!("r{n}"),
                        };
                        Ok(all
                            .get(&Value::from(key))
                            .cloned()
                            .unwrap_or(Value::Undefined))
                    });
                }
                // Out of time (an execution limit the caller set): retrying rule by rule
                // would only multiply the overrun.
                Err(e) if e.to_string().contains("exceeded time limit") => {
                    return Outcome {
                        errors: vec![ToolError::new(
                            doc.file.as_str(),
                            doc.line,
                            format!("policy evaluation stopped: {e}"),
                        )],
                        ..Default::default()
                    };
                }
                _ => {}
            }
        }
        self.fold(doc, |slot| {
            let path = match slot {
                Slot::Exception(_, p) | Slot::Rule(_, p) => p,
            };
            engine
                .eval_rule(path.to_string())
                .map_err(|e| e.to_string())
        })
    }

    /// Turns each rule's value into findings, applying exceptions.
    fn fold(
        &self,
        doc: &Document,
        mut value_of: impl FnMut(Slot<'_>) -> Result<Value, String>,
    ) -> Outcome {
        let mut out = Outcome::default();
        let mut n = 0;
        for (k, sel) in self.selected.iter().enumerate() {
            let exceptions = match &sel.exception_path {
                Some(path) => match value_of(Slot::Exception(k, path)) {
                    Ok(v) => exception_names(&v),
                    Err(e) => {
                        out.errors.push(runtime_error(doc, path, &e));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            for rule in &sel.rules {
                let slot = Slot::Rule(n, &rule.path);
                n += 1;
                let value = match value_of(slot) {
                    Ok(v) => v,
                    Err(e) => {
                        out.errors.push(runtime_error(doc, &rule.path, &e));
                        continue;
                    }
                };
                let excepted = exceptions.iter().any(|x| x == exception_name(&rule.name));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{self, LoadOptions, Source};

    fn evaluator(sources: Vec<Source>) -> Evaluator {
        let (set, errors) = policy::load(sources, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        Evaluator::new(&set, &Namespaces::All)
    }

    fn docs(path: &str) -> Vec<Document> {
        let text = std::fs::read_to_string(path).unwrap();
        crate::input::parse(path, &text, crate::input::Parser::Yaml).unwrap()
    }

    #[test]
    fn batched_evaluation_equals_rule_by_rule() {
        let (sources, _) = policy::discover(&LoadOptions::default());
        let batched = evaluator(sources.clone());
        assert!(batched.batched, "the built-in library batches");
        let (set, _) = policy::load(sources, &LoadOptions::default());
        let mut plain = Evaluator::new(&set, &Namespaces::All);
        plain.engine = set.engine.clone();
        plain.batched = false;
        let mut total = 0;
        for entry in std::fs::read_dir("testdata/k8s/denied").unwrap() {
            let path = entry.unwrap().path();
            for doc in docs(path.to_str().unwrap()) {
                let a = batched.evaluate(&batched.engine_for_file(&doc.file), &doc);
                let b = plain.evaluate(&plain.engine_for_file(&doc.file), &doc);
                assert_eq!(a.findings, b.findings, "{}", doc.file);
                assert_eq!(a.passed, b.passed);
                total += a.findings.len();
            }
        }
        assert!(total >= 18);
    }

    #[test]
    fn a_runtime_error_is_attributed_to_its_rule_and_others_still_report() {
        let src = |path: &str, text: &str| Source {
            path: path.into(),
            text: text.into(),
            builtin: false,
        };
        let ev = evaluator(vec![
            src("bad.rego", "package bad\nimport rego.v1\nx := 1 if input.a\nx := 2 if input.a\ndeny contains \"x\" if x > 0\n"),
            src("good.rego", "package good\nimport rego.v1\ndeny contains \"a is set\" if input.a\n"),
        ]);
        let doc = Document {
            file: "f.yaml".into(),
            line: 3,
            resource: None,
            contents: serde_json::json!({"a": true}),
        };
        let out = ev.evaluate(&ev.engine_for_file("f.yaml"), &doc);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].message, "a is set");
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0].message.contains("data.bad.deny"),
            "{:?}",
            out.errors
        );
        assert_eq!(
            (out.errors[0].file.as_str(), out.errors[0].line),
            ("f.yaml", 3)
        );
    }
}
