//! `-o policyreport`: wgpolicyk8s.io/v1alpha2 PolicyReports (one per namespace) and a
//! ClusterPolicyReport (cluster-scoped objects and inputs that are not Kubernetes objects), as a
//! YAML stream `kubectl apply -f -` takes, so Policy Reporter and similar UIs show a
//! `kubectl get -A -o yaml | policyctl check -o policyreport -` audit. One result per rule
//! evaluated against a resource: pass, fail, warn, skip (an exception or a dry run), and an
//! `error` result per error.

use crate::finding::{Decision, Severity};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(super) fn render(d: &Decision) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs())
        .unwrap_or(0);
    let timestamp = json!({"seconds": now, "nanos": 0});
    // namespace (None: cluster) -> results
    let mut reports: BTreeMap<Option<&str>, Vec<Value>> = BTreeMap::new();
    for case in d.cases() {
        let result = match case.worst() {
            None => "pass",
            Some(Severity::Failure) => "fail",
            Some(Severity::Warning) => "warn",
            Some(Severity::Exception | Severity::Dryrun) => "skip",
        };
        let message = case
            .findings
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let mut r = json!({
            "policy": case.policy,
            "rule": case.rule,
            "result": result,
            "scored": true,
            "source": "policyctl",
            "timestamp": timestamp,
            "properties": {"file": super::location(case.file, case.line)},
        });
        if !message.is_empty() {
            r["message"] = json!(message);
        }
        if let Some(sev) = case
            .worst()
            .filter(|s| matches!(s, Severity::Exception | Severity::Dryrun))
        {
            r["properties"]["reason"] = json!(sev.as_str());
        }
        if let Some(res) = case.resource {
            let mut reference =
                json!({"apiVersion": res.api_version, "kind": res.kind, "name": res.name});
            if let Some(ns) = &res.namespace {
                reference["namespace"] = json!(ns);
            }
            r["resources"] = json!([reference]);
        }
        reports
            .entry(case.resource.and_then(|r| r.namespace.as_deref()))
            .or_default()
            .push(r);
    }
    for e in &d.errors {
        reports.entry(None).or_default().push(json!({
            "policy": "policyctl",
            "rule": "error",
            "result": "error",
            "scored": true,
            "source": "policyctl",
            "timestamp": timestamp,
            "message": e.message,
            "properties": {"file": super::location(&e.file, e.line)},
        }));
    }
    let mut out = String::new();
    for (namespace, results) in reports {
        let mut summary = json!({"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0});
        for r in &results {
            let key = r["result"].as_str().unwrap_or("error").to_string();
            summary[&key] = json!(summary[&key].as_u64().unwrap_or(0) + 1);
        }
        let (kind, metadata) = match namespace {
            Some(ns) => (
                "PolicyReport",
                json!({"name": "policyctl", "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "policyctl"}}),
            ),
            None => (
                "ClusterPolicyReport",
                json!({"name": "policyctl", "labels": {"app.kubernetes.io/managed-by": "policyctl"}}),
            ),
        };
        let report = json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": kind,
            "metadata": metadata,
            "results": results,
            "summary": summary,
        });
        out.push_str("---\n");
        out.push_str(
            &serde_yaml::to_string(&report).unwrap_or_else(|e| format!("# cannot render: {e}\n")),
        );
    }
    out
}
