# PSS baseline: sharing the node's network, PID or IPC namespace breaks pod isolation.
package policyctl.k8s.host_namespaces

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.pod_spec
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "host-namespaces"} if {
	not "host-namespaces" in exempted
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec[field] == true
	msg := sprintf("%s: spec.%s shares the node's namespace; remove it", [subject, field])
}
