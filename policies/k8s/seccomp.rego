# PSS restricted: a seccomp profile (RuntimeDefault or Localhost) limits the syscalls a container
# can make.
package policyctl.k8s.seccomp

import rego.v1

import data.policyctl.lib.k8s
import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

allowed := {"RuntimeDefault", "Localhost"}

deny contains {"msg": msg, "code": "seccomp"} if {
	not "seccomp" in exempted
	some c in containers
	profile := k8s.security(c, "seccompProfile")
	is_object(profile)
	not object.get(profile, "type", "") in allowed
	msg := sprintf("%s: container %q needs securityContext.seccompProfile.type RuntimeDefault or Localhost", [subject, c.name])
}

deny contains {"msg": msg, "code": "seccomp"} if {
	not "seccomp" in exempted
	some c in containers
	k8s.security(c, "seccompProfile") == null
	msg := sprintf("%s: container %q has no seccompProfile; set type: RuntimeDefault on the pod", [subject, c.name])
}
