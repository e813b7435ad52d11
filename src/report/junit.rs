//! JUnit XML: one test suite per input file, one test case per rule evaluated against a
//! resource (conftest's shape: passes included) — failures fail, warnings pass with their
//! messages in system-out, exceptions and dryruns are skipped — and errors as `<error>`.

use crate::finding::{Decision, Severity};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;

pub(super) fn render(d: &Decision) -> String {
    let mut report = Report::new("policyctl");
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for case in d.cases() {
        let messages: Vec<String> = case
            .findings
            .iter()
            .map(|f| format!("{}:{}: {}", f.file, f.line, f.message))
            .collect();
        let status = match case.worst() {
            None | Some(Severity::Warning) => TestCaseStatus::success(),
            Some(Severity::Failure) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let failing: Vec<&str> = case
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Failure)
                    .map(|f| f.message.as_str())
                    .collect();
                s.set_message(failing.join("; "));
                s.set_type("failure");
                s.set_description(messages.join("\n"));
                s
            }
            Some(sev @ (Severity::Exception | Severity::Dryrun)) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(sev.as_str());
                s
            }
        };
        let mut tc = TestCase::new(case.name(), status);
        tc.set_classname(case.file);
        if case.worst() == Some(Severity::Warning) {
            tc.set_system_out(
                messages
                    .iter()
                    .map(|m| format!("warning: {m}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        suites
            .entry(case.file)
            .or_insert_with(|| TestSuite::new(case.file))
            .add_test_case(tc);
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
    report.add_test_suites(suites.into_values());
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->\n"))
}
