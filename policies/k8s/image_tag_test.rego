package policyctl.k8s.image_tag

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_allows_digest if count(deny) == 0 with input as fixtures.with_container({"image": "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"})

test_denies_latest if {
	some r in deny with input as fixtures.with_container({"image": "nginx:latest"})
	contains(r.msg, "latest tag")
}

test_denies_untagged_with_registry_port if {
	some r in deny with input as fixtures.with_container({"image": "localhost:5000/team/web"})
	contains(r.msg, "without a tag")
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_container({"image": "nginx"}), "image-tag")
