package main

import rego.v1

required_labels := {"app.kubernetes.io/name"}

recommended_labels := {"app.kubernetes.io/version", "app.kubernetes.io/part-of"}

deny contains msg if {
	input.metadata
	some l in required_labels
	not has_label(l)
	msg := sprintf("%s: missing required label %s", [kind_name, l])
}

warn contains msg if {
	input.metadata
	some l in recommended_labels
	not has_label(l)
	msg := sprintf("%s: missing recommended label %s", [kind_name, l])
}

deny contains msg if {
	namespace == "default"
	msg := sprintf("%s: do not deploy to the default namespace", [kind_name])
}

warn contains msg if {
	some c in containers
	not c.livenessProbe
	msg := sprintf("%s: container %s has no liveness probe", [kind_name, c.name])
}

warn contains msg if {
	some c in containers
	not c.readinessProbe
	msg := sprintf("%s: container %s has no readiness probe", [kind_name, c.name])
}
