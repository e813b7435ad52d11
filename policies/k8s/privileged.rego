# PSS baseline: privileged containers have every capability and device of the node.
package policyctl.k8s.privileged

import rego.v1

import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "privileged"} if {
	not "privileged" in exempted
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %q is privileged; set securityContext.privileged: false", [subject, c.name])
}
