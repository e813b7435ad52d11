package policyctl.k8s.run_as_non_root

import rego.v1

import data.policyctl.lib.fixtures

test_allows_pod_level_setting if count(deny) == 0 with input as fixtures.good_deployment

test_container_overrides_pod if {
	count(deny) == 1 with input as fixtures.with_container({"securityContext": {"runAsNonRoot": false}})
}

test_denies_missing if {
	obj := fixtures.with_pod_spec({"securityContext": {"runAsNonRoot": null}})
	count(deny) == 1 with input as obj
}

test_denies_uid_zero if {
	some r in deny with input as fixtures.with_container({"securityContext": {"runAsUser": 0}})
	contains(r.msg, "runAsUser: 0")
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_container({"securityContext": {"runAsUser": 0}}), "run-as-non-root")
