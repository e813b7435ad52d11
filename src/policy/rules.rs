//! conftest's rule conventions and the rule index built from regorus's module AST.

use super::{Package, RuleRef, Source};
use regex::Regex;
use regorus::unstable::{Expr, Parser, Rule, RuleHead};
use regorus::Engine;
use std::sync::LazyLock;

/// What a rule's results mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Failure,
    Warning,
}

static FAILURE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(deny|violation)(_[a-zA-Z0-9]+)*$").expect("static regex"));
static WARNING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^warn(_[a-zA-Z0-9]+)*$").expect("static regex"));

/// `deny_x`/`violation_x` are failures, `warn_x` warnings, anything else is not a check.
pub fn classify(rule: &str) -> Option<RuleKind> {
    if FAILURE.is_match(rule) {
        Some(RuleKind::Failure)
    } else if WARNING.is_match(rule) {
        Some(RuleKind::Warning)
    } else {
        None
    }
}

/// The name an exception uses for a rule: `deny_run_as_root` -> `run_as_root`, `deny` -> "".
pub fn exception_name(rule: &str) -> &str {
    for prefix in ["deny", "violation", "warn"] {
        if let Some(rest) = rule.strip_prefix(prefix) {
            return rest.strip_prefix('_').unwrap_or(rest);
        }
    }
    rule
}

fn text_of(span_text: &str) -> String {
    span_text.trim_matches('"').to_string()
}

/// Lists, per package, the conftest-convention rules, `exception`, and `test_*` rules.
pub(super) fn index(engine: &mut Engine, sources: &[Source]) -> Vec<Package> {
    let mut packages: Vec<Package> = Vec::new();
    for module in engine.get_modules().iter() {
        let Ok(comps) = Parser::get_path_ref_components(&module.package.refr) else {
            continue;
        };
        let name = comps
            .iter()
            .map(|s| text_of(s.text()))
            .collect::<Vec<_>>()
            .join(".");
        let file = module.package.span.source.get_path().clone();
        let builtin = sources.iter().any(|s| s.path == file && s.builtin);
        let idx = match packages.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                packages.push(Package {
                    name: name.clone(),
                    builtin,
                    rules: Vec::new(),
                    has_exception: false,
                    tests: Vec::new(),
                });
                packages.len() - 1
            }
        };
        let pkg = &mut packages[idx];
        for rule in &module.policy {
            let Rule::Spec { head, span, .. } = rule.as_ref() else {
                continue;
            };
            let refr = match head {
                RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => refr,
                RuleHead::Func { refr, .. } => {
                    // Tests with arguments are not tests; functions are never checks.
                    let _ = refr;
                    continue;
                }
            };
            let Some(first) = Parser::get_path_ref_components(refr)
                .ok()
                .and_then(|c| c.first().map(|s| text_of(s.text())))
            else {
                continue;
            };
            if first == "exception" {
                pkg.has_exception = true;
            } else if first.starts_with("test_") || first.starts_with("todo_test_") {
                pkg.tests.push((first, file.clone(), span.line as usize));
            } else if let Some(kind) = classify(&first) {
                if !pkg.rules.iter().any(|r| r.name == first) {
                    pkg.rules.push(RuleRef {
                        path: format!("data.{name}.{first}"),
                        name: first,
                        kind,
                    });
                }
            }
        }
    }
    packages
}

/// conftest's check for OPA issue 6509: in a Rego v1 module (or one importing `rego.v1`),
/// `deny[msg] if { … }` is a partial *object* rule (`deny[msg] = true`), not the set of
/// messages conftest reads, for every deny/violation/warn rule. Returns (file, line, rule).
pub(super) fn if_without_contains(engine: &mut Engine) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for module in engine.get_modules().iter() {
        let v1 = module.rego_v1
            || module.imports.iter().any(|i| {
                Parser::get_path_ref_components(&i.refr)
                    .map(|c| c.iter().map(|s| s.text()).collect::<Vec<_>>() == ["rego", "v1"])
                    .unwrap_or(false)
            });
        if !v1 {
            continue;
        }
        for rule in &module.policy {
            let Rule::Spec { head, span, .. } = rule.as_ref() else {
                continue;
            };
            let RuleHead::Compr {
                refr, assign: None, ..
            } = head
            else {
                continue;
            };
            let Expr::RefBrack { refr: base, .. } = refr.as_ref() else {
                continue;
            };
            let Expr::Var { span: name, .. } = base.as_ref() else {
                continue;
            };
            let name = name.text().to_string();
            if classify(&name).is_some() {
                let file = module.package.span.source.get_path().clone();
                out.push((file, span.line as usize, name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert_eq!(classify("deny"), Some(RuleKind::Failure));
        assert_eq!(classify("violation_no_root"), Some(RuleKind::Failure));
        assert_eq!(classify("warn_latest"), Some(RuleKind::Warning));
        assert_eq!(classify("denylist"), None);
        assert_eq!(classify("deny_"), None);
        assert_eq!(exception_name("deny_run_as_root"), "run_as_root");
        assert_eq!(exception_name("violation"), "");
    }
}
