# PSS restricted: allowPrivilegeEscalation must be false, or setuid binaries can gain root.
package policyctl.k8s.privilege_escalation

import rego.v1

import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "privilege-escalation"} if {
	not "privilege-escalation" in exempted
	some c in containers
	object.get(c, ["securityContext", "allowPrivilegeEscalation"], true) != false
	msg := sprintf("%s: container %q must set securityContext.allowPrivilegeEscalation: false", [subject, c.name])
}
