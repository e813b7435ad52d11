//! gator suites (`kind: Suite`, `test.gatekeeper.sh/v1alpha1`) with gator's semantics: each
//! test's template and constraint, each case's object (exactly one; an AdmissionReview is
//! unwrapped) and inventory, each assertion (`violations: yes|no|N`, default yes, `message` a
//! regex filter on the violation messages).

use super::{Status, TestResult};
use crate::eval::gatekeeper::{
    expand, is_admission_review, review, subject_of_object, subject_of_review,
};
use crate::policy::gatekeeper::{self, Gatekeeper};
use crate::policy::Source;
use regex::Regex;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn is_suite(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("Suite")
        && doc
            .get("apiVersion")
            .and_then(Json::as_str)
            .is_some_and(|v| v.starts_with("test.gatekeeper.sh/"))
}

// gator's Suite as its Go types define it; unknown fields are refused, so a misspelt
// `assertion:` cannot turn a case into one that always passes.

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct SuiteDoc {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: crate::policy::strict::ObjectMeta,
    #[serde(default)]
    skip: bool,
    #[serde(default)]
    tests: Vec<SuiteTestDoc>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SuiteTestDoc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    constraint: Option<String>,
    #[serde(default)]
    cases: Vec<CaseDoc>,
    #[serde(default)]
    skip: bool,
    /// policyctl's extension: ExpansionTemplate files whose resultants each case's object is
    /// also reviewed as (gator verify has no such field; `gator expand` does the expansion).
    #[serde(default)]
    expansion: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CaseDoc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    inventory: Vec<String>,
    #[serde(default)]
    assertions: Vec<AssertionDoc>,
    #[serde(default)]
    skip: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AssertionDoc {
    #[serde(default)]
    violations: Option<Json>,
    #[serde(default)]
    message: Option<String>,
}

/// One case to run, with everything resolved relative to its suite file.
pub struct Case {
    pub name: String,
    suite_file: String,
    line: usize,
    template: PathBuf,
    constraint: PathBuf,
    object: Option<PathBuf>,
    inventory: Vec<PathBuf>,
    expansion: Vec<PathBuf>,
    assertions: Vec<Json>,
    skip: bool,
}

/// Lists the cases of every suite among `sources`; malformed suites become ERROR results.
pub fn cases(sources: &[Source]) -> (Vec<Case>, Vec<TestResult>) {
    let mut out = Vec::new();
    let mut broken = Vec::new();
    for src in sources.iter().filter(|s| !s.is_rego()) {
        let Ok(docs) = crate::input::parse(&src.path, &src.text, crate::input::Parser::Yaml) else {
            continue; // not YAML: the policy loader reports it
        };
        let dir = Path::new(&src.path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for doc in docs.iter().filter(|d| is_suite(&d.contents)) {
            let origin = crate::policy::strict::Origin {
                file: &src.path,
                text: &src.text,
                line: doc.line,
            };
            if let Err(e) = origin.read::<SuiteDoc>(&doc.contents, "Suite") {
                broken.push(error_result(&src.path, &src.path, e.line, &e.message));
                continue;
            }
            let suite_skip = doc
                .contents
                .get("skip")
                .and_then(Json::as_bool)
                .unwrap_or(false);
            let tests = doc
                .contents
                .get("tests")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            for test in tests {
                let test_name = test
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("<unnamed>");
                let path = |key: &str| test.get(key).and_then(Json::as_str).map(|p| dir.join(p));
                let (Some(template), Some(constraint)) = (path("template"), path("constraint"))
                else {
                    broken.push(error_result(
                        &format!("{}/{test_name}", src.path),
                        &src.path,
                        doc.line,
                        "test needs both template and constraint",
                    ));
                    continue;
                };
                let test_skip = test.get("skip").and_then(Json::as_bool).unwrap_or(false);
                let expansion = paths(&test, "expansion", &dir);
                for case in test
                    .get("cases")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    let case_name = case
                        .get("name")
                        .and_then(Json::as_str)
                        .unwrap_or("<unnamed>");
                    let line = find_line(&src.text, case_name).unwrap_or(doc.line);
                    out.push(Case {
                        name: format!("{test_name}/{case_name}"),
                        suite_file: src.path.clone(),
                        line,
                        template: template.clone(),
                        constraint: constraint.clone(),
                        object: case
                            .get("object")
                            .and_then(Json::as_str)
                            .map(|p| dir.join(p)),
                        inventory: paths(&case, "inventory", &dir),
                        expansion: expansion.clone(),
                        assertions: case
                            .get("assertions")
                            .and_then(Json::as_array)
                            .cloned()
                            .unwrap_or_default(),
                        skip: suite_skip
                            || test_skip
                            || case.get("skip").and_then(Json::as_bool).unwrap_or(false),
                    });
                }
            }
        }
    }
    (out, broken)
}

/// A list of paths under `key`, relative to the suite's directory.
fn paths(v: &Json, key: &str, dir: &Path) -> Vec<PathBuf> {
    v.get(key)
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(|p| dir.join(p))
                .collect()
        })
        .unwrap_or_default()
}

fn find_line(text: &str, case_name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim();
            t == format!("name: {case_name}") || t == format!("name: \"{case_name}\"")
        })
        .map(|i| i + 1)
}

fn error_result(name: &str, file: &str, line: usize, message: &str) -> TestResult {
    TestResult {
        kind: "suite",
        name: name.to_string(),
        file: file.to_string(),
        line,
        status: Status::Error,
        duration_ns: 0,
        message: message.to_string(),
        prints: Vec::new(),
    }
}

/// The documents of `path` (Lists stay whole: gator reads documents, not List items) and its
/// text.
fn read_documents(path: &Path) -> Result<(Vec<crate::input::Document>, String), String> {
    let display = path.to_string_lossy();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{display}: {e}"))?;
    let parser = if display.ends_with(".json") {
        crate::input::Parser::Json
    } else {
        crate::input::Parser::Yaml
    };
    let docs = crate::input::parse(&display, &text, parser)
        .map_err(|e| format!("{display}:{}: {}", e.line, e.message))?;
    Ok((docs, text))
}

fn read_objects(path: &Path) -> Result<Vec<Json>, String> {
    Ok(read_documents(path)?
        .0
        .into_iter()
        .map(|d| d.contents)
        .collect())
}

/// The one template (or constraint) document of `path`, with its line and the file's text.
fn single(path: &Path, kind: &str) -> Result<(Json, usize, String), String> {
    let (docs, text) = read_documents(path)?;
    let found: Vec<(Json, usize)> = docs
        .into_iter()
        .filter(|d| match kind {
            "template" => gatekeeper::is_template(&d.contents),
            _ => gatekeeper::is_constraint(&d.contents),
        })
        .map(|d| (d.contents, d.line))
        .collect();
    match found.len() {
        1 => {
            let (doc, line) = found.into_iter().next().unwrap_or_default();
            Ok((doc, line, text))
        }
        n => Err(format!(
            "{}: expected one {kind}, found {n}",
            path.display()
        )),
    }
}

/// Runs one case; template compilation is cached per template file by the caller's map.
pub fn run_case(
    case: &Case,
    templates: &BTreeMap<PathBuf, Result<gatekeeper::Template, String>>,
    engine: gatekeeper::TemplateEngine,
) -> TestResult {
    let mut result = TestResult {
        kind: "suite",
        name: case.name.clone(),
        file: case.suite_file.clone(),
        line: case.line,
        status: Status::Skip,
        duration_ns: 0,
        message: String::new(),
        prints: Vec::new(),
    };
    if case.skip {
        return result;
    }
    let start = Instant::now();
    let outcome = check_case(case, templates, engine);
    result.duration_ns = start.elapsed().as_nanos();
    match outcome {
        Ok(None) => result.status = Status::Pass,
        Ok(Some(failure)) => {
            result.status = Status::Fail;
            result.message = failure;
        }
        Err(e) => {
            result.status = Status::Error;
            result.message = e;
        }
    }
    result
}

/// Ok(None) pass, Ok(Some(why)) assertion failed, Err(why) the case could not run.
fn check_case(
    case: &Case,
    templates: &BTreeMap<PathBuf, Result<gatekeeper::Template, String>>,
    engine: gatekeeper::TemplateEngine,
) -> Result<Option<String>, String> {
    let template = match templates.get(&case.template) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(e.clone()),
        None => return Err(format!("{}: template not loaded", case.template.display())),
    };
    let (cdoc, cline, ctext) = single(&case.constraint, "constraint")?;
    let cfile = case.constraint.to_string_lossy();
    let constraint =
        gatekeeper::constraint(&cdoc, &cfile, &ctext, cline).map_err(|e| e.display())?;
    if let Some((field, problem)) = template.check_parameters(&constraint.parameters).first() {
        let line =
            crate::policy::strict::locate(&ctext, cline, &crate::policy::strict::path(field));
        return Err(format!(
            "{cfile}:{line}: {}/{}: {field}: {problem} (the template's openAPIV3Schema; the API server would reject this constraint)",
            constraint.kind, constraint.name
        ));
    }
    if constraint.kind != template.kind {
        return Err(format!(
            "constraint kind {} does not match the template's kind {}",
            constraint.kind, template.kind
        ));
    }
    let object_path = case.object.as_ref().ok_or("case must define object")?;
    if case.assertions.is_empty() {
        return Err("assertions must be non-empty".into());
    }
    let objects = read_objects(object_path)?;
    if objects.len() != 1 {
        return Err(format!(
            "{} defines {} objects; a case reviews exactly one",
            object_path.display(),
            objects.len()
        ));
    }
    let mut inventory = Vec::new();
    for p in &case.inventory {
        inventory.extend(read_objects(p)?);
    }
    let mut gk = Gatekeeper {
        engine,
        ..Default::default()
    };
    gk.templates.insert(template.kind.clone(), template.clone());
    gk.constraints.push(constraint.clone());
    gk.set_inventory(inventory)?;
    for path in &case.expansion {
        let (docs, text) = read_documents(path)?;
        let file = path.to_string_lossy();
        for d in docs
            .iter()
            .filter(|d| gatekeeper::is_expansion(&d.contents))
        {
            gk.expansions.push(
                gatekeeper::expansion(&d.contents, &file, &text, d.line)
                    .map_err(|e| e.display())?,
            );
        }
    }
    let object = &objects[0];
    let subject = if is_admission_review(object) {
        subject_of_review(object)?
    } else {
        subject_of_object(object.clone())
    };
    // The object itself (unless the constraint matches generated objects only), then what it
    // expands to (unless it matches originals only), as Gatekeeper's `match.source` says.
    // A `scoped` constraint not enforced at gator's enforcement point reviews nothing here, as
    // gator's client (enforcement point gator.gatekeeper.sh) skips it.
    let enforced = !constraint.actions_at(gatekeeper::GATOR_POINT).is_empty();
    let mut violations = Vec::new();
    if enforced && constraint.source != gatekeeper::MatchSource::Generated {
        violations.extend(review(&gk, &constraint, &subject)?.unwrap_or_default());
    }
    if enforced && constraint.source != gatekeeper::MatchSource::Original {
        for resultant in expand(&gk, &subject) {
            let (e, generated) = resultant?;
            for (m, d) in review(&gk, &constraint, &generated)?.unwrap_or_default() {
                violations.push((format!("[Implied by {}] {m}", e.name), d));
            }
        }
    }
    let messages: Vec<&str> = violations.iter().map(|(m, _)| m.as_str()).collect();
    for assertion in &case.assertions {
        if let Some(failure) = check_assertion(assertion, &messages)? {
            return Ok(Some(failure));
        }
    }
    Ok(None)
}

/// gator's assertion semantics and wording.
fn check_assertion(a: &Json, messages: &[&str]) -> Result<Option<String>, String> {
    let re = match a.get("message").and_then(Json::as_str) {
        Some(m) => Some(Regex::new(m).map_err(|e| format!("invalid message regex {m:?}: {e}"))?),
        None => None,
    };
    let matching = messages
        .iter()
        .filter(|m| re.as_ref().is_none_or(|r| r.is_match(m)))
        .count();
    let containing = re
        .as_ref()
        .map(|r| format!(" containing {:?}", r.as_str()))
        .unwrap_or_default();
    let got = format!("got {matching} violations{containing}");
    let want = a
        .get("violations")
        .cloned()
        .unwrap_or(Json::String("yes".into()));
    let failure = match &want {
        Json::Number(n) => {
            let n = n
                .as_u64()
                .ok_or("assertion.violations must be a nonnegative integer, \"yes\", or \"no\"")?;
            (matching as u64 != n).then(|| format!("{got} but want exactly {n}"))
        }
        Json::String(s) if s == "yes" => {
            (matching == 0).then(|| format!("{got} but want at least 1"))
        }
        Json::String(s) if s == "no" => (matching > 0).then(|| format!("{got} but want none")),
        _ => {
            return Err(
                "assertion.violations must be a nonnegative integer, \"yes\", or \"no\"".into(),
            )
        }
    };
    Ok(failure.map(|f| format!("{f}; messages: {messages:?}")))
}

/// Compiles every template the cases name, once each.
pub fn templates(cases: &[Case]) -> BTreeMap<PathBuf, Result<gatekeeper::Template, String>> {
    let mut out = BTreeMap::new();
    for case in cases {
        if out.contains_key(&case.template) {
            continue;
        }
        let compiled = single(&case.template, "template").and_then(|(doc, line, text)| {
            gatekeeper::template(&doc, &case.template.to_string_lossy(), &text, line, None)
                .map_err(|e| e.display())
        });
        out.insert(case.template.clone(), compiled);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertion_semantics_follow_gator() {
        let msgs = ["missing owner", "bad regex"];
        let a = |v: Json| check_assertion(&v, &msgs).unwrap();
        assert_eq!(a(serde_json::json!({})), None, "default is yes");
        assert_eq!(a(serde_json::json!({"violations": 2})), None);
        assert!(a(serde_json::json!({"violations": 1}))
            .unwrap()
            .contains("got 2 violations but want exactly 1"));
        assert_eq!(
            a(serde_json::json!({"violations": 1, "message": "owner"})),
            None
        );
        assert!(
            a(serde_json::json!({"violations": "no", "message": "regex"}))
                .unwrap()
                .contains("but want none")
        );
        assert_eq!(
            a(serde_json::json!({"violations": "no", "message": "nothing"})),
            None
        );
        assert!(check_assertion(&serde_json::json!({"violations": "maybe"}), &msgs).is_err());
        assert!(check_assertion(&serde_json::json!({"message": "("}), &msgs).is_err());
    }
}
