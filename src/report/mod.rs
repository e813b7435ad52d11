//! Renderers: one function per output format, each a pure rendering of a [`Decision`].
//! No renderer computes verdicts or counts; `finding` does that once.

mod github;
mod junit;
mod policyreport;
mod sarif;
mod tap;
mod text;

use crate::finding::Decision;

/// `-o/--output` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, coloured on a terminal, with a summary line.
    #[value(alias = "stdout")]
    Text,
    /// `{"summary":{...},"findings":[...],"errors":[...]}`.
    Json,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// JUnit XML for GitLab, Jenkins, Azure DevOps test reports.
    Junit,
    /// GitHub Actions workflow commands that annotate the pull request diff.
    Github,
    /// Test Anything Protocol.
    Tap,
    /// A table of findings.
    Table,
    /// wgpolicyk8s.io/v1alpha2 PolicyReports per namespace and a ClusterPolicyReport (YAML
    /// for `kubectl apply -f -`; Policy Reporter shows them), one result per rule and resource.
    Policyreport,
}

impl Format {
    /// Whether the format reports each pass (one case per rule and resource), so the
    /// evaluation must record them rather than only count them.
    pub fn reports_passes(self) -> bool {
        matches!(self, Format::Junit | Format::Tap | Format::Policyreport)
    }
}

/// Renders the decision in the chosen format. `color` only affects `text`.
pub fn render(decision: &Decision, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(decision, color),
        Format::Json => json(decision),
        Format::Sarif => sarif::render(decision),
        Format::Junit => junit::render(decision),
        Format::Github => github::render(decision),
        Format::Tap => tap::render(decision),
        Format::Table => text::table(decision),
        Format::Policyreport => policyreport::render(decision),
    }
}

fn json(decision: &Decision) -> String {
    let mut s =
        serde_json::to_string_pretty(decision).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// `file:line` (or just `file` when the line is unknown).
pub(crate) fn location(file: &str, line: usize) -> String {
    if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}")
    }
}

/// Text output without its summary line (`--quiet`): what remains are the findings and errors.
pub fn without_summary(text: &str) -> String {
    text::strip_summary(text)
}
