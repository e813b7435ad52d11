package main

import rego.v1

memory_limit(c) := units.parse_bytes(c.resources.limits.memory)

max_memory := 4 * 1024 * 1024 * 1024

deny contains msg if {
	some c in containers
	not c.resources.limits.memory
	msg := sprintf("%s: container %s has no memory limit", [kind_name, c.name])
}

deny contains msg if {
	some c in containers
	memory_limit(c) > max_memory
	msg := sprintf("%s: container %s asks for more than 4Gi", [kind_name, c.name])
}

warn contains msg if {
	some c in containers
	not c.resources.requests.cpu
	msg := sprintf("%s: container %s has no CPU request", [kind_name, c.name])
}

replicas := input.spec.replicas if is_workload

replicas := 1 if is_pod

warn contains msg if {
	input.kind == "Deployment"
	replicas < 2
	msg := sprintf("%s: fewer than 2 replicas", [kind_name])
}
