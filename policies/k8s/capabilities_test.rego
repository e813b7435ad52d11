package policyctl.k8s.capabilities

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if {
	count(deny) == 0 with input as fixtures.good_deployment
	count(deny_drop_all) == 0 with input as fixtures.good_deployment
}

test_baseline_capability_allowed if {
	count(deny) == 0 with input as fixtures.with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}})
}

test_denies_sys_admin if {
	some r in deny with input as fixtures.with_container({"securityContext": {"capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}}})
	contains(r.msg, "SYS_ADMIN")
}

test_denies_missing_drop_all if {
	count(deny_drop_all) == 1 with input as fixtures.with_container({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}})
}

test_exempt if {
	obj := fixtures.exempted(fixtures.with_container({"securityContext": {"capabilities": {"add": ["SYS_ADMIN"], "drop": []}}}), "capabilities")
	count(deny) + count(deny_drop_all) == 0 with input as obj
}
