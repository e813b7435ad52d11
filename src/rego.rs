//! The Rego engine as every part of policyctl uses it: one dialect switch, one way to create an
//! engine (OPA's builtin-error semantics, print() gathered), to add a source (v1 first, v0 as
//! fallback, `http.send` refused), to prepare it, and to read regorus's errors as file:line.
//! Shared by the policy loader, Gatekeeper templates and image-policy Rego, so verification
//! does not depend on the loader. It must not know about conftest conventions or inputs.

use crate::finding::ToolError;
use regorus::Engine;

/// Which Rego dialect to parse a file as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RegoVersion {
    V0,
    V1,
}

/// One policy file's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// Display path: the file path, or `builtin:/k8s/privileged.rego`.
    pub path: String,
    pub text: String,
    pub builtin: bool,
}

impl Source {
    pub fn is_test(&self) -> bool {
        self.path.ends_with("_test.rego")
    }

    pub fn is_rego(&self) -> bool {
        self.path.ends_with(".rego")
    }
}

/// A fresh engine with the settings every policyctl engine shares.
pub fn new_engine() -> Engine {
    let mut engine = Engine::new();
    // OPA's default: a builtin error makes the expression undefined instead of failing the query.
    engine.set_strict_builtin_errors(false);
    // OPA's negation: the operands of a `not` (call arguments, dynamic indexes) are evaluated
    // before it, so `not f(input.missing)` fails as in OPA instead of succeeding (patched
    // regorus, third_party/regorus/PATCHES.md).
    engine.set_opa_negation(true);
    // print() output is collected and attributed to the input it was printed for (or dropped,
    // during preparation), never written straight to stderr by the engine.
    engine.set_gather_prints(true);
    engine
}

/// Parses one source into `engine`, trying Rego v1 first and falling back to v0 unless forced.
pub fn add_source(
    engine: &mut Engine,
    src: &Source,
    forced: Option<RegoVersion>,
) -> Result<(), ToolError> {
    if let Some(reason) = unsupported_builtin(&src.text) {
        return Err(ToolError::new(src.path.as_str(), reason.0, reason.1));
    }
    let attempt = |engine: &mut Engine, v0: bool| {
        engine.set_rego_v0(v0);
        engine.add_policy(src.path.clone(), src.text.clone())
    };
    let result = match forced {
        Some(RegoVersion::V1) => attempt(engine, false),
        Some(RegoVersion::V0) => attempt(engine, true),
        None => attempt(engine, false).or_else(|v1_err| {
            attempt(engine, true).map_err(|v0_err| {
                // Report the dialect the file was most likely written in.
                if looks_like_v1(&src.text) {
                    v1_err
                } else {
                    v0_err
                }
            })
        }),
    };
    engine.set_rego_v0(false);
    result
        .map(|_| ())
        .map_err(|e| rego_error(&src.path, &e.to_string()))
}

fn looks_like_v1(text: &str) -> bool {
    text.contains("import rego.v1")
        || text.contains(" if {")
        || text.contains(" if ")
        || text.contains(" contains ")
}

/// `http.send` would silently evaluate to undefined in regorus, letting a policy pass: refuse it.
fn unsupported_builtin(text: &str) -> Option<(usize, String)> {
    for (i, line) in text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or("");
        if code.contains("http.send(") {
            return Some((
                i + 1,
                "http.send is not supported: policyctl evaluates offline and refuses policies that \
                 would silently pass without their network call"
                    .into(),
            ));
        }
    }
    None
}

/// Turns a regorus error (rustc-style, with `--> file:line:col`) into a ToolError.
pub fn rego_error(default_file: &str, msg: &str) -> ToolError {
    let mut file = default_file.to_string();
    let (mut line, mut column) = (0, 0);
    for l in msg.lines() {
        if let Some(loc) = l.trim().strip_prefix("--> ") {
            let mut parts = loc.rsplitn(3, ':');
            let col = parts.next().and_then(|s| s.parse().ok());
            let ln = parts.next().and_then(|s| s.parse().ok());
            if let (Some(ln), Some(f)) = (ln, parts.next()) {
                file = f.to_string();
                line = ln;
                column = col.unwrap_or(0);
            }
            break;
        }
    }
    let headline = msg
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| msg.lines().next().unwrap_or(msg).trim().to_string());
    ToolError::new(file, line, headline).with_column(column)
}

/// Prepares (compiles) `engine` by evaluating `rule` once, as regorus only prepares on first
/// evaluation. That evaluation sees no input, so a rule that ignores the input would run in
/// full here: it is cut short after a bound, which still leaves the engine prepared (a
/// time-limit error is not a compile error).
pub(crate) fn prepare_rule(engine: &mut Engine, rule: &str) -> Result<(), String> {
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: std::time::Duration::from_secs(1),
        check_interval: std::num::NonZeroU32::MIN.saturating_add(255),
    });
    let result = match engine.eval_rule(rule.to_string()) {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("exceeded time limit") => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    engine.clear_execution_timer_config();
    // What preparation printed belongs to no input.
    let _ = engine.take_prints();
    result
}
