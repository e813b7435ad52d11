//! CEL for Gatekeeper's `K8sNativeValidation` engine: a template's `variables`,
//! `matchCondition` and `validations` compiled once with the cel-rust interpreter plus the
//! Kubernetes CEL libraries (`library`), and evaluated with the bindings Gatekeeper's k8scel
//! driver gives them (`object`, `oldObject`, `request`, `namespaceObject`, `variables`, with
//! `variables.anyObject` and `variables.params` injected; `params` — the constraint — visible to
//! variables only).
//!
//! cel-rust only parses; it has no type checker. What cel-go's checker would refuse at template
//! admission and what a typo would turn into a runtime error policyctl finds when loading, by
//! walking each expression: unknown identifiers, unknown functions, `variables.<name>` that is
//! not declared (or declared later), and `params` outside a variable. Each is a load error on
//! the expression's line.

pub mod library;
mod quantity;
pub mod template;

use cel::common::ast::{Expr, IdedExpr};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use cel::{Context, Env, ExecutionError, Program, Value};
use serde_json::Value as Json;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

/// The engine name of a ConstraintTemplate `code` entry in CEL.
pub const ENGINE: &str = "K8sNativeValidation";

/// Gatekeeper's injected variable names (`schema.ObjectName`, `schema.ParamsName`) and the
/// prefix reserved for its own (`schema.ReservedPrefix`).
pub const ANY_OBJECT: &str = "anyObject";
pub const PARAMS: &str = "params";
pub const RESERVED_PREFIX: &str = "gatekeeper_internal_";

/// One compiled expression and where it was written.
pub struct Expression {
    pub source: String,
    program: Program,
    /// Depth of its tree (at most MAX_DEPTH).
    depth: usize,
    /// The top-level bindings it reads (`USES_*`), so a review binds only what is read.
    uses: u8,
}

const USES_REQUEST: u8 = 1;
const USES_NAMESPACE: u8 = 2;
const USES_PARAMS: u8 = 4;
const USES_OBJECT: u8 = 8;
const USES_OLD_OBJECT: u8 = 16;
const USES_ANY_OBJECT: u8 = 32;
const USES_PARAMETERS: u8 = 64;
/// `has(variables.x)`: presence of a declared variable.
const USES_VARIABLES_HAS: u8 = 128;

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expression({:?})", self.source)
    }
}

/// `validations[]`.
#[derive(Debug)]
pub struct Validation {
    pub expression: Expression,
    pub message: Option<String>,
    pub message_expression: Option<Expression>,
}

/// A compiled `K8sNativeValidation` source.
#[derive(Debug)]
pub struct Validator {
    pub variables: Vec<(String, Expression)>,
    pub match_conditions: Vec<(String, Expression)>,
    pub validations: Vec<Validation>,
    /// `failurePolicy: Fail` (Gatekeeper's default): an expression that errors denies.
    /// `Ignore`: it is skipped.
    pub fail_closed: bool,
}

/// What an expression may see.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A variable: also `params` (the constraint).
    Variable,
    /// A match condition, validation or message expression.
    Validation,
}

/// The environment every expression compiles and runs in: the standard library, cel-go's
/// strings and lists extensions, and the Kubernetes libraries as overloads (`library`).
pub fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::strings)
            .expect("strings extension");
        env.add_extension(cel::extensions::lists)
            .expect("lists extension");
        env.add_extension(library::overloads)
            .expect("Kubernetes list overloads");
        Arc::new(env)
    })
    .clone()
}

thread_local! {
    /// The root context with the Kubernetes library functions; each evaluation is a child scope
    /// of it (a context is not `Sync`, so each thread keeps its own).
    static ROOT: Context<'static, 'static> = {
        let mut ctx = Context::with_env(env());
        library::functions(&mut ctx);
        ctx
    };
}

/// Compiles one expression for `scope`; `declared` are the `variables.<name>` it may use.
/// The error is the message and the 1-based line within the expression.
pub fn compile(
    source: &str,
    scope: Scope,
    declared: &BTreeSet<String>,
) -> Result<Expression, (String, usize)> {
    if source.len() > MAX_SOURCE {
        return Err((
            format!(
                "the expression is {} bytes; the limit is {MAX_SOURCE}",
                source.len()
            ),
            1,
        ));
    }
    // cel-rust's parser recurses per nesting level with large frames (an unoptimised build
    // overflows an 8 MiB stack at ~50 nested brackets; its own limit stops it near 100), so it
    // runs on a thread with room to spare; the result is then held to MAX_DEPTH, which
    // evaluation (on any thread) can afford.
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("cel-compile".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(s, || compile_here(source, scope, declared))
            .map_err(|e| (format!("cannot start the CEL compiler: {e}"), 1))?
            .join()
            .unwrap_or_else(|_| Err(("the CEL parser failed on this expression".into(), 1)))
    })
}

/// Evaluation steps one expression may take on one review (each node evaluated is one, a
/// comprehension's body once per element), as Kubernetes' per-call cost limit (1,000,000)
/// bounds CEL in the API server: past it the expression errors, which denies under
/// `failurePolicy: Fail`. A huge object under a nested comprehension cannot hold a webhook
/// thread.
const PER_CALL_LIMIT: u64 = 1_000_000;

/// Longest expression accepted, in bytes.
const MAX_SOURCE: usize = 64 * 1024;
/// Deepest expression tree accepted (cel-go's parser stops at 250 recursion levels; a tree
/// level costs several).
const MAX_DEPTH: usize = 100;
const PARSE_STACK: usize = 64 * 1024 * 1024;
/// Expressions up to this depth evaluate on the caller's stack.
const DIRECT_DEPTH: usize = 24;
const DEEP_STACK: usize = 16 * 1024 * 1024;

/// The depth of an expression tree, without recursing.
fn depth<'a>(root: &'a IdedExpr) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&'a IdedExpr, usize)> = vec![(root, 1)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        if deepest > MAX_DEPTH {
            break;
        }
        let mut push = |c: &'a IdedExpr| stack.push((c, d + 1));
        match &e.expr {
            Expr::Call(c) => {
                if let Some(t) = &c.target {
                    push(t);
                }
                c.args.iter().for_each(&mut push);
            }
            Expr::Comprehension(c) => {
                for x in [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ] {
                    push(x);
                }
            }
            Expr::List(l) => l.elements.iter().for_each(&mut push),
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        push(&me.key);
                        push(&me.value);
                    }
                }
            }
            Expr::Select(sel) => push(&sel.operand),
            Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
    deepest
}

fn compile_here(
    source: &str,
    scope: Scope,
    declared: &BTreeSet<String>,
) -> Result<Expression, (String, usize)> {
    let program = env().compile(source).map_err(|e| {
        let first = e.errors.first();
        let line = first.map_or(1, |p| p.pos.0.max(1) as usize);
        let msg = first.map_or_else(|| e.to_string(), |p| p.msg.clone());
        (format!("does not parse as CEL: {msg}"), line)
    })?;
    let tree_depth = depth(program.expression());
    if tree_depth > MAX_DEPTH {
        return Err((
            format!("the expression nests more than {MAX_DEPTH} levels deep"),
            1,
        ));
    }
    let mut check = Check {
        scope,
        declared,
        bound: Vec::new(),
        problem: None,
        at: 0,
        uses: 0,
    };
    check.walk(program.expression());
    if let Some((p, id)) = check.problem {
        let line = program
            .source_info()
            .offset_for(id)
            .map_or(1, |(start, _)| {
                1 + source
                    .chars()
                    .take(start as usize)
                    .filter(|c| *c == '\n')
                    .count()
            });
        return Err((p, line));
    }
    Ok(Expression {
        source: source.to_string(),
        program,
        depth: tree_depth,
        uses: check.uses,
    })
}

/// Identifiers that name types or function namespaces rather than values.
const TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
    "optional_type",
    "google.protobuf.Duration",
    "google.protobuf.Timestamp",
];
const NAMESPACES: &[&str] = &["optional", "math", "strings", "base64", "lists", "sets"];
/// Namespaces that qualify a function only (`ip.isCanonical`; `ip` alone is a function).
const CALL_NAMESPACES: &[&str] = &["ip"];

struct Check<'a> {
    scope: Scope,
    declared: &'a BTreeSet<String>,
    /// Comprehension variables in scope.
    bound: Vec<String>,
    /// The first problem, and the id of the node it is about.
    problem: Option<(String, u64)>,
    /// The node being checked.
    at: u64,
    uses: u8,
}

impl Check<'_> {
    fn fail(&mut self, msg: String) {
        if self.problem.is_none() {
            self.problem = Some((msg, self.at));
        }
    }

    fn ident(&mut self, name: &str) {
        if self.bound.iter().any(|b| b == name) {
            return;
        }
        match name {
            "object" => self.uses |= USES_OBJECT,
            "oldObject" => self.uses |= USES_OLD_OBJECT,
            "variables" => self.fail(
                "`variables` is read field by field (`variables.<name>`), not as a whole".into(),
            ),
            "request" => self.uses |= USES_REQUEST,
            "namespaceObject" => self.uses |= USES_NAMESPACE,
            "params" if self.scope == Scope::Variable => self.uses |= USES_PARAMS,
            "params" => self.fail(
                "`params` (the constraint) is visible only to variables in Gatekeeper; use \
                 `variables.params`, the constraint's spec.parameters"
                    .into(),
            ),
            "authorizer" => self.fail(
                "`authorizer` (the API server's authorization checks) is not available outside \
                 the API server; policyctl cannot evaluate it"
                    .into(),
            ),
            n if TYPE_NAMES.contains(&n) || NAMESPACES.contains(&n) => {}
            n => self.fail(format!(
                "unknown identifier `{n}` (Gatekeeper provides object, oldObject, request, \
                 namespaceObject and variables)"
            )),
        }
    }

    fn walk(&mut self, e: &IdedExpr) {
        self.at = e.id;
        match &e.expr {
            Expr::Ident(name) => self.ident(name),
            Expr::Select(s) => {
                if let Expr::Ident(root) = &s.operand.expr {
                    if root == "variables" && !self.bound.iter().any(|b| b == "variables") {
                        if s.test {
                            self.uses |= USES_VARIABLES_HAS;
                        }
                        match s.field.as_str() {
                            ANY_OBJECT => self.uses |= USES_ANY_OBJECT,
                            PARAMS => self.uses |= USES_PARAMETERS,
                            _ => {}
                        }
                        if !self.declared.contains(&s.field) {
                            self.fail(format!(
                                "variables.{} is not declared{} (declared: {})",
                                s.field,
                                if self.scope == Scope::Variable {
                                    " before this variable"
                                } else {
                                    ""
                                },
                                self.declared
                                    .iter()
                                    .map(String::as_str)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                        return;
                    }
                }
                self.walk(&s.operand);
            }
            Expr::Call(c) => {
                let namespaced = match c.target.as_deref().map(|t| &t.expr) {
                    Some(Expr::Ident(ns))
                        if NAMESPACES.contains(&ns.as_str())
                            || CALL_NAMESPACES.contains(&ns.as_str()) =>
                    {
                        Some(format!("{ns}.{}", c.func_name))
                    }
                    _ => None,
                };
                if namespaced.is_none() {
                    if let Some(t) = &c.target {
                        self.walk(t);
                    }
                }
                self.at = e.id;
                let name = namespaced.as_deref().unwrap_or(&c.func_name);
                if !library::is_known_function(name) {
                    self.fail(format!(
                        "unknown function `{name}` (not in CEL's standard library, cel-go's \
                         strings/lists extensions or the Kubernetes CEL libraries policyctl \
                         provides; see docs/gatekeeper.md)"
                    ));
                }
                for a in &c.args {
                    self.walk(a);
                }
            }
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range);
                self.walk(&c.accu_init);
                let n = self.bound.len();
                self.bound.push(c.iter_var.clone());
                if let Some(v) = &c.iter_var2 {
                    self.bound.push(v.clone());
                }
                self.bound.push(c.accu_var.clone());
                self.walk(&c.loop_cond);
                self.walk(&c.loop_step);
                self.walk(&c.result);
                self.bound.truncate(n);
            }
            Expr::List(l) => l.elements.iter().for_each(|x| self.walk(x)),
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        self.walk(&me.key);
                        self.walk(&me.value);
                    }
                }
            }
            Expr::Struct(s) => self.fail(format!(
                "message construction `{} {{…}}` is not available (Kubernetes objects are not \
                 protobuf messages)",
                s.type_name
            )),
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
}

/// The objects one review binds.
pub struct Bindings<'a> {
    /// `object` (null on DELETE, as Gatekeeper unsets it for CEL).
    pub object: &'a Json,
    pub old_object: &'a Json,
    /// The AdmissionRequest (`request.kind`, `request.operation`, `request.userInfo`, …).
    pub request: &'a Json,
    /// The constraint, as Gatekeeper binds it to `params`.
    pub constraint: &'a Json,
    /// The object's Namespace, when known (inventory).
    pub namespace_object: Option<&'a Json>,
}

/// A template's verdict on one review.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// A match condition is false.
    NotMatched,
    /// The messages of the validations that failed (or errored, with `failurePolicy: Fail`).
    Violations(Vec<String>),
}

fn error_text(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        other => other.to_string(),
    }
}

impl Validator {
    /// Evaluates the template against one review, as Kubernetes' validating admission policy
    /// validator does under Gatekeeper's k8scel driver.
    pub fn evaluate(&self, b: &Bindings) -> Verdict {
        // The interpreter recurses per tree level; a deep expression gets a stack of its own
        // (an unoptimised build spends ~40 KiB a level), the usual ones run where they are.
        if self.expressions().any(|e| e.depth > DIRECT_DEPTH) {
            stacker::grow(DEEP_STACK, || ROOT.with(|root| self.evaluate_in(root, b)))
        } else {
            ROOT.with(|root| self.evaluate_in(root, b))
        }
    }

    fn expressions(&self) -> impl Iterator<Item = &Expression> {
        let names = self
            .variables
            .iter()
            .chain(&self.match_conditions)
            .map(|(_, e)| e);
        let validations = self
            .validations
            .iter()
            .flat_map(|v| std::iter::once(&v.expression).chain(v.message_expression.as_ref()));
        names.chain(validations)
    }

    /// The top-level bindings any expression reads.
    fn uses(&self) -> u8 {
        self.expressions().fold(0, |acc, e| acc | e.uses)
    }

    fn evaluate_in<'v>(&self, root: &Context<'_, 'v>, b: &'v Bindings<'v>) -> Verdict {
        let uses = self.uses();
        let mut ctx = root.new_inner_scope();
        // Bound as Kubernetes' CEL sees them, each only when an expression reads it. Strings
        // and keys are borrowed from the review, not copied.
        let deleting = b.request.get("operation").and_then(Json::as_str) == Some("DELETE");
        if uses & USES_OBJECT != 0 {
            ctx.add_variable_as_val("object", to_val(b.object));
        }
        if uses & USES_OLD_OBJECT != 0 {
            ctx.add_variable_as_val("oldObject", to_val(b.old_object));
        }
        if uses & USES_REQUEST != 0 {
            ctx.add_variable_as_val("request", to_val(b.request));
        }
        if uses & USES_NAMESPACE != 0 {
            ctx.add_variable_as_val(
                "namespaceObject",
                b.namespace_object
                    .map_or_else(|| to_val(&Json::Null), to_val),
            );
        }
        if uses & USES_PARAMS != 0 {
            ctx.add_variable_as_val("params", to_val(b.constraint));
        }
        // Gatekeeper's injected variables (transform.AllVariablesCEL). A variable is bound as
        // the qualified name `variables.<name>`, which CEL resolves before `variables`.
        if uses & USES_ANY_OBJECT != 0 {
            let any = if deleting && b.object.is_null() {
                b.old_object
            } else {
                b.object
            };
            ctx.add_variable_as_val("variables.anyObject", to_val(any));
        }
        if uses & USES_PARAMETERS != 0 {
            let params = b
                .constraint
                .pointer("/spec/parameters")
                .unwrap_or(&Json::Null);
            ctx.add_variable_as_val("variables.params", to_val(params));
        }
        // `has(variables.x)` is true for every declared variable (CEL tests a field of the
        // `variables` object): a map of their names answers it.
        if uses & USES_VARIABLES_HAS != 0 {
            let names = [ANY_OBJECT, PARAMS]
                .into_iter()
                .chain(self.variables.iter().map(|(n, _)| n.as_str()));
            let declared: HashMap<CelMapKey, Box<dyn Val>> = names
                .map(|n| {
                    let v: Box<dyn Val> = Box::new(CelBool::from(true));
                    (CelMapKey::String(CelString::from(n.to_string())), v)
                })
                .collect();
            ctx.add_variable_as_val("variables", Box::new(CelMap::from(declared)));
        }
        let mut failed: Vec<(String, String)> = Vec::new();
        for (name, expr) in &self.variables {
            ctx.set_cost_limit(Some(PER_CALL_LIMIT));
            let value = Value::resolve_val(expr.program.expression(), &ctx)
                .map(|v| v.as_ref().clone_as_boxed());
            match value {
                Ok(v) => ctx.add_variable_as_val(format!("variables.{name}"), v),
                Err(e) => failed.push((name.clone(), error_text(&e))),
            }
        }
        // An expression that uses a variable whose evaluation failed reports that failure.
        let explain = |expr: &Expression, e: &ExecutionError| -> String {
            let cause = failed
                .iter()
                .find(|(n, _)| mentions(&expr.source, &format!("variables.{n}")))
                .map(|(n, err)| format!("variable {n}: {err}"))
                .unwrap_or_else(|| error_text(e));
            format!(
                "expression '{}' resulted in error: {cause}",
                expr.source.trim()
            )
        };
        let truth = |expr: &Expression| -> Result<bool, String> {
            ctx.set_cost_limit(Some(PER_CALL_LIMIT));
            match Value::resolve_val(expr.program.expression(), &ctx) {
                Ok(v) => match v.downcast_ref::<CelBool>() {
                    Some(b) => Ok(*b.inner()),
                    None => Err(format!(
                        "expression '{}' must evaluate to bool, got {}",
                        expr.source.trim(),
                        v.get_type().name()
                    )),
                },
                Err(e) => Err(explain(expr, &e)),
            }
        };

        // matchCondition: any false → not matched; otherwise an error applies the failure
        // policy (matchconditions.Matcher).
        let mut match_error = None;
        for (name, expr) in &self.match_conditions {
            match truth(expr) {
                Ok(true) => {}
                Ok(false) => return Verdict::NotMatched,
                Err(e) => {
                    match_error.get_or_insert(format!("matchCondition {name}: {e}"));
                }
            }
        }
        if let Some(e) = match_error {
            return if self.fail_closed {
                Verdict::Violations(vec![e])
            } else {
                Verdict::NotMatched
            };
        }

        let mut out = Vec::new();
        for v in &self.validations {
            match truth(&v.expression) {
                Ok(true) => {}
                Ok(false) => out.push(self.message(v, &ctx)),
                Err(e) if self.fail_closed => out.push(e),
                Err(_) => {}
            }
        }
        Verdict::Violations(out)
    }

    /// The message of a failed validation: `messageExpression` when it gives a non-empty
    /// single-line string, else `message`, else "failed expression: <expression>" (Kubernetes'
    /// rule).
    fn message(&self, v: &Validation, ctx: &Context) -> String {
        if let Some(me) = &v.message_expression {
            ctx.set_cost_limit(Some(PER_CALL_LIMIT));
            if let Ok(s) = Value::resolve_val(me.program.expression(), ctx) {
                if let Some(s) = s.downcast_ref::<CelString>() {
                    let s: &str = s;
                    if !s.trim().is_empty() && !s.contains('\n') {
                        return s.to_string();
                    }
                }
            }
        }
        match &v.message {
            Some(m) if !m.is_empty() => m.clone(),
            _ => format!("failed expression: {}", v.expression.source.trim()),
        }
    }
}

/// Whether `source` reads `name` as a whole (`variables.a` is not read by `variables.ab`).
fn mentions(source: &str, name: &str) -> bool {
    source.match_indices(name).any(|(i, _)| {
        !source[i + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// JSON as a CEL value borrowing its strings, with Kubernetes' numbers: integers are `int`
/// (unsigned beyond int64 `uint`), other numbers `double`.
pub fn to_val(v: &Json) -> Box<dyn Val + '_> {
    match v {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(CelUInt::from(u))
            } else {
                Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Json::String(s) => Box::new(CelString::from(s.as_str())),
        Json::Array(a) => Box::new(CelList::from(a.iter().map(to_val).collect::<Vec<_>>())),
        Json::Object(o) => Box::new(CelMap::from(
            o.iter()
                .map(|(k, v)| (CelMapKey::String(CelString::from(k.as_str())), to_val(v)))
                .collect::<HashMap<_, _>>(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, object: Json) -> Result<Value, String> {
        let declared: BTreeSet<String> = [ANY_OBJECT, PARAMS].map(String::from).into();
        let e = compile(expr, Scope::Validation, &declared).map_err(|e| e.0)?;
        ROOT.with(|root| {
            let mut ctx = root.new_inner_scope();
            ctx.add_variable_as_val("object", to_val(&object));
            e.program.execute(&ctx).map_err(|e| error_text(&e))
        })
    }

    #[test]
    fn a_failed_variable_is_named_by_whole_name() {
        assert!(mentions("variables.a > 1", "variables.a"));
        assert!(!mentions("variables.ab > 1", "variables.a"));
        assert!(mentions("variables.ab + variables.a", "variables.a"));
    }

    #[test]
    fn numbers_are_ints_as_in_unstructured() {
        assert_eq!(
            run("object.spec.replicas > 1", json!({"spec": {"replicas": 3}})),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            run("object.x + 1", json!({"x": 1.5})),
            Err("Unsupported binary operator 'add': Float(1.5), Int(1)".into())
        );
    }

    #[test]
    fn load_time_checks() {
        let declared: BTreeSet<String> = [ANY_OBJECT, PARAMS].map(String::from).into();
        let err = |e: &str, s| compile(e, s, &declared).unwrap_err().0;
        assert!(err("params.spec", Scope::Validation).contains("variables.params"));
        assert!(compile("params.spec", Scope::Variable, &declared).is_ok());
        assert!(err("variables.nope", Scope::Validation).contains("variables.nope is not declared"));
        assert!(err("objekt.x", Scope::Validation).contains("unknown identifier `objekt`"));
        assert!(err("object.x.startWith('a')", Scope::Validation)
            .contains("unknown function `startWith`"));
        assert!(err("authorizer.group('')", Scope::Validation).contains("authorizer"));
        assert!(compile(
            "object.spec.containers.all(c, c.name != '')",
            Scope::Validation,
            &declared
        )
        .is_ok());
        assert!(compile("optional.of(1).hasValue()", Scope::Validation, &declared).is_ok());
        let (msg, line) =
            compile("object.a &&\n  (object.b", Scope::Validation, &declared).unwrap_err();
        assert!(msg.contains("does not parse"), "{msg}");
        assert_eq!(line, 2);
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    /// A nested comprehension over a huge object stops at the per-expression cost limit and
    /// denies (as the API server's cost limit does), instead of running for minutes.
    #[test]
    fn the_cost_limit_stops_quadratic_work() {
        let declared: BTreeSet<String> = [ANY_OBJECT, PARAMS].map(String::from).into();
        let source = "object.spec.containers.all(x, object.spec.containers.all(y, x.name != y.name || x == y))";
        let validator = Validator {
            variables: Vec::new(),
            match_conditions: Vec::new(),
            validations: vec![Validation {
                expression: compile(source, Scope::Validation, &declared).unwrap(),
                message: None,
                message_expression: None,
            }],
            fail_closed: true,
        };
        let pod = |n: usize| serde_json::json!({"spec": {"containers": (0..n).map(|i| serde_json::json!({"name": format!("c{i}")})).collect::<Vec<_>>()}});
        let null = Json::Null;
        let review = |object: &Json| {
            validator.evaluate(&Bindings {
                object,
                old_object: &null,
                request: &null,
                constraint: &null,
                namespace_object: None,
            })
        };
        assert_eq!(review(&pod(20)), Verdict::Violations(vec![]));
        let started = std::time::Instant::now();
        let verdict = review(&pod(5_000));
        assert!(
            matches!(&verdict, Verdict::Violations(v) if v.len() == 1 && v[0].contains("cost limit exceeded")),
            "{verdict:?}"
        );
        // 25 M comparisons unchecked; stopped after a million steps.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    /// A template author's (or fuzzer's) deeply nested expression is a load error, not a stack
    /// overflow.
    #[test]
    fn deep_nesting_is_refused() {
        let declared: BTreeSet<String> = Default::default();
        for depth in [100usize, 1_000, 15_000] {
            for expr in [
                format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
                format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
                format!("1{}", " + 1".repeat(depth)),
            ] {
                assert!(
                    compile(&expr, Scope::Validation, &declared).is_err(),
                    "{depth}"
                );
            }
        }
        assert!(compile(&"x".repeat(70_000), Scope::Validation, &declared)
            .unwrap_err()
            .0
            .contains("limit"));
        // The deepest expression accepted evaluates on a 2 MiB thread (a tokio worker's).
        let n = MAX_DEPTH - 3;
        let validator = |source: String| Validator {
            variables: Vec::new(),
            match_conditions: Vec::new(),
            validations: vec![Validation {
                expression: compile(&source, Scope::Validation, &declared).expect("accepted"),
                message: None,
                message_expression: None,
            }],
            fail_closed: true,
        };
        let passes = validator(format!("0{} == {n}", " + 1".repeat(n)));
        let fails = validator(format!("0{} == 0", " + 1".repeat(n)));
        let verdicts = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let null = Json::Null;
                let b = Bindings {
                    object: &null,
                    old_object: &null,
                    request: &null,
                    constraint: &null,
                    namespace_object: None,
                };
                (passes.evaluate(&b), fails.evaluate(&b))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(verdicts.0, Verdict::Violations(vec![]));
        assert!(matches!(&verdicts.1, Verdict::Violations(v) if v.len() == 1));
    }
}
