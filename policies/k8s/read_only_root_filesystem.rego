# Hardening: a read-only root filesystem stops an attacker from writing tools or changing
# binaries; mount an emptyDir where the app needs to write.
package policyctl.k8s.read_only_root_filesystem

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.regular_containers
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "read-only-root-filesystem"} if {
	not "read-only-root-filesystem" in exempted
	some c in regular_containers
	object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) != true
	msg := sprintf("%s: container %q must set securityContext.readOnlyRootFilesystem: true", [subject, c.name])
}
