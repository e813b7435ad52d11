//! GitHub Actions workflow commands (`::error file=…,line=…,title=…::message`), which annotate
//! the pull request diff at the finding's line.

use crate::finding::{Decision, Severity};

/// Escaping from the Actions toolkit: data escapes `%`, CR, LF; properties also `:` and `,`.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(super) fn render(d: &Decision) -> String {
    let mut out = String::new();
    for f in &d.findings {
        let level = match f.severity {
            Severity::Failure => "error",
            Severity::Warning => "warning",
            Severity::Exception | Severity::Dryrun => "notice",
        };
        let mut props = format!("file={}", prop(&f.file));
        if f.line > 0 {
            props.push_str(&format!(",line={}", f.line));
        }
        props.push_str(&format!(
            ",title={}",
            prop(&format!("{}/{}", f.policy, f.rule))
        ));
        let resource = f
            .resource
            .as_ref()
            .map(|r| format!("{}: ", r.display()))
            .unwrap_or_default();
        out.push_str(&format!(
            "::{level} {props}::{}\n",
            data(&format!("{resource}{}", f.message))
        ));
    }
    for e in &d.errors {
        let mut props = format!("file={}", prop(&e.file));
        if e.line > 0 {
            props.push_str(&format!(",line={}", e.line));
        }
        out.push_str(&format!(
            "::error {props},title=policyctl error::{}\n",
            data(&e.message)
        ));
    }
    let s = &d.summary;
    out.push_str(&format!(
        "{} passed, {} warnings, {} failures, {} exceptions, {} errors\n",
        s.passed,
        s.warnings,
        s.failures,
        s.exceptions,
        d.errors.len()
    ));
    out
}
