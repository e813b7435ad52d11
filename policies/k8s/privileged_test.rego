package policyctl.k8s.privileged

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_privileged_container if {
	obj := fixtures.with_container({"securityContext": {"privileged": true}})
	some r in deny with input as obj
	contains(r.msg, "container \"app\" is privileged")
}

test_denies_privileged_init_container_in_cronjob if {
	obj := object.union(fixtures.cronjob, {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": [{"name": "i", "securityContext": {"privileged": true}}]}}}}}})
	count(deny) == 1 with input as obj
}

test_exempt if {
	obj := fixtures.exempted(fixtures.with_container({"securityContext": {"privileged": true}}), "privileged")
	count(deny) == 0 with input as obj
}
