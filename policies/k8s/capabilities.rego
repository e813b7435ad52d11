# PSS baseline forbids adding capabilities beyond the default set; PSS restricted requires
# dropping ALL (adding back only NET_BIND_SERVICE).
package policyctl.k8s.capabilities

import rego.v1

import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.regular_containers
import data.policyctl.lib.k8s.subject

baseline := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

deny contains {"msg": msg, "code": "capabilities"} if {
	not "capabilities" in exempted
	some c in containers
	some cap in c.securityContext.capabilities.add
	not upper(cap) in baseline
	msg := sprintf("%s: container %q adds capability %s; remove it from securityContext.capabilities.add", [subject, c.name, cap])
}

deny_drop_all contains {"msg": msg, "code": "capabilities-drop-all"} if {
	not "capabilities" in exempted
	some c in regular_containers
	not drops_all(c)
	msg := sprintf("%s: container %q must drop all capabilities: securityContext.capabilities.drop: [ALL]", [subject, c.name])
}

drops_all(c) if {
	some d in c.securityContext.capabilities.drop
	upper(d) == "ALL"
}
