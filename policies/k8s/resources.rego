# Operational: without requests the scheduler cannot place pods well; without a memory limit one
# container can starve its node.
package policyctl.k8s.resources

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.regular_containers
import data.policyctl.lib.k8s.subject

required := [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]

deny contains {"msg": msg, "code": "resources"} if {
	not "resources" in exempted
	some c in regular_containers
	some path in required
	object.get(c, array.concat(["resources"], path), null) == null
	msg := sprintf("%s: container %q has no resources.%s.%s", [subject, c.name, path[0], path[1]])
}
