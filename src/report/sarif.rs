//! SARIF 2.1.0 through the schema-generated `serde-sarif` model: one run, one rule per
//! `policy/rule`, one result per finding with a file/line region (what GitHub code scanning
//! needs to annotate a pull request), tool errors as execution notifications.

use crate::finding::{Decision, Severity};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingDescriptor, Result as SarifResult, ResultKind,
    ResultLevel, Run, Sarif, Tool, ToolComponent, SCHEMA_URL,
};
use std::collections::BTreeMap;

fn uri(file: &str) -> String {
    file.strip_prefix("./").unwrap_or(file).to_string()
}

fn location(file: &str, line: usize) -> Location {
    let artifact = ArtifactLocation::builder().uri(uri(file)).build();
    let physical = if line > 0 {
        PhysicalLocation::builder()
            .artifact_location(artifact)
            .region(Region::builder().start_line(line as i64).build())
            .build()
    } else {
        PhysicalLocation::builder()
            .artifact_location(artifact)
            .build()
    };
    Location::builder().physical_location(physical).build()
}

pub(super) fn render(d: &Decision) -> String {
    let mut rules: BTreeMap<String, ReportingDescriptor> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &d.findings {
        let id = format!("{}/{}", f.policy, f.rule);
        rules.entry(id.clone()).or_insert_with(|| {
            let doc = d.rule_docs.get(&id);
            let text = |s: &String| MultiformatMessageString::builder().text(s.clone()).build();
            match (
                doc.and_then(|d| d.title.as_ref()),
                doc.and_then(|d| d.description.as_ref()),
            ) {
                (Some(t), Some(desc)) => ReportingDescriptor::builder()
                    .id(id.clone())
                    .name(f.rule.clone())
                    .short_description(text(t))
                    .full_description(text(desc))
                    .build(),
                (Some(t), None) => ReportingDescriptor::builder()
                    .id(id.clone())
                    .name(f.rule.clone())
                    .short_description(text(t))
                    .build(),
                (None, Some(desc)) => ReportingDescriptor::builder()
                    .id(id.clone())
                    .name(f.rule.clone())
                    .full_description(text(desc))
                    .build(),
                (None, None) => ReportingDescriptor::builder()
                    .id(id.clone())
                    .name(f.rule.clone())
                    .build(),
            }
        });
        let (level, kind) = match f.severity {
            Severity::Failure => (ResultLevel::Error, ResultKind::Fail),
            Severity::Warning => (ResultLevel::Warning, ResultKind::Fail),
            Severity::Exception | Severity::Dryrun => {
                (ResultLevel::Note, ResultKind::Informational)
            }
        };
        let mut props = BTreeMap::new();
        props.insert(
            "severity".to_string(),
            serde_json::json!(f.severity.as_str()),
        );
        if let Some(r) = &f.resource {
            props.insert(
                "resource".to_string(),
                serde_json::to_value(r).unwrap_or_default(),
            );
        }
        if !f.details.is_null() {
            props.insert("details".to_string(), f.details.clone());
        }
        let message = match &f.resource {
            Some(r) => format!("{}: {}", r.display(), f.message),
            None => f.message.clone(),
        };
        results.push(
            SarifResult::builder()
                .rule_id(id)
                .level(level)
                .kind(kind)
                .message(Message::builder().text(message).build())
                .locations(vec![location(&f.file, f.line)])
                .properties(PropertyBag::builder().additional_properties(props).build())
                .build(),
        );
    }
    let notifications: Vec<Notification> = d
        .errors
        .iter()
        .map(|e| {
            Notification::builder()
                .message(Message::builder().text(e.display()).build())
                .level(serde_json::json!("error"))
                .locations(vec![location(&e.file, e.line)])
                .build()
        })
        .collect();
    let invocation = Invocation::builder()
        .execution_successful(d.errors.is_empty())
        .tool_execution_notifications(notifications)
        .build();
    let driver = ToolComponent::builder()
        .name("policyctl")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .information_uri("https://github.com/policyctl/policyctl")
        .rules(rules.into_values().collect::<Vec<_>>())
        .build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .invocations(vec![invocation])
        .build();
    let sarif = Sarif::builder()
        .schema(SCHEMA_URL)
        .version(serde_json::json!("2.1.0"))
        .runs(vec![run])
        .build();
    let mut s =
        serde_json::to_string_pretty(&sarif).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
