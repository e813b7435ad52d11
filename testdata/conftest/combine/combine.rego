# With --combine, input is [{path, contents}]: check relations across files.
package main

import rego.v1

deployments contains d if {
	some file in input
	some d in as_list(file.contents)
	d.kind == "Deployment"
}

services contains s if {
	some file in input
	some s in as_list(file.contents)
	s.kind == "Service"
}

as_list(x) := x if is_array(x)

as_list(x) := [x] if not is_array(x)

deny contains msg if {
	some d in deployments
	not exposed(d)
	msg := sprintf("Deployment %s has no Service", [d.metadata.name])
}

exposed(d) if {
	some s in services
	s.metadata.name == d.metadata.name
}
