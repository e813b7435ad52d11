# PSS restricted: containers must not run as root (runAsNonRoot: true, no runAsUser: 0).
package policyctl.k8s.run_as_non_root

import rego.v1

import data.policyctl.lib.k8s
import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "run-as-non-root"} if {
	not "run-as-non-root" in exempted
	some c in containers
	k8s.security(c, "runAsNonRoot") != true
	msg := sprintf("%s: container %q may run as root; set securityContext.runAsNonRoot: true (pod or container)", [subject, c.name])
}

deny contains {"msg": msg, "code": "run-as-non-root"} if {
	not "run-as-non-root" in exempted
	some c in containers
	k8s.security(c, "runAsUser") == 0
	msg := sprintf("%s: container %q sets runAsUser: 0 (root); use a non-zero UID", [subject, c.name])
}
