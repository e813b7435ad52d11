# PSS baseline: privileged containers have every capability and device of the node.
package policyctl.k8s.privileged

import rego.v1

import data.policyctl.lib.k8s

deny contains {"msg": msg, "code": "privileged"} if {
	not k8s.exempt("privileged")
	some c in k8s.containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %q is privileged; set securityContext.privileged: false", [k8s.subject, c.name])
}
