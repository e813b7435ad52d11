# PSS restricted: a seccomp profile (RuntimeDefault or Localhost) limits the syscalls a container
# can make.
package policyctl.k8s.seccomp

import rego.v1

import data.policyctl.lib.k8s

allowed := {"RuntimeDefault", "Localhost"}

deny contains {"msg": msg, "code": "seccomp"} if {
	not k8s.exempt("seccomp")
	some c in k8s.containers
	profile := k8s.security(c, "seccompProfile")
	is_object(profile)
	not object.get(profile, "type", "") in allowed
	msg := sprintf("%s: container %q needs securityContext.seccompProfile.type RuntimeDefault or Localhost", [k8s.subject, c.name])
}

deny contains {"msg": msg, "code": "seccomp"} if {
	not k8s.exempt("seccomp")
	some c in k8s.containers
	k8s.security(c, "seccompProfile") == null
	msg := sprintf("%s: container %q has no seccompProfile; set type: RuntimeDefault on the pod", [k8s.subject, c.name])
}
