//! The one result type. Every check yields [`Finding`]s, every failure to do a job yields a
//! [`ToolError`], and both are collected into a [`Decision`] that every output format renders.
//! This module owns severity and exit-code semantics; it must not know about flags or formats.

use serde::Serialize;

/// How a finding counts towards the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the run (`deny*`, `violation*`, constraint `enforcementAction: deny`).
    Failure,
    /// Reported; fails only with `--fail-on-warn` (`warn*`, `enforcementAction: warn`).
    Warning,
    /// A failure that an exception (`data.<ns>.exception`) turned off.
    Exception,
    /// Reported only (`enforcementAction: dryrun`), never fails.
    Dryrun,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Failure => "failure",
            Severity::Warning => "warning",
            Severity::Exception => "exception",
            Severity::Dryrun => "dryrun",
        }
    }
}

/// The Kubernetes-style identity of the object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Resource {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

impl Resource {
    /// `Kind/namespace/name` or `Kind/name`, for humans.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// One policy result about one input document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub file: String,
    /// 1-based line of the document or resource; 0 when unknown.
    pub line: usize,
    pub resource: Option<Resource>,
    /// The Rego package (`main`, `policyctl.k8s.privileged`) or `<Kind>/<constraint>`.
    pub policy: String,
    /// The rule that produced the result (`deny_run_as_root`, `violation`).
    pub rule: String,
    pub message: String,
    /// Any other keys of an object result (conftest metadata), else null.
    pub details: serde_json::Value,
}

/// Something policyctl could not do: an unreadable or unparsable input, a broken policy, a policy
/// that errored at runtime. Reported beside the findings; makes the run exit 2.
/// A rule (or constraint, or image policy) that a resource passed: recorded only when the
/// output reports passes one by one (JUnit, TAP, PolicyReport), else only counted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pass {
    pub file: String,
    pub line: usize,
    pub resource: Option<Resource>,
    pub policy: String,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolError {
    /// The file the error is about (input or policy); empty for global errors.
    pub file: String,
    /// 1-based line when known, else 0.
    pub line: usize,
    /// 1-based column when known (policy syntax errors), else 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub column: usize,
    pub message: String,
}

impl ToolError {
    pub fn new(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        ToolError {
            file: file.into(),
            line,
            column: 0,
            message: message.into(),
        }
    }

    pub fn with_column(mut self, column: usize) -> Self {
        self.column = column;
        self
    }

    /// `file:line: message`, the form editors and CI logs link.
    pub fn display(&self) -> String {
        match (self.file.is_empty(), self.line, self.column) {
            (true, _, _) => self.message.clone(),
            (false, 0, _) => format!("{}: {}", self.file, self.message),
            (false, l, 0) => format!("{}:{}: {}", self.file, l, self.message),
            (false, l, c) => format!("{}:{}:{}: {}", self.file, l, c, self.message),
        }
    }
}

/// Counts for the summary line and the JSON `summary` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub files: usize,
    pub resources: usize,
    /// (document, rule) evaluations that produced no finding.
    pub passed: usize,
    pub warnings: usize,
    pub failures: usize,
    pub exceptions: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub dryrun: usize,
    /// Which policies ran when `-p` was not given (`./policy` or the built-in library).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub policies: String,
    /// Hints about the run that are not errors (e.g. a probably missing `--parser`), as
    /// `file:line: message`; shown on stderr, never change the exit code.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Everything one run found. Every renderer takes this and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Decision {
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub errors: Vec<ToolError>,
    /// `print()` output of the policies, each line attributed to its input file and line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prints: Vec<String>,
    /// Each pass, when the output asked for them (see [`Pass`]); `summary.passed` counts them
    /// either way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub passes: Vec<Pass>,
    /// `policy/rule` -> title and description from `# METADATA`, for reports that describe
    /// rules (SARIF).
    #[serde(skip)]
    pub rule_docs: std::collections::BTreeMap<String, crate::policy::annotations::RuleDoc>,
}

/// What the caller wants the exit code to mean.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExitPolicy {
    pub fail_on_warn: bool,
    pub no_fail: bool,
}

impl Decision {
    /// Recomputes severity counts from the findings (the single place that counts).
    pub fn recount(&mut self) {
        let (mut w, mut f, mut e, mut d) = (0, 0, 0, 0);
        for finding in &self.findings {
            match finding.severity {
                Severity::Failure => f += 1,
                Severity::Warning => w += 1,
                Severity::Exception => e += 1,
                Severity::Dryrun => d += 1,
            }
        }
        self.summary.failures = f;
        self.summary.warnings = w;
        self.summary.exceptions = e;
        self.summary.dryrun = d;
    }

    /// Stable order: file, line, policy, rule, message — outputs must not depend on thread timing.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.file, a.line, &a.policy, &a.rule, &a.message, a.severity)
                .cmp(&(&b.file, b.line, &b.policy, &b.rule, &b.message, b.severity))
        });
        self.errors
            .sort_by(|a, b| (&a.file, a.line, &a.message).cmp(&(&b.file, b.line, &b.message)));
        self.passes.sort();
    }

    /// One case per (file, line, resource, policy, rule): its findings (empty for a pass),
    /// ordered by location, then policy and rule — the shape of JUnit and TAP reports, where a
    /// rule evaluated against a resource is one test.
    pub fn cases(&self) -> Vec<Case<'_>> {
        let mut cases: std::collections::BTreeMap<CaseKey<'_>, Vec<&Finding>> =
            std::collections::BTreeMap::new();
        for f in &self.findings {
            cases
                .entry((&f.file, f.line, f.resource.as_ref(), &f.policy, &f.rule))
                .or_default()
                .push(f);
        }
        for p in &self.passes {
            cases
                .entry((&p.file, p.line, p.resource.as_ref(), &p.policy, &p.rule))
                .or_default();
        }
        cases
            .into_iter()
            .map(|((file, line, resource, policy, rule), findings)| Case {
                file,
                line,
                resource,
                policy,
                rule,
                findings,
            })
            .collect()
    }
}

type CaseKey<'a> = (&'a str, usize, Option<&'a Resource>, &'a str, &'a str);

/// A rule evaluated against one resource, with what it found (nothing: it passed).
pub struct Case<'a> {
    pub file: &'a str,
    pub line: usize,
    pub resource: Option<&'a Resource>,
    pub policy: &'a str,
    pub rule: &'a str,
    pub findings: Vec<&'a Finding>,
}

impl Case<'_> {
    /// The most severe outcome of the case: failure, then warning, then exception/dryrun;
    /// `None` for a pass.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).min()
    }

    /// `policy/rule resource` — the case's name in reports.
    pub fn name(&self) -> String {
        format!(
            "{}/{}{}",
            self.policy,
            self.rule,
            self.resource
                .map(|r| format!(" {}", r.display()))
                .unwrap_or_default()
        )
    }
}

impl Decision {
    /// 0 pass, 1 findings that fail, 2 policyctl could not do its job.
    pub fn exit_code(&self, policy: ExitPolicy) -> u8 {
        if !self.errors.is_empty() {
            return 2;
        }
        if policy.no_fail {
            return 0;
        }
        let failing =
            self.summary.failures > 0 || (policy.fail_on_warn && self.summary.warnings > 0);
        u8::from(failing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            severity,
            file: "a.yaml".into(),
            line: 1,
            resource: None,
            policy: "main".into(),
            rule: "deny".into(),
            message: "m".into(),
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn exit_codes_follow_severity_and_flags() {
        let mut d = Decision {
            findings: vec![finding(Severity::Warning)],
            ..Default::default()
        };
        d.recount();
        assert_eq!(d.exit_code(ExitPolicy::default()), 0);
        let strict = ExitPolicy {
            fail_on_warn: true,
            no_fail: false,
        };
        assert_eq!(d.exit_code(strict), 1);
        d.findings.push(finding(Severity::Failure));
        d.recount();
        assert_eq!(d.exit_code(ExitPolicy::default()), 1);
        let lenient = ExitPolicy {
            fail_on_warn: false,
            no_fail: true,
        };
        assert_eq!(d.exit_code(lenient), 0);
        d.errors.push(ToolError::new("x", 0, "boom"));
        assert_eq!(d.exit_code(lenient), 2, "--no-fail never hides errors");
    }

    #[test]
    fn exceptions_and_dryrun_never_fail() {
        let mut d = Decision {
            findings: vec![finding(Severity::Exception), finding(Severity::Dryrun)],
            ..Default::default()
        };
        d.recount();
        assert_eq!((d.summary.exceptions, d.summary.dryrun), (1, 1));
        assert_eq!(
            d.exit_code(ExitPolicy {
                fail_on_warn: true,
                no_fail: false
            }),
            0
        );
    }
}
