# Operational: `:latest` or untagged images change under you; pin a version tag or a digest.
package policyctl.k8s.image_tag

import rego.v1

import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "image-tag"} if {
	not "image-tag" in exempted
	some c in containers
	problem := tag_problem(c.image)
	msg := sprintf("%s: container %q uses image %q %s; pin a version tag or a digest", [subject, c.name, c.image, problem])
}

# One definition with `else` (a single definition can never conflict).
tag_problem(image) := "with the latest tag" if {
	not contains(image, "@")
	tag(image) == "latest"
} else := "without a tag" if {
	not contains(image, "@")
	not tag(image)
}

# The tag is after the last ':' of the last path segment (a ':' before a '/' is a registry port).
tag(image) := t if {
	segments := split(image, "/")
	last := segments[count(segments) - 1]
	parts := split(last, ":")
	count(parts) == 2
	t := parts[1]
}
