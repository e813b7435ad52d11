//! Test Anything Protocol: one test point per finding and per error; passing rules as one `ok`.

use super::location;
use crate::finding::{Decision, Severity};

pub(super) fn render(d: &Decision) -> String {
    let mut lines = Vec::new();
    for f in &d.findings {
        let (status, directive) = match f.severity {
            Severity::Failure => ("not ok", String::new()),
            Severity::Warning => ("ok", " # TODO warning".to_string()),
            Severity::Exception => ("ok", " # SKIP exception".to_string()),
            Severity::Dryrun => ("ok", " # SKIP dryrun".to_string()),
        };
        lines.push((
            status,
            format!(
                "{} - {}/{} - {}{directive}",
                location(&f.file, f.line),
                f.policy,
                f.rule,
                f.message
            ),
        ));
    }
    for e in &d.errors {
        lines.push((
            "not ok",
            format!("{} - error - {}", location(&e.file, e.line), e.message),
        ));
    }
    if d.summary.passed > 0 {
        lines.push((
            "ok",
            format!("{} rule evaluations passed", d.summary.passed),
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
