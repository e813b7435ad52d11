package main

import rego.v1

host_namespace contains "hostNetwork" if pod_spec.hostNetwork

host_namespace contains "hostPID" if pod_spec.hostPID

host_namespace contains "hostIPC" if pod_spec.hostIPC

deny contains msg if {
	some ns in host_namespace
	msg := sprintf("%s: %s is not allowed", [kind_name, ns])
}

deny contains msg if {
	some v in pod_spec.volumes
	v.hostPath
	msg := sprintf("%s: volume %s mounts a host path", [kind_name, v.name])
}

deny contains msg if {
	some c in containers
	some p in c.ports
	p.hostPort
	msg := sprintf("%s: container %s binds host port %d", [kind_name, c.name, p.hostPort])
}
