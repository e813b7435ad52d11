//! Evaluation: one document in, findings out. Owns how rule results become [`Finding`]s
//! (conftest's result shapes, `_loc`, exceptions). It must not read files or render output.

pub mod gatekeeper;
pub mod supply_chain;

use crate::finding::{Finding, Severity, ToolError};
use crate::input::Document;
use crate::policy::gatekeeper::Gatekeeper;
use crate::policy::{exception_name, PolicySet, RuleKind, RuleRef};
use globset::{Glob, GlobSet, GlobSetBuilder};
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

/// How Rego runs (`--rego-engine`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RegoEngine {
    /// Compiled for regorus's VM (RVM) when its compiler accepts the policy set, else
    /// interpreted. A compiled run that fails (a conflict, a builtin error) is re-run on the
    /// interpreter, which attributes the error to its rule.
    #[default]
    Auto,
    /// Always regorus's interpreter (slower; the same verdicts).
    Interpreter,
    /// Only the compiled VM: refuses a policy set its compiler cannot compile, and reports a
    /// runtime error (a conflict) as is instead of re-running the document on the interpreter.
    /// For checking parity and investigating; `auto` is the one to deploy.
    Compiled,
}

/// Which packages a run evaluates (`-n`, `--all-namespaces`).
#[derive(Debug, Clone)]
pub enum Namespaces {
    /// `main` plus every package of the built-in library (the default).
    Default,
    All,
    Globs(GlobSet),
}

impl Namespaces {
    pub fn from_globs(globs: &[String]) -> Result<Self, String> {
        let mut b = GlobSetBuilder::new();
        for g in globs {
            // Package names use dots; `*` must not stop at them, so no literal separator.
            b.add(Glob::new(g).map_err(|e| format!("invalid namespace glob {g:?}: {e}"))?);
        }
        b.build().map(Namespaces::Globs).map_err(|e| e.to_string())
    }

    fn selects(&self, package: &str, builtin: bool) -> bool {
        match self {
            Namespaces::Default => package == "main" || builtin,
            Namespaces::All => true,
            Namespaces::Globs(set) => set.is_match(package),
        }
    }
}

struct Selected {
    package: String,
    rules: Vec<RuleRef>,
    exception_path: Option<String>,
}

/// Package of the synthetic module that gathers every selected rule into one object, so one
/// evaluation per document shares helper rules (e.g. `lib.k8s.containers`) across all policies
/// instead of recomputing them for every rule.
const BATCH_PACKAGE: &str = "policyctl_internal_batch";
const BATCH_RULE: &str = "data.policyctl_internal_batch_all.all";
/// The same batch for regorus's bytecode VM (RVM), which compiles one entry rule: an object of
/// one-element-or-empty arrays, so an undefined rule leaves its slot empty instead of making the
/// whole object undefined.
const COMPILED_PACKAGE: &str = "policyctl_internal_compiled";
const COMPILED_RULE: &str = "data.policyctl_internal_compiled.all";

/// The batch compiled to RVM bytecode: ~3× faster per document than the tree-walking
/// interpreter (docs/benchmarks.md). Absent when the RVM compiler refuses a construct the policies
/// use (e.g. `data` read as a whole, `with`); every document then takes the interpreter path,
/// which is also the fallback whenever a compiled run fails, so errors are still attributed to
/// the rule that raised them.
struct Compiled {
    policy: regorus::CompiledPolicy,
    program: Arc<regorus::rvm::Program>,
}

thread_local! {
    /// The compiled batch's VM last used on this thread, with the program it was loaded with
    /// (held, so the identity check cannot match a later program at a reused address).
    static REUSED_VM: std::cell::RefCell<Option<(Arc<regorus::rvm::Program>, regorus::rvm::RegoVM)>> =
        const { std::cell::RefCell::new(None) };
}

/// What one file's documents are evaluated with: the prepared engine, the data document
/// (including `data.conftest.file` when policies read it) and an optional time limit.
#[derive(Clone)]
pub struct Scope {
    /// Shared: cloning a scope (the webhook does, per request, to set its deadline) must not
    /// copy the engine; the interpreter path clones it when it needs one.
    engine: Arc<Engine>,
    data: Value,
    timer: Option<ExecutionTimerConfig>,
}

impl Scope {
    /// Stops every evaluation in this scope after `limit` (regorus's execution timer, checked
    /// every 256 steps), so a runaway policy cannot hold a thread past a deadline.
    pub fn set_time_limit(&mut self, limit: Duration) {
        self.timer = Some(ExecutionTimerConfig {
            limit,
            check_interval: std::num::NonZeroU32::MIN.saturating_add(255),
        });
    }

    /// An engine of this scope to evaluate on, with its time limit.
    fn engine(&self) -> Engine {
        let mut engine = (*self.engine).clone();
        if let Some(timer) = self.timer {
            engine.set_execution_timer_config(timer);
        }
        engine
    }
}

/// Evaluates documents against a prepared policy set. Cheap to share across threads: each call
/// clones the prepared engine.
pub struct Evaluator {
    engine: Engine,
    selected: Vec<Selected>,
    uses_conftest_data: bool,
    /// The engine carries the batch module (see [`BATCH_PACKAGE`]).
    batched: bool,
    compiled: Option<Compiled>,
    /// Why the batch was not compiled (the RVM compiler's message), for `--rego-engine compiled`.
    compile_error: Option<String>,
    /// `--rego-engine compiled`: a failed compiled run is reported, not retried.
    compiled_only: bool,
    /// Record each pass (for outputs with one case per rule and resource).
    record_passes: bool,
    /// The data document of the policy set (without rules), as the compiled batch reads it.
    data: Value,
    gatekeeper: Gatekeeper,
    supply: Option<supply_chain::SupplyChain>,
}

/// The result of evaluating one document.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub errors: Vec<ToolError>,
    /// Rules evaluated that produced nothing.
    pub passed: usize,
    /// `print()` output, as `<input file>:<line>: <policy file>:<line>: <message>`.
    pub prints: Vec<String>,
    /// Each pass, when [`Evaluator::recording_passes`] asked for them.
    pub passes: Vec<crate::finding::Pass>,
    record_passes: bool,
}

impl Outcome {
    /// Counts a pass of `policy`/`rule` by `doc`, and records it when asked to (`policy` is
    /// only built then: counting is the webhook's hot path).
    pub(crate) fn pass<P: ToString>(
        &mut self,
        doc: &Document,
        policy: impl FnOnce() -> P,
        rule: &str,
    ) {
        self.passed += 1;
        if self.record_passes {
            let policy = policy();
            self.passes.push(crate::finding::Pass {
                file: doc.file.clone(),
                line: doc.line,
                resource: doc.resource.clone(),
                policy: policy.to_string(),
                rule: rule.to_string(),
            });
        }
    }
}

/// Which value a result slot holds.
enum Slot<'a> {
    Exception(usize, &'a str),
    Rule(usize, &'a str),
}

/// `data["a"]["b"]["deny"]`: a reference that survives any package or rule name.
fn bracket_ref(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches("data.").split('.').collect();
    let mut out = String::from("data");
    for p in parts {
        out.push_str(&format!("[{}]", serde_json::Value::String(p.to_string())));
    }
    out
}

impl Evaluator {
    pub fn new(set: &PolicySet, namespaces: &Namespaces) -> Self {
        let selected: Vec<Selected> = set
            .packages
            .iter()
            .filter(|p| !p.rules.is_empty() && namespaces.selects(&p.name, p.builtin))
            .map(|p| Selected {
                package: p.name.clone(),
                rules: p.rules.clone(),
                exception_path: p
                    .has_exception
                    .then(|| format!("data.{}.exception", p.name)),
            })
            .collect();
        let mut evaluator = Evaluator {
            engine: set.engine.clone(),
            selected,
            uses_conftest_data: set.uses_conftest_data,
            batched: false,
            compiled: None,
            compile_error: None,
            compiled_only: false,
            record_passes: false,
            data: set.engine.get_data(),
            gatekeeper: set.gatekeeper.clone(),
            supply: None,
        };
        evaluator.add_batch_module();
        match evaluator.compile_batch() {
            Ok(compiled) => evaluator.compiled = Some(compiled),
            Err(e) => evaluator.compile_error = Some(e),
        }
        evaluator
    }

    /// Compiles the batch for the RVM; the compiler's message when it refuses the policies.
    fn compile_batch(&self) -> Result<Compiled, String> {
        if !self.batched {
            return Err("the rules could not be gathered into one batch".into());
        }
        let mut slots = Vec::new();
        let mut n = 0;
        for (k, sel) in self.selected.iter().enumerate() {
            if let Some(path) = &sel.exception_path {
                slots.push(format!("\"e{k}\": [v | v := {}]", bracket_ref(path)));
            }
            for rule in &sel.rules {
                slots.push(format!("\"r{n}\": [v | v := {}]", bracket_ref(&rule.path)));
                n += 1;
            }
        }
        let module = format!(
            "package {COMPILED_PACKAGE}\n\nall := {{\n\t{}\n}}\n",
            slots.join(",\n\t")
        );
        let mut engine = self.engine.clone();
        engine.set_rego_v0(false);
        engine
            .add_policy(format!("<{COMPILED_PACKAGE}>"), module)
            .map_err(|e| e.to_string())?;
        let policy = engine
            .compile_with_entrypoint(&COMPILED_RULE.into())
            .map_err(|e| e.to_string())?;
        let program = regorus::languages::rego::compiler::Compiler::compile_from_policy(
            &policy,
            &[COMPILED_RULE],
        )
        .map_err(|e| e.to_string())?;
        Ok(Compiled { policy, program })
    }

    /// Runs the compiled batch; `Ok(None)` when there is none.
    fn run_compiled(&self, scope: &Scope, input: &Value) -> Result<Option<Value>, String> {
        let Some(c) = &self.compiled else {
            return Ok(None);
        };
        // One VM per thread and program, reused: the VM resets its execution state (registers,
        // rule cache, memoised results) at the start of every run, and building one per document
        // (registers, caches, the program's metadata as a value) cost ~5% of a webhook request.
        // The VM is taken out while it runs, so a panic in it drops it rather than leaving one
        // half-run behind.
        let mut vm = REUSED_VM
            .with(|cell| cell.borrow_mut().take())
            .filter(|(program, _)| Arc::ptr_eq(program, &c.program))
            .map(|(_, vm)| vm)
            .unwrap_or_else(|| {
                let mut vm = regorus::rvm::RegoVM::new_with_policy(c.policy.clone());
                vm.load_program(c.program.clone());
                vm.set_strict_builtin_errors(false);
                // Bounded by time (the scope's timer), not by an instruction count that a large
                // but legitimate document (a List of hundreds of objects) would exceed.
                vm.set_max_instructions(usize::MAX);
                vm
            });
        vm.set_execution_timer_config(scope.timer);
        let result = vm
            .set_data(scope.data.clone())
            .and_then(|()| {
                vm.set_input(input.clone());
                vm.execute()
            })
            .map(Some)
            .map_err(|e| e.to_string());
        // The input and data go now; the VM's registers and caches keep values of this
        // document until its next run resets them (one document per thread, never more).
        vm.set_input(Value::Undefined);
        vm.set_data(Value::Undefined).ok();
        REUSED_VM.with(|cell| *cell.borrow_mut() = Some((c.program.clone(), vm)));
        result
    }

    /// Adds the batch module and prepares the engine; on any failure keeps per-rule evaluation.
    fn add_batch_module(&mut self) {
        if self.selected.is_empty() {
            return;
        }
        let mut rules = format!("package {BATCH_PACKAGE}\n\n");
        let mut n = 0;
        for (k, sel) in self.selected.iter().enumerate() {
            if let Some(path) = &sel.exception_path {
                rules.push_str(&format!("e{k} := v if {{ v := {} }}\n", bracket_ref(path)));
            }
            for rule in &sel.rules {
                rules.push_str(&format!(
                    "r{n} := v if {{ v := {} }}\n",
                    bracket_ref(&rule.path)
                ));
                n += 1;
            }
        }
        let all = format!(
            "package policyctl_internal_batch_all\n\nall := {{k: v | some k, v in data.{BATCH_PACKAGE}}}\n"
        );
        let mut engine = self.engine.clone();
        engine.set_rego_v0(false);
        let added = engine
            .add_policy(format!("<{BATCH_PACKAGE}>"), rules)
            .and_then(|_| engine.add_policy(format!("<{BATCH_PACKAGE}_all>"), all))
            .map_err(|e| e.to_string())
            .and_then(|_| crate::policy::prepare_rule(&mut engine, BATCH_RULE));
        if added.is_ok() {
            self.engine = engine;
            self.batched = true;
        }
    }

    /// Applies `--rego-engine`: `Interpreter` drops the compiled batch; `Compiled` refuses a
    /// policy set the RVM compiler cannot compile (with its message).
    pub fn with_engine(mut self, engine: RegoEngine) -> Result<Self, String> {
        match engine {
            RegoEngine::Auto => {}
            RegoEngine::Interpreter => self.compiled = None,
            RegoEngine::Compiled => {
                if self.compiled.is_none() && !self.selected.is_empty() {
                    return Err(format!(
                        "--rego-engine compiled: the policies cannot be compiled for regorus's VM: {}; use --rego-engine auto",
                        self.compile_error.as_deref().unwrap_or("unknown reason")
                    ));
                }
                self.compiled_only = true;
            }
        }
        Ok(self)
    }

    /// Whether documents are evaluated on the compiled path.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// Verifies workload images with `supply` (when image policies are loaded).
    /// Records each pass in the outcomes (JUnit, TAP and PolicyReport report passes one by
    /// one); off by default, when only their number is reported.
    pub fn recording_passes(mut self, record: bool) -> Self {
        self.record_passes = record;
        self
    }

    pub fn with_supply_chain(mut self, supply: supply_chain::SupplyChain) -> Self {
        self.supply = Some(supply);
        self
    }

    /// Number of rules, constraints and image policies each document is checked against.
    pub fn rule_count(&self) -> usize {
        self.selected.iter().map(|s| s.rules.len()).sum::<usize>()
            + self.gatekeeper.constraints.len()
            + self
                .supply
                .as_ref()
                .map_or(0, |s| usize::from(s.verifier.has_policies()))
    }

    /// The scope for one file: the shared engine, or (when policies read `data.conftest`) one
    /// that carries `data.conftest.file.{name,dir}` for that file, prepared once for the file.
    pub fn scope_for_file(&self, file: &str) -> Scope {
        let mut engine = self.engine.clone();
        let mut data = self.data.clone();
        if self.uses_conftest_data {
            let path = std::path::Path::new(file);
            let dir = path
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let file_data = serde_json::json!({"conftest": {"file": {"name": file, "dir": dir}}});
            // Merging can only fail if a policy's own data defines `conftest` differently.
            let _ = engine.add_data(Value::from(file_data));
            // add_data resets preparation: prepare once here, not once per document.
            let first = if self.batched {
                Some(BATCH_RULE.to_string())
            } else {
                self.selected
                    .first()
                    .and_then(|s| s.rules.first())
                    .map(|r| r.path.clone())
            };
            if let Some(rule) = first {
                let _ = crate::policy::prepare_rule(&mut engine, &rule);
            }
            data = engine.get_data();
        }
        Scope {
            engine: Arc::new(engine),
            data,
            timer: None,
        }
    }

    /// Evaluates every selected rule and constraint against one document. AdmissionReview
    /// documents are unwrapped: Rego policies see the object, templates the request. The
    /// document is borrowed: without a Gatekeeper constraint or image policy its contents are
    /// never copied.
    pub fn evaluate(&self, scope: &Scope, doc: &Document) -> Outcome {
        self.evaluate_with(scope, doc, true)
    }

    /// Rego rules and Gatekeeper constraints only; image verdicts are left to the caller (the
    /// webhook verifies images asynchronously, off the CPU-bound evaluation slots, from the same
    /// borrowed document).
    pub fn evaluate_policies(&self, scope: &Scope, doc: &Document) -> Outcome {
        self.evaluate_with(scope, doc, false)
    }

    /// The supply-chain stage, when image policies are loaded.
    pub fn supply_chain(&self) -> Option<&supply_chain::SupplyChain> {
        self.supply.as_ref()
    }

    fn evaluate_with(&self, scope: &Scope, doc: &Document, images: bool) -> Outcome {
        let failed = |e| Outcome {
            errors: vec![e],
            ..Default::default()
        };
        let supply = self.supply.as_ref().filter(|_| images);
        if self.gatekeeper.is_empty() && supply.is_none() {
            // Only the object is needed: no review to build.
            return match gatekeeper::object_of(doc) {
                Ok((object, false)) => self.evaluate_rego(scope, doc, Value::from(object)),
                Ok((object, true)) => {
                    self.evaluate_rego(scope, &doc.naming(object), Value::from(object))
                }
                Err(e) => failed(e),
            };
        }
        let (subject, review) = match gatekeeper::subject(doc) {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        let named;
        let doc = if review {
            named = doc.naming(&subject.object);
            &named
        } else {
            doc
        };
        let mut out = self.evaluate_rego(scope, doc, Value::from(&subject.object));
        out.record_passes = self.record_passes;
        gatekeeper::evaluate(&self.gatekeeper, doc, &subject, &mut out);
        if let Some(supply) = supply {
            supply.evaluate(doc, &subject.object, &mut out);
        }
        out
    }

    /// The conftest-convention rules against one input: the compiled batch, else the
    /// interpreter's batch, else rule by rule (which attributes an error to its rule).
    pub fn evaluate_rego(&self, scope: &Scope, doc: &Document, input: Value) -> Outcome {
        if self.selected.is_empty() {
            return Outcome::default();
        }
        let stopped = |e: &str| stopped(doc, e);
        match self.run_compiled(scope, &input) {
            Ok(Some(Value::Object(all))) => {
                return self.fold(doc, |slot| {
                    // Each slot is `[value]`, or `[]` when the rule is undefined.
                    Ok(all
                        .get(&Value::from(slot_key(&slot)))
                        .and_then(|v| v.as_array().ok().and_then(|a| a.first().cloned()))
                        .unwrap_or(Value::Undefined))
                });
            }
            // Out of time (an execution limit the caller set): retrying on the interpreter
            // would only multiply the overrun.
            Err(e) if e.contains("exceeded time limit") => return stopped(&e),
            Err(e) if self.compiled_only => {
                return Outcome {
                    errors: vec![ToolError::new(
                        doc.file.as_str(),
                        doc.line,
                        format!("compiled evaluation failed: {e}"),
                    )],
                    ..Default::default()
                }
            }
            Err(e) => {
                tracing::debug!(file = %doc.file, error = %e, "compiled evaluation failed; evaluating on the interpreter");
            }
            _ => {}
        }
        let mut engine = scope.engine();
        engine.set_input(input);
        let mut out = self.evaluate_on(&mut engine, doc);
        out.prints = engine
            .take_prints()
            .unwrap_or_default()
            .into_iter()
            .map(|p| format!("{}:{}: {p}", doc.file, doc.line))
            .collect();
        out
    }

    /// The interpreter part of [`Evaluator::evaluate_rego`]: the batch, else rule by rule.
    fn evaluate_on(&self, engine: &mut regorus::Engine, doc: &Document) -> Outcome {
        let stopped = |e: &str| stopped(doc, e);
        if self.batched {
            // One evaluation for all rules; an error anywhere falls through to rule-by-rule
            // evaluation, which attributes it to the rule that raised it.
            match engine.eval_rule(BATCH_RULE.into()) {
                Ok(Value::Object(all)) => {
                    return self.fold(doc, |slot| {
                        Ok(all
                            .get(&Value::from(slot_key(&slot)))
                            .cloned()
                            .unwrap_or(Value::Undefined))
                    });
                }
                Err(e) if e.to_string().contains("exceeded time limit") => {
                    return stopped(&e.to_string())
                }
                _ => {}
            }
        }
        self.fold(doc, |slot| {
            let path = match slot {
                Slot::Exception(_, p) | Slot::Rule(_, p) => p,
            };
            engine
                .eval_rule(path.to_string())
                .map_err(|e| e.to_string())
        })
    }

    /// Turns each rule's value into findings, applying exceptions.
    fn fold(
        &self,
        doc: &Document,
        mut value_of: impl FnMut(Slot<'_>) -> Result<Value, String>,
    ) -> Outcome {
        let mut out = Outcome {
            record_passes: self.record_passes,
            ..Default::default()
        };
        let mut n = 0;
        for (k, sel) in self.selected.iter().enumerate() {
            let exceptions = match &sel.exception_path {
                Some(path) => match value_of(Slot::Exception(k, path)) {
                    Ok(v) => exception_names(&v),
                    Err(e) => {
                        out.errors.push(runtime_error(doc, path, &e));
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            for rule in &sel.rules {
                let slot = Slot::Rule(n, &rule.path);
                n += 1;
                let value = match value_of(slot) {
                    Ok(v) => v,
                    Err(e) => {
                        out.errors.push(runtime_error(doc, &rule.path, &e));
                        continue;
                    }
                };
                let excepted = exceptions.iter().any(|x| x == exception_name(&rule.name));
                let before = out.findings.len();
                for result in results(&value) {
                    let severity = match (excepted, rule.kind) {
                        (true, _) => Severity::Exception,
                        (false, RuleKind::Failure) => Severity::Failure,
                        (false, RuleKind::Warning) => Severity::Warning,
                    };
                    out.findings
                        .push(finding(doc, &sel.package, &rule.name, severity, result));
                }
                if out.findings.len() == before {
                    out.pass(doc, || &sel.package, &rule.name);
                }
            }
        }
        out
    }
}

/// A slot's key in both batch modules: `e<package>` for exceptions, `r<rule>` for rules.
fn slot_key(slot: &Slot<'_>) -> String {
    match slot {
        Slot::Exception(k, _) => format!("e{k}"),
        Slot::Rule(n, _) => format!("r{n}"),
    }
}

fn runtime_error(doc: &Document, rule_path: &str, msg: &str) -> ToolError {
    let at = crate::policy::rego_error("", msg);
    let place = if at.file.is_empty() {
        String::new()
    } else {
        format!(" at {}:{}", at.file, at.line)
    };
    ToolError::new(
        doc.file.as_str(),
        doc.line,
        format!("policy {rule_path} failed{place}: {}", at.message),
    )
}

/// `exception contains ["run_as_root"]` / `exception[rules] { rules := [...] }`.
fn exception_names(v: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in items(v) {
        for name in items(&item) {
            if let Ok(s) = name.as_string() {
                names.push(s.to_string());
            }
        }
    }
    names
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Set(s) => s.iter().cloned().collect(),
        Value::Array(a) => a.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

/// A rule's value as a list of results: a set or array of strings/objects; `true` counts as one.
fn results(v: &Value) -> Vec<Value> {
    match v {
        Value::Set(_) | Value::Array(_) => items(v),
        Value::Bool(true) | Value::String(_) | Value::Object(_) => vec![v.clone()],
        _ => Vec::new(),
    }
}

/// A document whose evaluation hit the time limit: an error, never a pass.
fn stopped(doc: &Document, e: &str) -> Outcome {
    Outcome {
        errors: vec![ToolError::new(
            doc.file.as_str(),
            doc.line,
            format!("policy evaluation stopped: {e}"),
        )],
        ..Default::default()
    }
}

/// The line of the longest anchor (an HCL block address) the message names as a whole word.
fn anchor_line(anchors: &[(String, usize)], message: &str) -> Option<usize> {
    let word =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    anchors
        .iter()
        .filter(|(name, _)| {
            message.match_indices(name.as_str()).any(|(i, m)| {
                !word(message[..i].chars().next_back())
                    && !word(message[i + m.len()..].chars().next())
            })
        })
        .max_by_key(|(name, _)| name.len())
        .map(|(_, line)| *line)
}

fn finding(
    doc: &Document,
    package: &str,
    rule: &str,
    severity: Severity,
    result: Value,
) -> Finding {
    let json = serde_json::to_value(&result).unwrap_or(Json::Null);
    let (mut file, mut line) = (doc.file.clone(), doc.line);
    let (message, details) = match json {
        Json::String(s) => (s, Json::Null),
        Json::Object(mut map) => {
            let msg = match map.remove("msg") {
                Some(Json::String(s)) => s,
                Some(other) => other.to_string(),
                None => rule.to_string(),
            };
            if let Some(loc) = map.remove("_loc") {
                if let Some(f) = loc.get("file").and_then(Json::as_str) {
                    file = f.to_string();
                }
                if let Some(l) = loc.get("line").and_then(Json::as_u64) {
                    line = l as usize;
                }
            }
            let details = if map.is_empty() {
                Json::Null
            } else {
                Json::Object(map)
            };
            (msg, details)
        }
        Json::Bool(true) => (format!("{rule} is true"), Json::Null),
        other => (other.to_string(), Json::Null),
    };
    if line == doc.line && file == doc.file {
        if let Some(at) = anchor_line(&doc.anchors, &message) {
            line = at;
        }
    }
    Finding {
        severity,
        file,
        line,
        resource: doc.resource.clone(),
        policy: package.to_string(),
        rule: rule.to_string(),
        message,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{self, LoadOptions, Source};

    fn evaluator(sources: Vec<Source>) -> Evaluator {
        let (set, errors) = policy::load(sources, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        Evaluator::new(&set, &Namespaces::All)
    }

    /// Every document of every file under `dirs` that a parser takes.
    fn docs(dirs: &[&str]) -> Vec<Document> {
        let mut out = Vec::new();
        let mut stack: Vec<std::path::PathBuf> = dirs.iter().map(Into::into).collect();
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let Some(parser) = crate::input::Parser::detect(&path) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if let Ok(d) = crate::input::parse(path.to_str().unwrap(), &text, parser) {
                out.extend(d);
            }
        }
        out
    }

    /// The compiled batch, the interpreter's batch and rule-by-rule evaluation agree on every
    /// document: same findings, same passes, same errors.
    fn paths_agree(sources: Vec<Source>, namespaces: &Namespaces, dirs: &[&str]) -> usize {
        let (set, errors) = policy::load(sources, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        let compiled = Evaluator::new(&set, namespaces);
        assert!(
            compiled.compiled.is_some(),
            "these policies compile for the RVM"
        );
        let mut batched = Evaluator::new(&set, namespaces);
        batched.compiled = None;
        assert!(batched.batched);
        let mut plain = Evaluator::new(&set, namespaces);
        (plain.engine, plain.batched, plain.compiled) = (set.engine.clone(), false, None);
        let mut findings = 0;
        let documents = docs(dirs);
        assert!(!documents.is_empty(), "{dirs:?}");
        for doc in documents {
            let run = |ev: &Evaluator| {
                let o = ev.evaluate(&ev.scope_for_file(&doc.file), &doc);
                let errors: Vec<String> = o.errors.iter().map(|e| e.message.clone()).collect();
                (o.findings, o.passed, errors)
            };
            let (a, b, c) = (run(&compiled), run(&batched), run(&plain));
            assert_eq!(
                a, b,
                "compiled vs interpreter batch: {}:{}",
                doc.file, doc.line
            );
            assert_eq!(b, c, "batch vs rule by rule: {}:{}", doc.file, doc.line);
            findings += a.0.len();
        }
        findings
    }

    #[test]
    fn compiled_batch_and_rule_by_rule_agree_on_the_builtin_library() {
        let (sources, _) = policy::discover(&LoadOptions::default());
        let findings = paths_agree(
            sources,
            &Namespaces::All,
            &[
                "testdata/k8s",
                "testdata/docker",
                "testdata/terraform",
                "admission",
            ],
        );
        assert!(findings >= 20, "{findings}");
    }

    #[test]
    fn compiled_batch_and_rule_by_rule_agree_on_conftest_policies_with_exceptions() {
        let (sources, errors) = policy::discover(&LoadOptions {
            policy_paths: vec!["testdata/conftest/policy".into()],
            ..Default::default()
        });
        assert!(errors.is_empty());
        let findings = paths_agree(
            sources,
            &Namespaces::All,
            &["testdata/conftest/inputs", "testdata/k8s"],
        );
        assert!(findings >= 3, "{findings}");
    }

    #[test]
    fn the_compiled_path_stops_at_the_time_limit_and_reports_it() {
        let ev = evaluator(vec![Source {
            path: "slow.rego".into(),
            text: "package slow\nimport rego.v1\ndeny contains \"never\" if {\n\tsome i in numbers.range(1, 20000)\n\tsome j in numbers.range(1, 20000)\n\ti == j + 50000\n}\n".into(),
            builtin: false,
        }]);
        assert!(ev.compiled.is_some());
        let doc = Document {
            file: "f.yaml".into(),
            line: 1,
            resource: None,
            contents: serde_json::json!({}),
            anchors: Vec::new(),
        };
        let mut scope = ev.scope_for_file("f.yaml");
        scope.set_time_limit(std::time::Duration::from_millis(50));
        let started = std::time::Instant::now();
        let out = ev.evaluate(&scope, &doc);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(out.findings.is_empty());
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert!(
            out.errors[0].message.contains("policy evaluation stopped")
                && out.errors[0].message.contains("time limit"),
            "{}",
            out.errors[0].message
        );
    }

    /// The compiled batch's VM is reused per thread: evaluators of different policy sets
    /// alternating on one thread each get their own program, and a run that failed (a conflict,
    /// the time limit) leaves nothing behind for the next document.
    #[test]
    fn a_reused_vm_carries_nothing_from_one_run_to_the_next() {
        let src = |path: &str, text: &str| Source {
            path: path.into(),
            text: text.into(),
            builtin: false,
        };
        let doc = |contents: Json| Document {
            file: "f.yaml".into(),
            line: 1,
            resource: None,
            contents,
            anchors: Vec::new(),
        };
        let a = evaluator(vec![src(
            "a.rego",
            "package a\nimport rego.v1\ndeny contains sprintf(\"a: %v\", [input.n]) if input.n > 1\nx := 1 if input.c\nx := 2 if input.c\ndeny contains \"x\" if x > 0\n",
        )]);
        let b = evaluator(vec![src(
            "b.rego",
            "package b\nimport rego.v1\ndeny contains sprintf(\"b: %v\", [input.n]) if input.n > 2\nslow if {\n\tinput.slow\n\tsome i in numbers.range(1, 20000)\n\tsome j in numbers.range(1, 20000)\n\ti == j + 50000\n}\ndeny contains \"slow\" if slow\n",
        )]);
        assert!(a.compiled.is_some() && b.compiled.is_some());
        let messages = |ev: &Evaluator, scope: &Scope, contents: Json| {
            let out = ev.evaluate(scope, &doc(contents));
            let mut m: Vec<String> = out.findings.iter().map(|f| f.message.clone()).collect();
            m.extend(out.errors.iter().map(|e| format!("error: {}", e.message)));
            m
        };
        let (sa, sb) = (a.scope_for_file("f.yaml"), b.scope_for_file("f.yaml"));
        for _ in 0..3 {
            assert_eq!(messages(&a, &sa, serde_json::json!({"n": 3})), ["a: 3"]);
            assert_eq!(messages(&b, &sb, serde_json::json!({"n": 3})), ["b: 3"]);
            assert!(messages(&a, &sa, serde_json::json!({"n": 0})).is_empty());
            // A conflict fails the compiled run (and is re-run on the interpreter).
            let conflict = messages(&a, &sa, serde_json::json!({"n": 0, "c": true}));
            assert!(
                conflict.len() == 1 && conflict[0].starts_with("error:"),
                "{conflict:?}"
            );
            assert_eq!(messages(&a, &sa, serde_json::json!({"n": 2})), ["a: 2"]);
            let mut limited = sb.clone();
            limited.set_time_limit(std::time::Duration::from_millis(20));
            let stopped = messages(&b, &limited, serde_json::json!({"slow": true}));
            assert!(
                stopped.len() == 1 && stopped[0].contains("time limit"),
                "{stopped:?}"
            );
            // The limit belonged to that scope: the next run on this thread has none.
            assert_eq!(messages(&b, &sb, serde_json::json!({"n": 4})), ["b: 4"]);
        }
    }

    #[test]
    fn a_runtime_error_is_attributed_to_its_rule_and_others_still_report() {
        let src = |path: &str, text: &str| Source {
            path: path.into(),
            text: text.into(),
            builtin: false,
        };
        let ev = evaluator(vec![
            src("bad.rego", "package bad\nimport rego.v1\nx := 1 if input.a\nx := 2 if input.a\ndeny contains \"x\" if x > 0\n"),
            src("good.rego", "package good\nimport rego.v1\ndeny contains \"a is set\" if input.a\n"),
        ]);
        let doc = Document {
            file: "f.yaml".into(),
            line: 3,
            resource: None,
            contents: serde_json::json!({"a": true}),
            anchors: Vec::new(),
        };
        assert!(
            ev.compiled.is_some(),
            "x can conflict and still compiles: the RVM raises the conflict as an error"
        );
        let out = ev.evaluate(&ev.scope_for_file("f.yaml"), &doc);
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].message, "a is set");
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0].message.contains("data.bad.deny"),
            "{:?}",
            out.errors
        );
        assert_eq!(
            (out.errors[0].file.as_str(), out.errors[0].line),
            ("f.yaml", 3)
        );
    }
}
