//! Gatekeeper ConstraintTemplates and Constraints, taken as they are: each template's Rego (and
//! its `libs`) compiles into its own engine, exactly as Gatekeeper isolates templates, so two
//! templates may use the same package names. Constraints carry their match, parameters and
//! enforcement action. Matching and evaluation live in `eval::gatekeeper`.

use super::strict::{Manifest, Origin};
use super::{add_source, new_engine, RegoVersion, Source};
use crate::finding::ToolError;
use regorus::{Engine, Value};
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The only target policyctl evaluates (Gatekeeper's admission target).
pub const TARGET: &str = "admission.k8s.gatekeeper.sh";

/// A compiled ConstraintTemplate.
#[derive(Clone)]
pub struct Template {
    /// The constraint kind it defines (`spec.crd.spec.names.kind`).
    pub kind: String,
    pub name: String,
    pub file: String,
    /// The Rego source (`rego`/`libs` or a `code` entry with `engine: Rego`), when given.
    pub rego: Option<RegoTemplate>,
    /// The `K8sNativeValidation` (CEL) source, when given.
    pub cel: Option<Arc<crate::cel::Validator>>,
    /// The constraint parameters' schema (`spec.crd.spec.validation.openAPIV3Schema`) as the
    /// API server applies it: unknown properties refused unless preserved.
    pub parameters: Option<Arc<jsonschema::Validator>>,
    /// `spec.targets[].operations`: the admission operations the template reviews (all when
    /// absent).
    pub operations: Option<Vec<String>>,
}

/// A template's compiled Rego.
#[derive(Clone)]
pub struct RegoTemplate {
    /// Prepared engine holding the template Rego, its libs and the inventory.
    pub engine: Engine,
    /// `data.<package>.violation`.
    pub violation_path: String,
}

/// Which engine runs a template that carries both (`--gatekeeper-engine`); a template with
/// one source runs it whatever this says. Rego is the default, as in gator and Gatekeeper's
/// audit of templates written for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplateEngine {
    #[default]
    Rego,
    Cel,
}

impl Template {
    /// The engine this template runs under a preference.
    pub fn engine_for(&self, pref: TemplateEngine) -> TemplateEngine {
        match (&self.rego, &self.cel, pref) {
            (_, Some(_), TemplateEngine::Cel) | (None, Some(_), _) => TemplateEngine::Cel,
            _ => TemplateEngine::Rego,
        }
    }
}

/// Gatekeeper's `spec.enforcementAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deny,
    Warn,
    Dryrun,
}

/// Gatekeeper's enforcement points (`scopedEnforcementActions[].enforcementPoints[].name`).
pub const VALIDATION_POINT: &str = "validation.gatekeeper.sh";
pub const AUDIT_POINT: &str = "audit.gatekeeper.sh";
pub const GATOR_POINT: &str = "gator.gatekeeper.sh";
pub const VAP_POINT: &str = "vap.k8s.io";

/// A constraint: an instance of a template kind.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub kind: String,
    pub name: String,
    pub file: String,
    pub line: usize,
    /// `spec.enforcementAction` (for `scoped`, see `scoped`).
    pub action: Action,
    /// `enforcementAction: scoped`: each action with the enforcement points it applies at
    /// (`*` for all).
    pub scoped: Option<Vec<(Action, Vec<String>)>>,
    /// `spec.match.source`: original objects, objects expanded from workloads, or both.
    pub source: MatchSource,
    /// `spec.match` as written (interpreted by `eval::gatekeeper::matches`).
    pub matcher: Json,
    /// `spec.parameters`, or `{}`.
    pub parameters: Json,
    /// The whole constraint, as Gatekeeper binds it to CEL's `params`.
    pub document: Json,
}

impl Constraint {
    /// The actions this constraint takes at an enforcement point: its `enforcementAction`, or
    /// for `scoped` the union of the actions listed for that point or `*` (Gatekeeper's
    /// `GetEnforcementActionsForEP`); none means it is not enforced there.
    pub fn actions_at(&self, point: &str) -> Vec<Action> {
        let Some(scoped) = &self.scoped else {
            return vec![self.action];
        };
        let mut out = Vec::new();
        for (action, points) in scoped {
            if points
                .iter()
                .any(|p| p == "*" || p.eq_ignore_ascii_case(point))
                && !out.contains(action)
            {
                out.push(*action);
            }
        }
        out
    }
}

/// `spec.match.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchSource {
    All,
    Original,
    Generated,
}

/// An ExpansionTemplate (`expansion.gatekeeper.sh`): workloads of the `apply_to` kinds are also
/// reviewed as the object their `template_source` would create (a Deployment's Pod).
#[derive(Debug, Clone)]
pub struct Expansion {
    pub name: String,
    pub file: String,
    pub line: usize,
    /// (groups, versions, kinds) lists, each matched exactly (`*` matches any).
    pub apply_to: Vec<(Vec<String>, Vec<String>, Vec<String>)>,
    /// A dotted path into the workload (`spec.template`, `spec.jobTemplate.spec.template`).
    pub template_source: String,
    /// The resultant's group, version and kind.
    pub generated: (String, String, String),
    /// Overrides the constraints' action for violations of resultants.
    pub action: Option<Action>,
}

impl Expansion {
    pub fn applies_to(&self, group: &str, version: &str, kind: &str) -> bool {
        let has = |list: &[String], v: &str| list.iter().any(|x| x == v || x == "*");
        self.apply_to
            .iter()
            .any(|(g, v, k)| has(g, group) && has(v, version) && has(k, kind))
    }
}

pub fn is_expansion(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("ExpansionTemplate")
        && doc
            .get("apiVersion")
            .and_then(Json::as_str)
            .is_some_and(|v| v.starts_with("expansion.gatekeeper.sh/"))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExpansionSpec {
    #[serde(default)]
    apply_to: Vec<ApplyToDoc>,
    #[serde(default)]
    template_source: String,
    #[serde(default, rename = "generatedGVK")]
    generated_gvk: GvkDoc,
    #[serde(default)]
    enforcement_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyToDoc {
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GvkDoc {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
}

/// Reads one ExpansionTemplate document strictly.
pub fn expansion(doc: &Json, file: &str, text: &str, line: usize) -> Result<Expansion, ToolError> {
    let name = str_at(doc, &["metadata", "name"])
        .unwrap_or("<unnamed>")
        .to_string();
    let origin = Origin { file, text, line };
    let what = format!("ExpansionTemplate {name}");
    let typed: Manifest<ExpansionSpec> = origin.read(doc, &what)?;
    let spec = typed.spec;
    if spec.apply_to.is_empty() {
        return Err(origin.error(
            "spec.applyTo",
            format!("{what}: applyTo names no kinds, so it would never expand anything"),
        ));
    }
    if spec.template_source.trim().is_empty() {
        return Err(origin.error(
            "spec.templateSource",
            format!("{what}: templateSource is empty"),
        ));
    }
    if spec.generated_gvk.kind.is_empty() || spec.generated_gvk.version.is_empty() {
        return Err(origin.error(
            "spec.generatedGVK",
            format!("{what}: generatedGVK needs a version and a kind"),
        ));
    }
    let action = match spec.enforcement_action.as_deref() {
        None | Some("") => None,
        Some(a) => Some(parse_action(a).ok_or_else(|| {
            origin.error(
                "spec.enforcementAction",
                format!("{what}: enforcementAction {a:?} is not one of deny, warn, dryrun"),
            )
        })?),
    };
    Ok(Expansion {
        name,
        file: file.to_string(),
        line,
        apply_to: spec
            .apply_to
            .into_iter()
            .map(|a| (a.groups, a.versions, a.kinds))
            .collect(),
        template_source: spec.template_source,
        generated: (
            spec.generated_gvk.group,
            spec.generated_gvk.version,
            spec.generated_gvk.kind,
        ),
        action,
    })
}

/// All templates and constraints of a policy set.
#[derive(Clone, Default)]
pub struct Gatekeeper {
    pub templates: BTreeMap<String, Template>,
    pub constraints: Vec<Constraint>,
    /// Objects given as inventory (`--inventory`, gator case `inventory`), for namespace lookups.
    pub inventory: Vec<Json>,
    /// ExpansionTemplates.
    pub expansions: Vec<Expansion>,
    /// The enforcement point this evaluation is (`check` and `test`: gator's; `serve`: the
    /// validating webhook's), for `enforcementAction: scoped`. Empty means gator's.
    pub enforcement_point: String,
    /// Which engine runs templates that carry both Rego and CEL.
    pub engine: TemplateEngine,
}

impl Gatekeeper {
    pub fn point(&self) -> &str {
        if self.enforcement_point.is_empty() {
            GATOR_POINT
        } else {
            &self.enforcement_point
        }
    }
}

pub fn is_template(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("ConstraintTemplate")
        && api_group(doc) == "templates.gatekeeper.sh"
}

pub fn is_constraint(doc: &Json) -> bool {
    api_group(doc) == "constraints.gatekeeper.sh"
}

fn api_group(doc: &Json) -> &str {
    doc.get("apiVersion")
        .and_then(Json::as_str)
        .and_then(|v| v.split_once('/'))
        .map_or("", |(g, _)| g)
}

fn str_at<'a>(doc: &'a Json, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(doc, |v, k| v.get(k))
        .and_then(Json::as_str)
}

/// The Rego source and libs of the admission target: `rego`/`libs`, else a `code` entry with
/// `engine: Rego`. CEL-only templates are refused by the caller.
fn rego_of(target: &Json) -> Option<(String, Vec<String>, Option<RegoVersion>)> {
    let libs = |v: Option<&Json>| -> Vec<String> {
        v.and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(rego) = target.get("rego").and_then(Json::as_str) {
        return Some((rego.to_string(), libs(target.get("libs")), None));
    }
    for code in target.get("code").and_then(Json::as_array)? {
        if code.get("engine").and_then(Json::as_str) == Some("Rego") {
            let source = code.get("source")?;
            let rego = source.get("rego").and_then(Json::as_str)?;
            let version = match source.get("version").and_then(Json::as_str) {
                Some("v1") => Some(RegoVersion::V1),
                Some("v0") => Some(RegoVersion::V0),
                _ => None,
            };
            return Some((rego.to_string(), libs(source.get("libs")), version));
        }
    }
    None
}

fn package_of(rego: &str) -> Option<String> {
    rego.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("package "))
        .map(|p| p.trim().to_string())
}

// The documents as Gatekeeper's Go types define them; unknown fields are refused (kubectl's
// strict field validation), so a misspelt field never silently turns a check off.

type TemplateDoc = Manifest<TemplateSpec>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TemplateSpec {
    #[serde(default)]
    crd: CrdDoc,
    #[serde(default)]
    targets: Vec<TargetDoc>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CrdDoc {
    #[serde(default)]
    spec: CrdSpec,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CrdSpec {
    #[serde(default)]
    #[allow(dead_code)]
    names: NamesDoc,
    #[serde(default)]
    validation: Option<ValidationDoc>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct NamesDoc {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    short_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ValidationDoc {
    #[serde(default, rename = "openAPIV3Schema")]
    schema: Option<Json>,
    #[serde(default)]
    legacy_schema: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TargetDoc {
    target: String,
    #[serde(default)]
    rego: Option<String>,
    #[serde(default)]
    libs: Vec<String>,
    #[serde(default)]
    code: Vec<CodeDoc>,
    #[serde(default)]
    operations: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CodeDoc {
    engine: String,
    source: Json,
}

type ConstraintDoc = Manifest<ConstraintSpec>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct ConstraintSpec {
    #[serde(default, rename = "match")]
    matcher: Option<MatchDoc>,
    #[serde(default)]
    parameters: Option<Json>,
    #[serde(default)]
    enforcement_action: Option<String>,
    #[serde(default)]
    scoped_enforcement_actions: Option<Vec<ScopedActionDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScopedActionDoc {
    action: String,
    #[serde(default)]
    enforcement_points: Vec<EnforcementPointDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnforcementPointDoc {
    name: String,
}

fn parse_action(text: &str) -> Option<Action> {
    match text {
        "deny" => Some(Action::Deny),
        "warn" => Some(Action::Warn),
        "dryrun" => Some(Action::Dryrun),
        _ => None,
    }
}

/// Gatekeeper's `spec.match` (pkg/mutation/match).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct MatchDoc {
    #[serde(default)]
    kinds: Vec<KindsDoc>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    excluded_namespaces: Vec<String>,
    #[serde(default)]
    label_selector: Option<SelectorDoc>,
    #[serde(default)]
    namespace_selector: Option<SelectorDoc>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct KindsDoc {
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct SelectorDoc {
    #[serde(default)]
    match_labels: BTreeMap<String, String>,
    #[serde(default)]
    match_expressions: Vec<ExpressionDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ExpressionDoc {
    key: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

/// The API server's view of a structural schema: an object schema with `properties` refuses
/// other properties unless `x-kubernetes-preserve-unknown-fields` (or `additionalProperties`)
/// says otherwise.
fn structural(schema: &Json, preserve_top: bool) -> Json {
    fn walk(s: &Json, preserve: bool) -> Json {
        let Some(obj) = s.as_object() else {
            return s.clone();
        };
        let mut out = serde_json::Map::new();
        for (k, v) in obj {
            let v = match k.as_str() {
                "properties" | "patternProperties" | "definitions" => match v.as_object() {
                    Some(props) => Json::Object(
                        props
                            .iter()
                            .map(|(pk, pv)| (pk.clone(), walk(pv, false)))
                            .collect(),
                    ),
                    None => v.clone(),
                },
                "items" | "additionalProperties" | "not" => walk(v, false),
                "allOf" | "anyOf" | "oneOf" => match v.as_array() {
                    Some(a) => Json::Array(a.iter().map(|x| walk(x, false)).collect()),
                    None => v.clone(),
                },
                _ => v.clone(),
            };
            out.insert(k.clone(), v);
        }
        let preserved =
            preserve || obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Json::Bool(true));
        if obj.contains_key("properties") && !obj.contains_key("additionalProperties") && !preserved
        {
            out.insert("additionalProperties".into(), Json::Bool(false));
        }
        Json::Object(out)
    }
    walk(schema, preserve_top)
}

/// `/labels/0` → `labels[0]`.
fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

impl Template {
    /// Validates a constraint's `spec.parameters` against this template's schema, as the API
    /// server would when the constraint is applied. Errors name the parameter's path.
    pub fn check_parameters(&self, parameters: &Json) -> Vec<(String, String)> {
        let Some(v) = &self.parameters else {
            return Vec::new();
        };
        v.iter_errors(parameters)
            .map(|e| {
                let at = pointer_to_path(&e.instance_path().to_string());
                let field = if at.is_empty() {
                    "spec.parameters".to_string()
                } else {
                    format!("spec.parameters.{at}")
                };
                (field, e.to_string())
            })
            .collect()
    }
}

/// Compiles one ConstraintTemplate document. `text` is the whole file (for field lines).
pub fn template(
    doc: &Json,
    file: &str,
    text: &str,
    line: usize,
    forced: Option<RegoVersion>,
) -> Result<Template, ToolError> {
    let err = |msg: String| ToolError::new(file, line, msg);
    let name = str_at(doc, &["metadata", "name"])
        .unwrap_or("<unnamed>")
        .to_string();
    let origin = Origin { file, text, line };
    let typed: TemplateDoc = origin.read(doc, &format!("ConstraintTemplate {name}"))?;
    let (schema, legacy) = typed
        .spec
        .crd
        .spec
        .validation
        .map(|v| (v.schema, v.legacy_schema.unwrap_or(false)))
        .unwrap_or((None, false));
    let parameters = match schema {
        None => None,
        Some(s) => Some(Arc::new(
            jsonschema::draft4::new(&structural(&s, legacy)).map_err(|e| {
                origin.error(
                    "spec.crd.spec.validation.openAPIV3Schema",
                    format!("ConstraintTemplate {name}: not a valid schema: {e}"),
                )
            })?,
        )),
    };
    let operations = typed
        .spec
        .targets
        .iter()
        .find(|t| t.target == TARGET)
        .and_then(|t| t.operations.clone());
    let kind = str_at(doc, &["spec", "crd", "spec", "names", "kind"])
        .ok_or_else(|| {
            err(format!(
                "ConstraintTemplate {name}: spec.crd.spec.names.kind is missing"
            ))
        })?
        .to_string();
    let targets = doc
        .pointer("/spec/targets")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let (ti, target) = targets
        .iter()
        .enumerate()
        .find(|(_, t)| t.get("target").and_then(Json::as_str) == Some(TARGET))
        .ok_or_else(|| err(format!("ConstraintTemplate {name}: no target {TARGET}")))?;
    let what = format!("ConstraintTemplate {name}");
    // Every code entry names an engine policyctl runs; an unknown one would be dropped.
    let mut cel_entry = None;
    for (ci, code) in target
        .get("code")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match code.get("engine").and_then(Json::as_str) {
            Some("Rego") => {}
            Some(crate::cel::ENGINE) => {
                cel_entry.get_or_insert((ci, code.get("source").cloned().unwrap_or(Json::Null)));
            }
            other => {
                return Err(origin.error(
                    &format!("spec.targets[{ti}].code[{ci}].engine"),
                    format!(
                        "{what}: engine {:?} is not one policyctl runs (Rego, {})",
                        other.unwrap_or(""),
                        crate::cel::ENGINE
                    ),
                ))
            }
        }
    }
    let cel = match cel_entry {
        None => None,
        Some((ci, source)) => Some(Arc::new(crate::cel::template::compile_source(
            &source,
            &origin,
            &format!("spec.targets[{ti}].code[{ci}].source"),
            &what,
        )?)),
    };
    let rego = match rego_of(target) {
        Some((rego, libs, version)) => Some(compile_rego(
            &name,
            file,
            line,
            rego,
            libs,
            forced.or(version),
        )?),
        None if cel.is_some() => None,
        None => {
            return Err(err(format!(
                "{what}: target {TARGET} has no source: give Rego (spec.targets[].rego, or a code \
                 entry with engine: Rego) or CEL (a code entry with engine: {})",
                crate::cel::ENGINE
            )))
        }
    };
    Ok(Template {
        kind,
        name,
        file: file.to_string(),
        rego,
        cel,
        parameters,
        operations,
    })
}

/// Compiles a template's Rego and libs into one prepared engine.
fn compile_rego(
    name: &str,
    file: &str,
    line: usize,
    rego: String,
    libs: Vec<String>,
    version: Option<RegoVersion>,
) -> Result<RegoTemplate, ToolError> {
    let err = |msg: String| ToolError::new(file, line, msg);
    let all_text = std::iter::once(rego.as_str()).chain(libs.iter().map(String::as_str));
    for text in all_text {
        if let Some(i) = text
            .lines()
            .position(|l| l.split('#').next().unwrap_or("").contains("external_data("))
        {
            return Err(err(format!(
                "ConstraintTemplate {name}: calls external_data (line {} of its Rego); Gatekeeper external data \
                 providers are not supported by policyctl, so this template cannot be evaluated",
                i + 1
            )));
        }
    }
    let package = package_of(&rego).ok_or_else(|| {
        err(format!(
            "ConstraintTemplate {name}: its Rego has no package"
        ))
    })?;
    let mut engine = new_engine();
    for (i, lib) in libs.iter().enumerate() {
        let src = Source {
            path: format!("{file}#{name}.libs[{i}]"),
            text: lib.clone(),
            builtin: false,
        };
        add_source(&mut engine, &src, version)
            .map_err(|e| err(format!("ConstraintTemplate {name}: {}", e.display())))?;
    }
    let src = Source {
        path: format!("{file}#{name}"),
        text: rego,
        builtin: false,
    };
    add_source(&mut engine, &src, version)
        .map_err(|e| err(format!("ConstraintTemplate {name}: {}", e.display())))?;
    let mut t = RegoTemplate {
        engine,
        violation_path: format!("data.{package}.violation"),
    };
    t.prepare()
        .map_err(|e| err(format!("ConstraintTemplate {name}: {e}")))?;
    Ok(t)
}

impl RegoTemplate {
    /// Prepares the engine (compile errors surface here) so clones start prepared.
    fn prepare(&mut self) -> Result<(), String> {
        self.engine
            .eval_rule(self.violation_path.clone())
            .map(|_| ())
            .map_err(|e| {
                let te = super::rego_error("", &e.to_string());
                if te.line > 0 {
                    format!("{}:{}: {}", te.file, te.line, te.message)
                } else {
                    te.message
                }
            })
    }
}

impl Template {
    /// A copy of this template whose `data.inventory` holds `inventory` (Gatekeeper's layout).
    /// CEL has no inventory (Gatekeeper's k8scel driver gives it none).
    pub fn with_inventory(&self, inventory: &Json) -> Result<Template, String> {
        let mut t = self.clone();
        if let Some(rego) = &mut t.rego {
            rego.engine
                .add_data(Value::from(serde_json::json!({ "inventory": inventory })))
                .map_err(|e| e.to_string())?;
            rego.prepare()?;
        }
        Ok(t)
    }
}

/// Reads one Constraint document. `text` is the whole file (for field lines).
pub fn constraint(
    doc: &Json,
    file: &str,
    text: &str,
    line: usize,
) -> Result<Constraint, ToolError> {
    let kind = doc
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let name = str_at(doc, &["metadata", "name"])
        .unwrap_or("<unnamed>")
        .to_string();
    let origin = Origin { file, text, line };
    let typed: ConstraintDoc = origin.read(doc, &format!("{kind}/{name}"))?;
    let is_scoped = typed.spec.enforcement_action.as_deref() == Some("scoped");
    let scoped = match (&typed.spec.scoped_enforcement_actions, is_scoped) {
        (Some(_), false) => {
            return Err(origin.error(
                "spec.scopedEnforcementActions",
                format!("{kind}/{name}: scopedEnforcementActions apply only with enforcementAction: scoped (Gatekeeper would ignore them; set enforcementAction: scoped or remove them)"),
            ))
        }
        (None, true) => {
            return Err(origin.error(
                "spec.enforcementAction",
                format!("{kind}/{name}: enforcementAction: scoped needs scopedEnforcementActions (which action at which enforcement point)"),
            ))
        }
        (None, false) => None,
        (Some(list), true) => {
            let mut out = Vec::new();
            for (i, entry) in list.iter().enumerate() {
                let action = parse_action(&entry.action).ok_or_else(|| {
                    origin.error(
                        &format!("spec.scopedEnforcementActions[{i}].action"),
                        format!("{kind}/{name}: scopedEnforcementActions[{i}].action {:?} is not one of deny, warn, dryrun", entry.action),
                    )
                })?;
                if entry.enforcement_points.is_empty() {
                    return Err(origin.error(
                        &format!("spec.scopedEnforcementActions[{i}].enforcementPoints"),
                        format!("{kind}/{name}: scopedEnforcementActions[{i}] names no enforcement point (use \"*\" for all)"),
                    ));
                }
                let mut points = Vec::new();
                for (j, p) in entry.enforcement_points.iter().enumerate() {
                    let known = [VALIDATION_POINT, AUDIT_POINT, GATOR_POINT, VAP_POINT, "*"];
                    if !known.iter().any(|k| k.eq_ignore_ascii_case(&p.name)) {
                        return Err(origin.error(
                            &format!("spec.scopedEnforcementActions[{i}].enforcementPoints[{j}].name"),
                            format!(
                                "{kind}/{name}: enforcement point {:?} is not one of {} (a misspelt point would never enforce)",
                                p.name,
                                known.join(", ")
                            ),
                        ));
                    }
                    points.push(p.name.to_ascii_lowercase());
                }
                out.push((action, points));
            }
            Some(out)
        }
    };
    let mut match_source = MatchSource::All;
    if let Some(source) = typed
        .spec
        .matcher
        .as_ref()
        .and_then(|m| m.source.as_deref())
    {
        match source {
            "All" => {}
            "Original" => match_source = MatchSource::Original,
            "Generated" => match_source = MatchSource::Generated,
            other => {
                return Err(origin.error(
                    "spec.match.source",
                    format!("{kind}/{name}: {other:?} is not All, Generated or Original"),
                ))
            }
        }
    }
    let action = match str_at(doc, &["spec", "enforcementAction"]).unwrap_or("deny") {
        "deny" | "scoped" => Action::Deny,
        "warn" => Action::Warn,
        "dryrun" => Action::Dryrun,
        other => {
            return Err(ToolError::new(
                file,
                line,
                format!(
                "{kind}/{name}: spec.enforcementAction {other:?} is not one of deny, warn, dryrun, scoped"
            ),
            ))
        }
    };
    Ok(Constraint {
        kind,
        name,
        file: file.to_string(),
        line,
        action,
        scoped,
        source: match_source,
        matcher: doc.pointer("/spec/match").cloned().unwrap_or(Json::Null),
        parameters: doc
            .pointer("/spec/parameters")
            .cloned()
            .unwrap_or_else(|| Json::Object(Default::default())),
        document: doc.clone(),
    })
}

/// Gatekeeper's inventory layout: `cluster[groupVersion][Kind][name]` for objects without a
/// namespace, `namespace[ns][groupVersion][Kind][name]` for the others.
pub fn inventory_data(objects: &[Json]) -> Json {
    let mut root = serde_json::json!({"cluster": {}, "namespace": {}});
    for obj in objects {
        let (Some(gv), Some(kind), Some(name)) = (
            obj.get("apiVersion").and_then(Json::as_str),
            obj.get("kind").and_then(Json::as_str),
            str_at(obj, &["metadata", "name"]),
        ) else {
            continue;
        };
        let path: Vec<&str> = match str_at(obj, &["metadata", "namespace"]) {
            Some(ns) if !ns.is_empty() => vec!["namespace", ns, gv, kind, name],
            _ => vec!["cluster", gv, kind, name],
        };
        let mut cursor = &mut root;
        for key in &path[..path.len() - 1] {
            if !cursor.get(*key).is_some_and(Json::is_object) {
                cursor[*key] = Json::Object(Default::default());
            }
            cursor = &mut cursor[*key];
        }
        cursor[path[path.len() - 1]] = obj.clone();
    }
    root
}

impl Gatekeeper {
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Replaces the inventory and re-prepares every template with it.
    pub fn set_inventory(&mut self, objects: Vec<Json>) -> Result<(), String> {
        let data = inventory_data(&objects);
        for t in self.templates.values_mut() {
            *t = t.with_inventory(&data)?;
        }
        self.inventory = objects;
        Ok(())
    }

    /// The Namespace object called `name`, from the inventory.
    pub fn namespace(&self, name: &str) -> Option<&Json> {
        self.inventory.iter().find(|o| {
            o.get("kind").and_then(Json::as_str) == Some("Namespace")
                && str_at(o, &["metadata", "name"]) == Some(name)
        })
    }

    /// Constraints whose kind no loaded template defines: reported as load errors.
    pub fn orphans(&self) -> Vec<ToolError> {
        self.constraints
            .iter()
            .filter(|c| !self.templates.contains_key(&c.kind))
            .map(|c| {
                ToolError::new(
                    c.file.as_str(),
                    c.line,
                    format!(
                        "constraint {}/{}: no ConstraintTemplate defines kind {} (pass the template with -p)",
                        c.kind, c.name, c.kind
                    ),
                )
            })
            .collect()
    }
}
