# Rego v1 in another namespace, selected with -n team.web or -n 'team.*'.
package team.web

import rego.v1

deny contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s: LoadBalancer services are not allowed; use the shared ingress", [input.metadata.name])
}

warn_file contains msg if {
	endswith(data.conftest.file.name, "service.yaml")
	input.kind == "Service"
	msg := sprintf("checked %s in %s", [input.metadata.name, data.conftest.file.dir])
}
