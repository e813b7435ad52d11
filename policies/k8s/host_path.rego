# PSS baseline: hostPath volumes expose the node's filesystem to the pod.
package policyctl.k8s.host_path

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.pod_spec
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "host-path"} if {
	not "host-path" in exempted
	some v in pod_spec.volumes
	v.hostPath
	msg := sprintf("%s: volume %q mounts hostPath %q; use a PersistentVolumeClaim, emptyDir or configMap", [subject, v.name, object.get(v.hostPath, "path", "")])
}
