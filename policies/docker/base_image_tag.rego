# Base images must be pinned: `FROM image` or `FROM image:latest` rebuilds with whatever the
# registry serves that day.
package policyctl.docker.base_image_tag

import rego.v1

import data.policyctl.lib.docker.is_dockerfile
import data.policyctl.lib.docker.stage_names

deny contains {"msg": msg, "code": "dockerfile-base-image-tag", "_loc": {"line": cmd.Line}} if {
	is_dockerfile
	some cmd in input
	cmd.Cmd == "from"
	image := cmd.Value[0]
	lower(image) != "scratch"
	not lower(image) in stage_names
	not startswith(image, "$")
	not contains(image, "@")
	problem := unpinned(image)
	msg := sprintf("FROM %s %s; pin a version tag or a digest", [image, problem])
}

# One definition with `else`: the cases exclude each other, and a single definition can never
# conflict (which lets policyctl run the library on regorus's compiled path).
unpinned(image) := "uses the latest tag" if {
	tag(image) == "latest"
} else := "has no tag" if {
	not tag(image)
}

tag(image) := t if {
	segments := split(image, "/")
	parts := split(segments[count(segments) - 1], ":")
	count(parts) == 2
	t := parts[1]
}
