//! Image verdicts as findings: every image of a workload is verified (concurrently) against the
//! image policies that match it, and each deny/warn becomes a finding on that resource.

use crate::finding::{Finding, Severity};
use crate::input::Document;
use crate::supply::policy::ResourceContext;
use crate::supply::verify::{Verdict, Verifier};
use serde_json::{json, Value as Json};
use std::sync::Arc;

/// The verifier and the runtime its registry I/O runs on.
#[derive(Clone)]
pub struct SupplyChain {
    pub verifier: Arc<Verifier>,
    pub runtime: tokio::runtime::Handle,
}

impl SupplyChain {
    /// Verifies the images of `object` and appends findings. Blocks the calling (non-async)
    /// thread; within a workload the images are verified concurrently.
    pub fn evaluate(&self, doc: &Document, object: &Json, out: &mut super::Outcome) {
        let images = crate::supply::images_of(object);
        if images.is_empty() {
            return;
        }
        let refs: Vec<String> = images.iter().map(|(_, i)| i.clone()).collect();
        let resource = ResourceContext::of(object);
        let verdicts = self
            .runtime
            .block_on(self.verifier.verify_all_for(&refs, Some(&resource)));
        findings(doc, &images, verdicts, out);
    }

    /// As [`SupplyChain::evaluate`], from async code (the webhook).
    pub async fn evaluate_async(&self, doc: &Document, object: &Json, out: &mut super::Outcome) {
        let images = crate::supply::images_of(object);
        let refs: Vec<String> = images.iter().map(|(_, i)| i.clone()).collect();
        let resource = ResourceContext::of(object);
        let verdicts = self.verifier.verify_all_for(&refs, Some(&resource)).await;
        findings(doc, &images, verdicts, out);
    }
}

fn findings(
    doc: &Document,
    images: &[(String, String)],
    verdicts: Vec<crate::supply::verify::ImageVerdict>,
    out: &mut super::Outcome,
) {
    for ((container, image), verdict) in images.iter().zip(verdicts) {
        for p in &verdict.policies {
            let severity = match p.verdict {
                Verdict::Allow => {
                    out.pass(doc, || format!("ClusterImagePolicy/{}", p.name), p.code);
                    continue;
                }
                Verdict::Warn => Severity::Warning,
                Verdict::Deny => Severity::Failure,
            };
            let digest = verdict.digest.clone().unwrap_or_default();
            let at = if digest.is_empty() {
                String::new()
            } else {
                format!(" ({digest})")
            };
            out.findings.push(Finding {
                severity,
                file: doc.file.clone(),
                line: doc.line,
                resource: doc.resource.clone(),
                policy: format!("ClusterImagePolicy/{}", p.name),
                rule: p.code.to_string(),
                message: format!("{container}: image {image}{at}: {}", p.reasons.join("; ")),
                details: json!({"image": image, "digest": verdict.digest, "container": container, "reasons": p.reasons, "code": p.code}),
            });
        }
    }
}
