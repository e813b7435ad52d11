# Operational: without probes Kubernetes routes traffic to pods that are not ready and never
# restarts hung ones. A warning, since batch workloads legitimately have none.
package policyctl.k8s.probes

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.pod_spec
import data.policyctl.lib.k8s.subject

long_running := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}

warn contains {"msg": msg, "code": "probes"} if {
	not "probes" in exempted
	input.kind in long_running
	some c in pod_spec.containers
	some probe in ["livenessProbe", "readinessProbe"]
	not c[probe]
	msg := sprintf("%s: container %q has no %s", [subject, c.name, probe])
}
