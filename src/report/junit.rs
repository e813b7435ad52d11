//! JUnit XML: one test suite per input file, one test case per finding (failures fail, warnings
//! carry system-out, exceptions and dryruns are skipped), errors as `<error>`.

use crate::finding::{Decision, Severity};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;

pub(super) fn render(d: &Decision) -> String {
    let mut report = Report::new("policyctl");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for f in &d.findings {
        let name = format!(
            "{}/{}{}: {}",
            f.policy,
            f.rule,
            f.resource
                .as_ref()
                .map(|r| format!(" {}", r.display()))
                .unwrap_or_default(),
            f.message
        );
        let status = match f.severity {
            Severity::Failure => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(f.message.as_str());
                s.set_type("failure");
                s.set_description(format!("{}:{}: {}", f.file, f.line, f.message));
                s
            }
            Severity::Warning => TestCaseStatus::success(),
            Severity::Exception | Severity::Dryrun => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(f.severity.as_str());
                s
            }
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(f.file.as_str());
        if f.severity == Severity::Warning {
            case.set_system_out(format!("warning: {}:{}: {}", f.file, f.line, f.message));
        }
        suites
            .entry(f.file.as_str())
            .or_insert_with(|| TestSuite::new(f.file.as_str()))
            .add_test_case(case);
    }
    for e in &d.errors {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_message(e.message.as_str());
        s.set_type("error");
        let mut case = TestCase::new(format!("error: {}", e.message), s);
        case.set_classname(e.file.as_str());
        suites
            .entry(e.file.as_str())
            .or_insert_with(|| TestSuite::new(e.file.as_str()))
            .add_test_case(case);
    }
    if d.summary.passed > 0 {
        let mut suite = TestSuite::new("passed");
        let case = TestCase::new(
            format!("{} rule evaluations passed", d.summary.passed),
            TestCaseStatus::success(),
        );
        suite.add_test_case(case);
        suites.insert("", suite);
    }
    report.add_test_suites(suites.into_values());
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->\n"))
}
