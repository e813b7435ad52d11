package policyctl.k8s.privilege_escalation

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_unset if {
	obj := fixtures.with_pod_spec({"containers": [{"name": "bare", "image": "x:1"}]})
	count(deny) == 1 with input as obj
}

test_denies_true if count(deny) == 1 with input as fixtures.with_container({"securityContext": {"allowPrivilegeEscalation": true}})

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_container({"securityContext": {"allowPrivilegeEscalation": true}}), "privilege-escalation")
