# Supply chain: images may only come from the registries you trust. Configure prefixes with
# data.policyctl.config.allowed_registries; when unset, this policy allows everything.
package policyctl.k8s.allowed_registries

import rego.v1

import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "allowed-registries"} if {
	not "allowed-registries" in exempted
	allowed := data.policyctl.config.allowed_registries
	some c in containers
	not from_allowed(c.image, allowed)
	msg := sprintf("%s: container %q image %q is not from an allowed registry (%s)", [subject, c.name, c.image, concat(", ", allowed)])
}

from_allowed(image, allowed) if {
	some prefix in allowed
	startswith(image, prefix)
}
