//! Supply chain: image policies (sigstore policy-controller's ClusterImagePolicy), registry
//! access, and verification of cosign signatures, attestations and SBOMs against the digest a
//! tag resolves to. Owns every supply-chain verdict; it must not know about flags or output.

pub mod bundle;
pub mod glob;
pub mod keyless;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod verify;

use serde_json::Value as Json;

/// `sha256:<hex>` of bytes (used for policy fingerprints).
pub fn digest_of(bytes: &[u8]) -> String {
    registry::sha256(bytes)
}

/// Where pod specs live in each workload kind.
fn pod_spec(object: &Json) -> Option<&Json> {
    match object.get("kind")?.as_str()? {
        "Pod" => object.get("spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => object.pointer("/spec/template/spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// Every image a workload runs, with where it is (`containers[0]`, `initContainers[1]`, …).
pub fn images_of(object: &Json) -> Vec<(String, String)> {
    let Some(spec) = pod_spec(object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec
            .get(field)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(image) = c.get("image").and_then(Json::as_str) {
                let name = c.get("name").and_then(Json::as_str).unwrap_or("?");
                out.push((format!("{field}[{i}] ({name})"), image.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn images_of_every_workload_kind() {
        let cron = serde_json::json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "initContainers": [{"name": "i", "image": "a:1"}], "containers": [{"name": "c", "image": "b:1"}],
            "ephemeralContainers": [{"name": "e", "image": "c:1"}]}}}}}});
        let images: Vec<String> = super::images_of(&cron).into_iter().map(|x| x.1).collect();
        assert_eq!(images, vec!["a:1", "b:1", "c:1"]);
        assert!(super::images_of(&serde_json::json!({"kind": "Service"})).is_empty());
    }
}
