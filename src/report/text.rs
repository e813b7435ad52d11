//! `text` (conftest-like lines plus a summary) and `table`.

use super::location;
use crate::finding::{Decision, Severity};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const RESET: &str = "\x1b[0m";

fn label(sev: Severity) -> (&'static str, &'static str) {
    match sev {
        Severity::Failure => ("FAIL", RED),
        Severity::Warning => ("WARN", YELLOW),
        Severity::Exception => ("EXCP", BLUE),
        Severity::Dryrun => ("DRYRUN", BLUE),
    }
}

pub(super) fn render(d: &Decision, color: bool) -> String {
    let mut out = String::new();
    let paint = |s: &str, c: &str| {
        if color {
            format!("{c}{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    for f in &d.findings {
        let (tag, c) = label(f.severity);
        let resource = f
            .resource
            .as_ref()
            .map(|r| format!(" ({})", r.display()))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} - {}{} - {}/{} - {}\n",
            paint(tag, c),
            location(&f.file, f.line),
            resource,
            f.policy,
            f.rule,
            f.message
        ));
    }
    for e in &d.errors {
        out.push_str(&format!("{} - {}\n", paint("ERROR", RED), e.display()));
    }
    let s = &d.summary;
    let tests = s.passed + s.failures + s.warnings + s.exceptions + s.dryrun;
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "{tests} tests, {} passed, {} warnings, {} failures, {} exceptions{}{} ({} files, {} resources{})\n",
        s.passed,
        s.warnings,
        s.failures,
        s.exceptions,
        if s.dryrun > 0 { format!(", {} dryrun", s.dryrun) } else { String::new() },
        if d.errors.is_empty() { String::new() } else { format!(", {} errors", d.errors.len()) },
        s.files,
        s.resources,
        if s.policies.is_empty() { String::new() } else { format!("; policies: {}", s.policies) },
    ));
    out
}

pub(super) fn table(d: &Decision) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "RESULT", "LOCATION", "RESOURCE", "POLICY", "RULE", "MESSAGE",
    ]);
    for f in &d.findings {
        t.add_row([
            label(f.severity).0.to_string(),
            location(&f.file, f.line),
            f.resource.as_ref().map(|r| r.display()).unwrap_or_default(),
            f.policy.clone(),
            f.rule.clone(),
            f.message.clone(),
        ]);
    }
    for e in &d.errors {
        t.add_row([
            "ERROR".to_string(),
            location(&e.file, e.line),
            String::new(),
            String::new(),
            String::new(),
            e.message.clone(),
        ]);
    }
    let s = &d.summary;
    format!(
        "{t}\n{} passed, {} warnings, {} failures, {} exceptions, {} errors\n",
        s.passed,
        s.warnings,
        s.failures,
        s.exceptions,
        d.errors.len()
    )
}

/// `render`'s output without its summary line (always the last line, after a blank line when
/// anything precedes it).
pub(super) fn strip_summary(text: &str) -> String {
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rfind('\n') {
        Some(i) => {
            let rest = &body[..i];
            let rest = rest.strip_suffix('\n').unwrap_or(rest);
            if rest.is_empty() {
                String::new()
            } else {
                format!("{rest}\n")
            }
        }
        None => String::new(),
    }
}
