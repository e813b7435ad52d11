# conftest-style policy in Rego v0, as most existing policies are.
package main

deny_run_as_root[msg] {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("%s must not run as root", [input.metadata.name])
}

deny[msg] {
	input.kind == "Deployment"
	not input.metadata.labels.team
	msg := "every Deployment needs a team label"
}

warn_replicas[msg] {
	input.kind == "Deployment"
	input.spec.replicas < 2
	msg := sprintf("%s has fewer than 2 replicas", [input.metadata.name])
}

violation[{"msg": msg, "_loc": {"file": "owners.yaml", "line": 7}, "owner": "platform"}] {
	input.kind == "Deployment"
	input.metadata.name == "legacy"
	msg := "legacy must move to the new platform"
}

# Exceptions: deny_run_as_root does not apply to the "legacy" Deployment.
exception[rules] {
	input.metadata.name == "legacy"
	rules := ["run_as_root"]
}
