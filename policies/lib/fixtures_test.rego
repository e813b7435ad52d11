# Compliant objects that policy tests break one field at a time.
package policyctl.lib.fixtures

import rego.v1

good_container := {
	"name": "app",
	"image": "registry.example.com/team/web:1.4.2",
	"ports": [{"containerPort": 8080}],
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"resources": {
		"requests": {"cpu": "100m", "memory": "64Mi"},
		"limits": {"memory": "128Mi"},
	},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
	"readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
}

good_pod_spec := {
	"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": [good_container],
}

labels := {"app.kubernetes.io/name": "web"}

good_deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "prod", "labels": labels},
	"spec": {"template": {"metadata": {"labels": labels}, "spec": good_pod_spec}},
}

# The good deployment with one container replaced by `c` merged over the good container.
with_container(patch) := object.union(good_deployment, {"spec": {"template": {"spec": {"containers": [object.union(good_container, patch)]}}}})

# The good deployment with `patch` merged into its pod spec.
with_pod_spec(patch) := object.union(good_deployment, {"spec": {"template": {"spec": patch}}})

# The same pod spec in every workload kind.
pod := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels}, "spec": good_pod_spec}

cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "c", "labels": labels},
	"spec": {"jobTemplate": {"spec": {"template": {"spec": good_pod_spec}}}},
}

exempted(obj, policies) := object.union(obj, {"metadata": {"annotations": {"policyctl.dev/exempt": policies}}})
