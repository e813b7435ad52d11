# Shared helpers for Terraform (HCL2) policies: every resource body of a type, with its name.
package policyctl.lib.terraform

import rego.v1

# resources(type) is a set of [name, body] pairs.
resources(type) := {[name, body] |
	some name, bodies in input.resource[type]
	some body in bodies
}
