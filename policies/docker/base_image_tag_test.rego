package policyctl.docker.base_image_tag

import rego.v1

from(image) := {"Cmd": "from", "Value": [image], "Stage": 0, "Line": 3, "Flags": []}

test_allows_pinned if count(deny) == 0 with input as [from("golang:1.22"), from("gcr.io/distroless/static@sha256:abc")]

test_denies_latest if {
	some r in deny with input as [from("node:latest")]
	contains(r.msg, "latest")
	r._loc.line == 3
}

test_denies_untagged if count(deny) == 1 with input as [from("localhost:5000/base")]

test_allows_scratch_stage_and_args if {
	build := {"Cmd": "from", "Value": ["golang:1.22", "AS", "build"], "Stage": 0, "Line": 1, "Flags": []}
	count(deny) == 0 with input as [build, from("build"), from("scratch"), from("${BASE}")]
}
