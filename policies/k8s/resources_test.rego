package policyctl.k8s.resources

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_each_missing_field if {
	obj := fixtures.with_pod_spec({"containers": [{"name": "bare", "image": "x:1"}]})
	count(deny) == 3 with input as obj
}

test_denies_missing_memory_limit if {
	obj := fixtures.with_container({"resources": {"limits": {"memory": null}}})
	some r in deny with input as obj
	contains(r.msg, "resources.limits.memory")
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_pod_spec({"containers": [{"name": "bare"}]}), "resources")
