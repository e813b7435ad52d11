//! Renderings of a [`TestRun`]: opa-test-style text, JSON, JUnit.

use super::{Status, TestRun};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skip => "SKIPPED",
    }
}

/// `opa test` layout: failures (all tests with `verbose`) grouped by file, then the totals.
pub fn text(run: &TestRun, verbose: bool) -> String {
    let mut out = String::new();
    let mut by_file: BTreeMap<&str, Vec<&super::TestResult>> = BTreeMap::new();
    for t in &run.tests {
        if verbose || matches!(t.status, Status::Fail | Status::Error) {
            by_file.entry(t.file.as_str()).or_default().push(t);
        }
    }
    for (file, tests) in by_file {
        out.push_str(&format!("{file}:\n"));
        for t in tests {
            out.push_str(&format!(
                "{}: {} ({:?})\n",
                t.name,
                status_word(t.status),
                Duration::from_nanos(t.duration_ns as u64)
            ));
            match t.status {
                // An error message carries its own position (where evaluation failed).
                Status::Error => out.push_str(&format!("  {}\n", t.message)),
                Status::Fail => out.push_str(&format!("  {}:{}: {}\n", t.file, t.line, t.message)),
                Status::Pass | Status::Skip => {}
            }
            for p in &t.prints {
                out.push_str(&format!("  {p}\n"));
            }
        }
        out.push('\n');
    }
    if let Some(files) = &run.coverage {
        out.push_str("Coverage:\n");
        for f in files {
            let missing: Vec<String> = f.not_covered.iter().map(u32::to_string).collect();
            out.push_str(&format!(
                "  {}: {:.2}% ({}/{} lines){}\n",
                f.file,
                f.percent(),
                f.covered.len(),
                f.covered.len() + f.not_covered.len(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(", not covered: {}", missing.join(","))
                }
            ));
        }
        out.push_str(&format!(
            "  total: {:.2}%\n",
            run.coverage_percent().unwrap_or(100.0)
        ));
    }
    let n = run.tests.len();
    out.push_str(&"-".repeat(80));
    out.push('\n');
    for (label, status) in [
        ("PASS", Status::Pass),
        ("FAIL", Status::Fail),
        ("ERROR", Status::Error),
        ("SKIPPED", Status::Skip),
    ] {
        let c = run.count(status);
        if c > 0 || status == Status::Pass {
            out.push_str(&format!("{label}: {c}/{n}\n"));
        }
    }
    out
}

/// `{"summary":{passed,failed,errored,skipped},"tests":[...],"coverage":...}`.
pub fn json(run: &TestRun) -> String {
    let value = serde_json::json!({
        "summary": {
            "passed": run.count(Status::Pass),
            "failed": run.count(Status::Fail),
            "errored": run.count(Status::Error),
            "skipped": run.count(Status::Skip),
            "coverage": run.coverage_percent(),
        },
        "tests": run.tests,
        "coverage": run.coverage,
    });
    let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
    s.push('\n');
    s
}

/// One suite per file, one case per test.
pub fn junit(run: &TestRun) -> String {
    let mut report = Report::new("policyctl test");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for t in &run.tests {
        let status = match t.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Skip => TestCaseStatus::skipped(),
            Status::Fail | Status::Error => {
                let kind = if t.status == Status::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(t.message.as_str());
                s
            }
        };
        let mut case = TestCase::new(t.name.as_str(), status);
        case.set_classname(t.file.as_str());
        case.set_time(Duration::from_nanos(t.duration_ns as u64));
        if !t.prints.is_empty() {
            case.set_system_out(t.prints.join("\n"));
        }
        suites
            .entry(t.file.as_str())
            .or_insert_with(|| TestSuite::new(t.file.as_str()))
            .add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report.to_string().unwrap_or_default()
}
