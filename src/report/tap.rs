//! Test Anything Protocol: one test point per rule evaluated against a resource (conftest's
//! shape: passes included), and one per error.

use super::location;
use crate::finding::{Decision, Severity};

pub(super) fn render(d: &Decision) -> String {
    let mut lines = Vec::new();
    for case in d.cases() {
        let messages: Vec<&str> = case.findings.iter().map(|f| f.message.as_str()).collect();
        let (status, directive) = match case.worst() {
            None => ("ok", String::new()),
            Some(Severity::Failure) => ("not ok", String::new()),
            Some(Severity::Warning) => ("ok", " # TODO warning".to_string()),
            Some(Severity::Exception) => ("ok", " # SKIP exception".to_string()),
            Some(Severity::Dryrun) => ("ok", " # SKIP dryrun".to_string()),
        };
        let detail = if messages.is_empty() {
            String::new()
        } else {
            format!(" - {}", messages.join("; "))
        };
        lines.push((
            status,
            format!(
                "{} - {}{detail}{directive}",
                location(case.file, case.line),
                case.name()
            ),
        ));
    }
    for e in &d.errors {
        lines.push((
            "not ok",
            format!("{} - error - {}", location(&e.file, e.line), e.message),
        ));
    }
    let mut out = format!("1..{}\n", lines.len());
    for (i, (status, text)) in lines.iter().enumerate() {
        out.push_str(&format!(
            "{status} {} - {}\n",
            i + 1,
            text.replace('\n', " ")
        ));
    }
    out
}
