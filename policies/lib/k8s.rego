# Shared helpers for the Kubernetes policies: where the pod spec lives in each workload kind,
# every container of it, effective security settings, and the exemption annotation.
#
# Policies import the rules they use by name (`import data.policyctl.lib.k8s.containers`) and
# call functions through the package (`k8s.security(...)`): on policyctl's compiled evaluation
# path a named rule is a direct call, while `k8s.containers` through the package import builds
# the whole package document first (docs/policies.md, "Writing fast policies").
package policyctl.lib.k8s

import rego.v1

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

# One definition with `else` (a single definition can never conflict).
pod_spec := input.spec if {
	input.kind == "Pod"
} else := input.spec.template.spec if {
	input.kind in template_kinds
} else := input.spec.jobTemplate.spec.template.spec if {
	input.kind == "CronJob"
}

is_workload if pod_spec

name := object.get(input, ["metadata", "name"], "<unnamed>")

# Containers that run (regular and init); ephemeral debug containers are added in `containers`.
regular_containers contains c if some c in pod_spec.containers

regular_containers contains c if some c in pod_spec.initContainers

containers contains c if some c in regular_containers

containers contains c if some c in pod_spec.ephemeralContainers

# A securityContext field as the kubelet applies it: the container's value, else the pod's.
security(c, field) := object.get(c, ["securityContext", field], object.get(pod_spec, ["securityContext", field], null))

# `policyctl.dev/exempt: "privileged, host-path"` on the object exempts it from those policies.
# A set computed once per object (policies test `"privileged" in exempted`), not a function
# called by every policy.
exempted contains trim_space(p) if {
	some p in split(input.metadata.annotations["policyctl.dev/exempt"], ",")
}

# `kind Deployment "web"`, for messages.
subject := sprintf("%s %q", [input.kind, name])
