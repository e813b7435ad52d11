//! Supply chain: image policies (sigstore policy-controller's ClusterImagePolicy), registry
//! access, and verification of cosign signatures, attestations and SBOMs against the digest a
//! tag resolves to. Owns every supply-chain verdict; it must not know about flags or output.

mod attestation;
pub mod bundle;
mod failure;
pub mod glob;
pub mod keyless;
pub mod policy;
pub mod reference;
pub mod registry;
mod signature;
pub mod tuf;
pub mod verify;

use serde_json::Value as Json;

/// `sha256:<hex>` of bytes (used for policy fingerprints).
pub fn digest_of(bytes: &[u8]) -> String {
    registry::sha256(bytes)
}

/// Where the pod spec lives in each workload kind, as a JSON pointer.
fn pod_spec_pointer(object: &Json) -> Option<&'static str> {
    match object.get("kind")?.as_str()? {
        "Pod" => Some("/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// One container image of a workload: where it is, for people (`containers[0] (app)`) and for
/// JSON patches (`/spec/containers/0/image`), and the reference as written.
#[derive(Debug, Clone)]
pub struct ContainerImage {
    pub label: String,
    pub pointer: String,
    pub image: String,
}

/// Every container image a workload runs.
pub fn container_images(object: &Json) -> Vec<ContainerImage> {
    let Some(base) = pod_spec_pointer(object) else {
        return Vec::new();
    };
    let Some(spec) = object.pointer(base) else {
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
                out.push(ContainerImage {
                    label: format!("{field}[{i}] ({name})"),
                    pointer: format!("{base}/{field}/{i}/image"),
                    image: image.to_string(),
                });
            }
        }
    }
    out
}

/// Every image a workload runs, with where it is (`containers[0]`, `initContainers[1]`, …).
pub fn images_of(object: &Json) -> Vec<(String, String)> {
    container_images(object)
        .into_iter()
        .map(|c| (c.label, c.image))
        .collect()
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
