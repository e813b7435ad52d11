//! Gatekeeper semantics: the review an object is presented as (`input.review`), constraint
//! matching (a port of Gatekeeper's `pkg/mutation/match` rules), and turning `violation` results
//! into findings with the constraint's enforcement action.

use crate::finding::{Finding, Severity, ToolError};
use crate::input::Document;
use crate::policy::gatekeeper::{Action, Constraint, Gatekeeper, TemplateEngine};
use crate::strict::selector_matches;
use regorus::Value;
use serde_json::{json, Value as Json};

/// What a document is, for admission-style policies: the object conftest policies see, and the
/// AdmissionRequest Gatekeeper templates see as `input.review`.
#[derive(Debug, Clone)]
pub struct Subject {
    pub object: Json,
    pub review: Json,
}

fn group_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

pub fn is_admission_review(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("AdmissionReview")
        && doc
            .get("apiVersion")
            .and_then(Json::as_str)
            .is_some_and(|v| v.starts_with("admission.k8s.io/"))
}

/// A manifest, presented as Gatekeeper presents an object it audits or gator reviews: a CREATE.
pub fn subject_of_object(object: Json) -> Subject {
    let api = object
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let (group, version) = group_version(api);
    let kind = object
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let meta = object.get("metadata");
    let field = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let review = json!({
        "kind": {"group": group, "version": version, "kind": kind},
        "name": field("name"),
        "namespace": field("namespace"),
        "operation": "CREATE",
        "object": object,
    });
    Subject { object, review }
}

/// An AdmissionReview: `request` becomes the review; on DELETE the object under review is
/// `oldObject` (Gatekeeper sets `object` to it too, so templates need no special case).
pub fn subject_of_review(doc: &Json) -> Result<Subject, String> {
    let request = doc
        .get("request")
        .filter(|r| r.is_object())
        .ok_or("AdmissionReview has no request")?;
    let mut review = request.clone();
    let operation = request
        .get("operation")
        .and_then(Json::as_str)
        .unwrap_or("");
    let object = request[reviewed_key(request)?].clone();
    if operation == "DELETE" {
        review["object"] = object.clone();
    }
    Ok(Subject { object, review })
}

/// Which of `object` and `oldObject` a request is about: the object, or the old one when there
/// is none (DELETE).
fn reviewed_key(request: &Json) -> Result<&'static str, String> {
    match (request.get("object"), request.get("oldObject")) {
        (Some(o), _) if !o.is_null() => Ok("object"),
        (_, Some(old)) if !old.is_null() => Ok("oldObject"),
        _ => Err("AdmissionReview request has neither object nor oldObject".into()),
    }
}

/// The object an AdmissionReview is about (see [`reviewed_key`]).
pub fn reviewed_object(review: &Json) -> Option<&Json> {
    let request = review.get("request")?;
    reviewed_key(request).ok().map(|key| &request[key])
}

/// The object a document is about, borrowed: the reviewed object of an AdmissionReview (with
/// `true`), else the document itself. For callers that need no Gatekeeper review.
pub fn object_of(doc: &Document) -> Result<(&Json, bool), ToolError> {
    if !is_admission_review(&doc.contents) {
        return Ok((&doc.contents, false));
    }
    let request = doc
        .contents
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| {
            ToolError::new(
                doc.file.as_str(),
                doc.line,
                "AdmissionReview has no request",
            )
        })?;
    let key = reviewed_key(request).map_err(|e| ToolError::new(doc.file.as_str(), doc.line, e))?;
    Ok((&request[key], true))
}

/// Builds the subject of a parsed document, unwrapping AdmissionReviews (with `true`: findings
/// then name the reviewed object, see [`Document::naming`]).
pub fn subject(doc: &Document) -> Result<(Subject, bool), ToolError> {
    if is_admission_review(&doc.contents) {
        let s = subject_of_review(&doc.contents)
            .map_err(|e| ToolError::new(doc.file.as_str(), doc.line, e))?;
        Ok((s, true))
    } else {
        Ok((subject_of_object(doc.contents.clone()), false))
    }
}

/// Gatekeeper's wildcard: `prefix*`, `*suffix`, `*`, or an exact name.
fn wildcard(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        true
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        value.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        value.ends_with(suffix)
    } else {
        pattern == value
    }
}

fn strings(v: Option<&Json>) -> Vec<&str> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default()
}

fn labels(obj: &Json) -> serde_json::Map<String, Json> {
    obj.pointer("/metadata/labels")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Whether `constraint` applies to `object`; `ns` is the object's Namespace (from inventory).
/// Mirrors Gatekeeper: every criterion must hold; an unset criterion matches.
pub fn matches(m: &Json, object: &Json, ns: Option<&Json>) -> Result<bool, String> {
    if m.is_null() {
        return Ok(true);
    }
    let api = object
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let (group, _) = group_version(api);
    let kind = object
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let name = object
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let obj_ns = object
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let is_namespace = kind == "Namespace" && group.is_empty();
    let ns_name = ns
        .and_then(|n| n.pointer("/metadata/name"))
        .and_then(Json::as_str);

    // kinds
    if let Some(kinds) = m
        .get("kinds")
        .and_then(Json::as_array)
        .filter(|k| !k.is_empty())
    {
        let hit = kinds.iter().any(|kk| {
            let ks = strings(kk.get("kinds"));
            let gs = strings(kk.get("apiGroups"));
            (ks.is_empty() || ks.contains(&"*") || ks.contains(&kind))
                && (gs.is_empty() || gs.contains(&"*") || gs.contains(&group))
        });
        if !hit {
            return Ok(false);
        }
    }
    // scope
    let has_namespace = !obj_ns.is_empty() || ns.is_some();
    match m.get("scope").and_then(Json::as_str) {
        Some("Cluster") if !is_namespace && has_namespace => return Ok(false),
        Some("Namespaced") if is_namespace || !has_namespace => return Ok(false),
        _ => {}
    }
    // The namespace namespaces/excludedNamespaces look at; cluster-scoped objects have none.
    let namespace = if is_namespace {
        Some(name)
    } else if let Some(n) = ns_name {
        Some(n)
    } else if !obj_ns.is_empty() {
        Some(obj_ns)
    } else {
        None
    };
    let included = strings(m.get("namespaces"));
    if let (false, Some(n)) = (included.is_empty(), namespace) {
        if !included.iter().any(|p| wildcard(p, n)) {
            return Ok(false);
        }
    }
    let excluded = strings(m.get("excludedNamespaces"));
    if let Some(n) = namespace {
        if excluded.iter().any(|p| wildcard(p, n)) {
            return Ok(false);
        }
    }
    if let Some(sel) = m.get("labelSelector").filter(|s| !s.is_null()) {
        if !selector_matches(sel, &labels(object))? {
            return Ok(false);
        }
    }
    if let Some(sel) = m.get("namespaceSelector").filter(|s| !s.is_null()) {
        let ok = if is_namespace {
            selector_matches(sel, &labels(object))?
        } else if ns.is_none() && obj_ns.is_empty() {
            true // cluster-scoped, not a Namespace: matched
        } else {
            let ns = ns.ok_or_else(|| {
                format!(
                    "namespaceSelector needs the Namespace {obj_ns:?}, which is not in the inventory \
                     (pass it with --inventory, or in the gator case's inventory)"
                )
            })?;
            selector_matches(sel, &labels(ns))?
        };
        if !ok {
            return Ok(false);
        }
    }
    if let Some(pattern) = m
        .get("name")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
    {
        if !wildcard(pattern, name) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One constraint's verdict on one subject: the `violation` results as (msg, details).
pub fn review(
    gk: &Gatekeeper,
    c: &Constraint,
    subject: &Subject,
) -> Result<Option<Vec<(String, Json)>>, String> {
    let Some(template) = gk.templates.get(&c.kind) else {
        return Ok(None);
    };
    if let Some(ops) = &template.operations {
        let op = subject
            .review
            .get("operation")
            .and_then(Json::as_str)
            .unwrap_or("CREATE");
        if !ops.iter().any(|o| o == op || o == "*") {
            return Ok(None);
        }
    }
    let object_ns = subject
        .object
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let ns = if object_ns.is_empty() {
        None
    } else {
        gk.namespace(object_ns)
    };
    if !matches(&c.matcher, &subject.object, ns)
        .map_err(|e| format!("{}/{}: {e}", c.kind, c.name))?
    {
        return Ok(None);
    }
    if template.engine_for(gk.engine) == TemplateEngine::Cel {
        let Some(cel) = &template.cel else {
            return Ok(None);
        };
        return Ok(review_cel(cel, c, subject, ns));
    }
    let Some(rego) = &template.rego else {
        return Ok(None);
    };
    let mut engine = rego.engine.clone();
    engine.set_input(Value::from(
        json!({"review": subject.review, "parameters": c.parameters}),
    ));
    let value = engine.eval_rule(rego.violation_path.clone()).map_err(|e| {
        let te = crate::policy::rego_error("", &e.to_string());
        format!(
            "{}/{} (template {}) failed: {}",
            c.kind, c.name, template.name, te.message
        )
    })?;
    let items: Vec<Value> = match value {
        Value::Set(s) => s.iter().cloned().collect(),
        Value::Array(a) => a.iter().cloned().collect(),
        _ => Vec::new(),
    };
    Ok(Some(
        items
            .into_iter()
            .map(|v| {
                let j = serde_json::to_value(&v).unwrap_or(Json::Null);
                let msg = j
                    .get("msg")
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| j.to_string());
                (msg, j.get("details").cloned().unwrap_or(Json::Null))
            })
            .collect(),
    ))
}

/// A CEL template's verdict, with the bindings Gatekeeper's k8scel driver gives: on DELETE
/// `object` is null (`variables.anyObject` is the old object), `params` is the constraint.
fn review_cel(
    cel: &crate::cel::Validator,
    c: &Constraint,
    subject: &Subject,
    ns: Option<&Json>,
) -> Option<Vec<(String, Json)>> {
    let null = Json::Null;
    let deleting = subject.review.get("operation").and_then(Json::as_str) == Some("DELETE");
    // Gatekeeper unsets the object of a DELETE for CEL (its Rego sees the old object there):
    // `request.object` is null too.
    let unset;
    let request = if deleting && subject.review.get("object").is_some_and(|o| !o.is_null()) {
        let mut r = subject.review.clone();
        r["object"] = Json::Null;
        unset = r;
        &unset
    } else {
        &subject.review
    };
    let object = if deleting {
        &null
    } else {
        request.get("object").unwrap_or(&subject.object)
    };
    let old_object = request.get("oldObject").unwrap_or(&null);
    let bindings = crate::cel::Bindings {
        object,
        old_object,
        request,
        constraint: &c.document,
        namespace_object: ns,
    };
    match cel.evaluate(&bindings) {
        crate::cel::Verdict::NotMatched => None,
        crate::cel::Verdict::Violations(v) => {
            Some(v.into_iter().map(|m| (m, Json::Null)).collect())
        }
    }
}

/// Every constraint against one document: findings (policy `<Kind>/<name>`), the number of
/// constraints that matched and passed, and errors.
pub fn evaluate(gk: &Gatekeeper, doc: &Document, subject: &Subject, out: &mut super::Outcome) {
    review_subject(gk, doc, subject, None, out);
    // ExpansionTemplates: a workload is also reviewed as the object it would create (its Pod),
    // against constraints matching generated objects; violations land on the workload.
    for resultant in expand(gk, subject) {
        match resultant {
            Ok((e, generated)) => review_subject(gk, doc, &generated, Some(e), out),
            Err(message) => out
                .errors
                .push(ToolError::new(doc.file.as_str(), doc.line, message)),
        }
    }
}

/// The objects `subject` would create, one per ExpansionTemplate that applies to it (gator
/// expand's resultants: the template source with the generated kind, in the workload's
/// namespace, reviewed with the workload's operation).
pub fn expand<'g>(
    gk: &'g Gatekeeper,
    subject: &Subject,
) -> Vec<Result<(&'g crate::policy::gatekeeper::Expansion, Subject), String>> {
    let api = subject
        .object
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let (group, version) = group_version(api);
    let kind = subject
        .object
        .get("kind")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in &gk.expansions {
        if !e.applies_to(group, version, kind) {
            continue;
        }
        let pointer = format!("/{}", e.template_source.replace('.', "/"));
        let Some(source) = subject.object.pointer(&pointer).filter(|v| v.is_object()) else {
            out.push(Err(format!(
                "ExpansionTemplate {}: {kind} has no object at {} to expand",
                e.name, e.template_source
            )));
            continue;
        };
        let mut resultant = source.clone();
        let (g, v, k) = &e.generated;
        resultant["apiVersion"] = json!(if g.is_empty() {
            v.clone()
        } else {
            format!("{g}/{v}")
        });
        resultant["kind"] = json!(k);
        if !resultant.get("metadata").is_some_and(Json::is_object) {
            resultant["metadata"] = json!({});
        }
        // As Gatekeeper's expansion system names it: `<parent name>-<kind>` in lower case, in
        // the parent's namespace, owned by the parent.
        let parent_name = subject
            .object
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let mock_name = if k.is_empty() {
            parent_name.to_lowercase()
        } else {
            format!("{parent_name}-{k}").to_lowercase()
        };
        resultant["metadata"]["name"] = json!(mock_name);
        if let Some(ns) = subject.object.pointer("/metadata/namespace") {
            resultant["metadata"]["namespace"] = ns.clone();
        }
        let owner = json!({"apiVersion": api, "kind": kind, "name": parent_name});
        let refs = &mut resultant["metadata"]["ownerReferences"];
        if !refs.is_array() {
            *refs = json!([]);
        }
        if let Some(list) = refs.as_array_mut() {
            let same = |r: &Json| {
                r.get("apiVersion") == owner.get("apiVersion")
                    && r.get("kind") == owner.get("kind")
                    && r.get("name") == owner.get("name")
            };
            if !list.iter().any(same) {
                list.push(owner);
            }
        }
        let mut generated = subject_of_object(resultant);
        if let Some(op) = subject.review.get("operation") {
            generated.review["operation"] = op.clone();
        }
        out.push(Ok((e, generated)));
    }
    out
}

/// The constraints that match `subject`'s source (original, or expanded by `expansion`).
fn review_subject(
    gk: &Gatekeeper,
    doc: &Document,
    subject: &Subject,
    expansion: Option<&crate::policy::gatekeeper::Expansion>,
    out: &mut super::Outcome,
) {
    use crate::policy::gatekeeper::MatchSource;
    for c in &gk.constraints {
        let wanted = match expansion {
            None => c.source != MatchSource::Generated,
            Some(_) => c.source != MatchSource::Original,
        };
        if !wanted {
            continue;
        }
        // `scoped` constraints act only at the enforcement points they name; an expansion's
        // enforcementAction overrides the constraint's for its resultants.
        let mut actions = c.actions_at(gk.point());
        if let (Some(a), false) = (expansion.and_then(|e| e.action), actions.is_empty()) {
            actions = vec![a];
        }
        if actions.is_empty() {
            continue;
        }
        match review(gk, c, subject) {
            Ok(None) => {}
            Ok(Some(violations)) if violations.is_empty() => {
                out.pass(doc, || format!("{}/{}", c.kind, c.name), "violation");
            }
            Ok(Some(violations)) => {
                for ((message, details), action) in violations
                    .into_iter()
                    .flat_map(|v| actions.iter().map(move |a| (v.clone(), *a)))
                {
                    let message = match expansion {
                        Some(e) => format!("[Implied by {}] {message}", e.name),
                        None => message,
                    };
                    out.findings.push(Finding {
                        severity: match action {
                            Action::Deny => Severity::Failure,
                            Action::Warn => Severity::Warning,
                            Action::Dryrun => Severity::Dryrun,
                        },
                        file: doc.file.clone(),
                        line: doc.line,
                        resource: doc.resource.clone(),
                        policy: format!("{}/{}", c.kind, c.name),
                        rule: "violation".into(),
                        message,
                        details,
                    });
                }
            }
            Err(e) => out
                .errors
                .push(ToolError::new(doc.file.as_str(), doc.line, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, labels: Json) -> Json {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": ns, "labels": labels}})
    }

    #[test]
    fn kinds_groups_and_wildcards() {
        let m = json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Deployment"]}]});
        assert!(!matches(&m, &pod("a", json!({})), None).unwrap());
        let m = json!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]});
        assert!(matches(&m, &pod("a", json!({})), None).unwrap());
        let m = json!({"kinds": [{"apiGroups": ["*"], "kinds": ["*"]}], "name": "web-*"});
        assert!(matches(&m, &pod("a", json!({})), None).unwrap());
        let m = json!({"name": "*-2"});
        assert!(!matches(&m, &pod("a", json!({})), None).unwrap());
    }

    #[test]
    fn namespaces_never_exclude_cluster_scoped_objects() {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
        let m = json!({"namespaces": ["prod"], "excludedNamespaces": ["kube-*"]});
        assert!(matches(&m, &node, None).unwrap());
        assert!(!matches(&m, &pod("dev", json!({})), None).unwrap());
        assert!(matches(&m, &pod("prod", json!({})), None).unwrap());
        let m = json!({"excludedNamespaces": ["kube-*", "*-system"]});
        assert!(!matches(&m, &pod("kube-public", json!({})), None).unwrap());
        assert!(!matches(&m, &pod("gatekeeper-system", json!({})), None).unwrap());
        // A Namespace object is matched by its own name.
        let ns =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}});
        assert!(!matches(&m, &ns, None).unwrap());
    }

    #[test]
    fn scope() {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}});
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
        let cluster = json!({"scope": "Cluster"});
        let namespaced = json!({"scope": "Namespaced"});
        assert!(matches(&cluster, &node, None).unwrap());
        assert!(matches(&cluster, &ns, None).unwrap());
        assert!(!matches(&cluster, &pod("a", json!({})), None).unwrap());
        assert!(matches(&namespaced, &pod("a", json!({})), None).unwrap());
        assert!(!matches(&namespaced, &ns, None).unwrap());
    }

    #[test]
    fn label_and_namespace_selectors() {
        let m = json!({"labelSelector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["test"]}]}});
        assert!(matches(&m, &pod("a", json!({"app": "web"})), None).unwrap());
        assert!(!matches(&m, &pod("a", json!({"app": "web", "tier": "test"})), None).unwrap());
        let m = json!({"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}});
        let prod = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"env": "prod"}}});
        assert!(matches(&m, &pod("a", json!({})), Some(&prod)).unwrap());
        assert!(
            matches(&m, &prod, None).unwrap(),
            "a Namespace is matched against itself"
        );
        assert!(
            matches(&m, &pod("a", json!({})), None).is_err(),
            "missing namespace is an error, as in Gatekeeper"
        );
        let bad =
            json!({"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}});
        assert!(matches(&bad, &pod("a", json!({})), None).is_err());
    }

    #[test]
    fn delete_reviews_the_old_object() {
        let ar = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "1", "operation": "DELETE", "oldObject": pod("a", json!({})), "object": null}});
        let s = subject_of_review(&ar).unwrap();
        assert_eq!(s.object["kind"], "Pod");
        assert_eq!(s.review["object"]["kind"], "Pod");
        assert_eq!(s.review["oldObject"]["kind"], "Pod");
    }
}
