package main

import rego.v1

deny contains msg if {
	some c in containers
	c.securityContext.privileged
	msg := sprintf("%s: container %s is privileged", [kind_name, c.name])
}

deny contains msg if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s: container %s must set allowPrivilegeEscalation: false", [kind_name, c.name])
}

deny contains msg if {
	pod_spec
	not pod_spec.securityContext.runAsNonRoot
	not all_containers_non_root
	msg := sprintf("%s: must run as non-root", [kind_name])
}

all_containers_non_root if {
	every c in containers {
		c.securityContext.runAsNonRoot
	}
}

deny contains msg if {
	some c in containers
	some cap in c.securityContext.capabilities.add
	cap in {"SYS_ADMIN", "NET_ADMIN", "ALL"}
	msg := sprintf("%s: container %s adds capability %s", [kind_name, c.name, cap])
}

warn contains msg if {
	some c in containers
	not "ALL" in c.securityContext.capabilities.drop
	msg := sprintf("%s: container %s should drop ALL capabilities", [kind_name, c.name])
}

warn contains msg if {
	some c in containers
	not c.securityContext.readOnlyRootFilesystem
	msg := sprintf("%s: container %s should use a read-only root filesystem", [kind_name, c.name])
}
