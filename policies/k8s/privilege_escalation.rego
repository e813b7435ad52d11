# PSS restricted: allowPrivilegeEscalation must be false, or setuid binaries can gain root.
package policyctl.k8s.privilege_escalation

import rego.v1

import data.policyctl.lib.k8s

deny contains {"msg": msg, "code": "privilege-escalation"} if {
	not k8s.exempt("privilege-escalation")
	some c in k8s.containers
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], true) != false
	msg := sprintf("%s: container %q must set securityContext.allowPrivilegeEscalation: false", [k8s.subject, c.name])
}
