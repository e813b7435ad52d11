//! The `policyctl test` runner: Rego unit tests with `opa test` semantics (each `test_*` rule
//! evaluated on its own, undefined or non-true is FAIL, an error is ERROR, `todo_test_*` is
//! skipped, duplicate names reported as `test_x#01`), run in parallel, with merged line coverage.
//! It reuses `policy` for loading; it must not know about flags or output formats.

pub mod gator;
pub mod report;

use crate::policy::PolicySet;
use rayon::prelude::*;
use regex::Regex;
use regorus::unstable::{Parser, Rule, RuleHead};
use regorus::Value;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Outcome of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
    Skip,
}

/// One test's result, in the shape `-o json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// `rego` for Rego unit tests, `suite` for gator suite cases.
    pub kind: &'static str,
    /// `data.pkg.test_x` (or `data.pkg.test_x#01` for a duplicate).
    pub name: String,
    pub file: String,
    pub line: usize,
    pub status: Status,
    pub duration_ns: u128,
    /// Why it failed or errored; empty on pass.
    pub message: String,
    /// Captured `print()` output (`file:line: msg`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prints: Vec<String>,
}

/// Line coverage of one policy file, merged across every test.
#[derive(Debug, Clone, Serialize)]
pub struct FileCoverage {
    pub file: String,
    pub covered: BTreeSet<u32>,
    pub not_covered: BTreeSet<u32>,
}

impl FileCoverage {
    pub fn percent(&self) -> f64 {
        percent(self.covered.len(), self.not_covered.len())
    }
}

fn percent(covered: usize, not_covered: usize) -> f64 {
    let total = covered + not_covered;
    if total == 0 {
        100.0
    } else {
        covered as f64 * 100.0 / total as f64
    }
}

/// Everything a test run produced.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TestRun {
    pub tests: Vec<TestResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Vec<FileCoverage>>,
}

impl TestRun {
    pub fn count(&self, status: Status) -> usize {
        self.tests.iter().filter(|t| t.status == status).count()
    }

    /// Total coverage over all policy files, in percent.
    pub fn coverage_percent(&self) -> Option<f64> {
        self.coverage.as_ref().map(|files| {
            let c: usize = files.iter().map(|f| f.covered.len()).sum();
            let n: usize = files.iter().map(|f| f.not_covered.len()).sum();
            percent(c, n)
        })
    }
}

/// Options that shape a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only tests whose full name matches.
    pub filter: Option<Regex>,
    pub coverage: bool,
}

/// A test located in the loaded modules: module index, rule index, and its reported name.
struct Located {
    module: usize,
    rule: usize,
    name: String,
    path: String,
    file: String,
    line: usize,
    skip: bool,
}

fn locate(set: &mut PolicySet) -> Vec<Located> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (mi, module) in set.engine.get_modules().iter().enumerate() {
        let Ok(comps) = Parser::get_path_ref_components(&module.package.refr) else {
            continue;
        };
        let package = comps
            .iter()
            .map(|s| s.text().trim_matches('"').to_string())
            .collect::<Vec<_>>()
            .join(".");
        let file = module.package.span.source.get_path().clone();
        for (ri, rule) in module.policy.iter().enumerate() {
            let Rule::Spec { head, span, .. } = rule.as_ref() else {
                continue;
            };
            // Tests are rules without arguments; OPA ignores functions named test_*.
            let (RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. }) = head else {
                continue;
            };
            let Some(rule_name) = Parser::get_path_ref_components(refr)
                .ok()
                .and_then(|c| c.first().map(|s| s.text().to_string()))
            else {
                continue;
            };
            let skip = rule_name.starts_with("todo_test_");
            if !skip && !rule_name.starts_with("test_") {
                continue;
            }
            let path = format!("data.{package}.{rule_name}");
            let n = seen.entry(path.clone()).or_insert(0);
            let name = if *n == 0 {
                path.clone()
            } else {
                format!("{path}#{n:02}")
            };
            *n += 1;
            out.push(Located {
                module: mi,
                rule: ri,
                name,
                path,
                file: file.clone(),
                line: span.line as usize,
                skip,
            });
        }
    }
    out
}

/// Runs every test in the set, in parallel on the current rayon pool.
pub fn run(set: &PolicySet, opts: &RunOptions) -> TestRun {
    let mut set = set.clone();
    set.engine.set_gather_prints(true);
    if opts.coverage {
        set.engine.set_enable_coverage(true);
    }
    let located: Vec<Located> = locate(&mut set)
        .into_iter()
        .filter(|t| opts.filter.as_ref().is_none_or(|re| re.is_match(&t.name)))
        .collect();
    let results: Vec<(TestResult, Option<regorus::coverage::Report>)> = located
        .par_iter()
        .map(|t| run_one(&set, t, opts.coverage))
        .collect();
    let mut run = TestRun::default();
    let mut reports = Vec::new();
    for (r, cov) in results {
        run.tests.push(r);
        reports.extend(cov);
    }
    // gator suites among the loaded manifests.
    let (cases, broken) = gator::cases(&set.sources);
    let cases: Vec<gator::Case> = cases
        .into_iter()
        .filter(|c| opts.filter.as_ref().is_none_or(|re| re.is_match(&c.name)))
        .collect();
    let templates = gator::templates(&cases);
    run.tests.extend(broken);
    run.tests.extend(
        cases
            .par_iter()
            .map(|c| gator::run_case(c, &templates, set.gatekeeper.engine))
            .collect::<Vec<_>>(),
    );
    if opts.coverage {
        run.coverage = Some(merge_coverage(&set, reports));
    }
    run
}

fn run_one(
    set: &PolicySet,
    t: &Located,
    coverage: bool,
) -> (TestResult, Option<regorus::coverage::Report>) {
    let mut result = TestResult {
        kind: "rego",
        name: t.name.clone(),
        file: t.file.clone(),
        line: t.line,
        status: Status::Skip,
        duration_ns: 0,
        message: String::new(),
        prints: Vec::new(),
    };
    if t.skip {
        return (result, None);
    }
    let mut engine = set.engine.clone();
    let (module, rule) = {
        let modules = engine.get_modules();
        (
            modules[t.module].clone(),
            modules[t.module].policy[t.rule].clone(),
        )
    };
    let start = Instant::now();
    let outcome = engine.eval_rule_in_module(&module, &rule, false);
    result.duration_ns = start.elapsed().as_nanos();
    result.prints = engine.take_prints().unwrap_or_default();
    match outcome {
        Ok(data) => {
            let value = lookup(&data, &t.path);
            if value == Value::Bool(true) {
                result.status = Status::Pass;
            } else {
                result.status = Status::Fail;
                result.message = match value {
                    Value::Undefined => "test is undefined (a condition did not hold)".into(),
                    other => format!("test evaluated to {other}, not true"),
                };
            }
        }
        Err(e) => {
            result.status = Status::Error;
            let err = crate::policy::rego_error(&t.file, &e.to_string());
            if err.line > 0 {
                result.message = format!("{}:{}: {}", err.file, err.line, err.message);
            } else {
                result.message = err.message;
            }
        }
    }
    let cov = if coverage {
        engine.get_coverage_report().ok()
    } else {
        None
    };
    (result, cov)
}

/// `data.a.b.test_x` inside the data document returned by regorus.
fn lookup(data: &Value, path: &str) -> Value {
    let mut cur = data.clone();
    for part in path.split('.').skip(1) {
        cur = match &cur {
            Value::Object(m) => m
                .get(&Value::from(part))
                .cloned()
                .unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        };
    }
    cur
}

/// Merges per-test coverage. A line is covered if any test covered it. Test files are left out:
/// the threshold is about the policies. A policy file no test touched counts all its rule lines
/// as not covered.
fn merge_coverage(set: &PolicySet, reports: Vec<regorus::coverage::Report>) -> Vec<FileCoverage> {
    let mut merged: BTreeMap<String, (BTreeSet<u32>, BTreeSet<u32>)> = BTreeMap::new();
    for report in reports {
        for f in report.files {
            let e = merged.entry(f.path).or_default();
            e.0.extend(f.covered);
            e.1.extend(f.not_covered);
        }
    }
    for src in &set.sources {
        if !src.is_rego() || src.is_test() || merged.contains_key(&src.path) {
            continue;
        }
        let lines = src
            .text
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                let t = l.trim();
                !(t.is_empty()
                    || t.starts_with('#')
                    || t.starts_with("package ")
                    || t.starts_with("import "))
            })
            .map(|(i, _)| i as u32 + 1)
            .collect();
        merged.insert(src.path.clone(), (BTreeSet::new(), lines));
    }
    merged
        .into_iter()
        .filter(|(file, _)| !file.ends_with("_test.rego"))
        .map(|(file, (covered, not_covered))| FileCoverage {
            file,
            not_covered: not_covered.difference(&covered).copied().collect(),
            covered,
        })
        .collect()
}
