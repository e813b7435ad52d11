package policyctl.k8s.host_namespaces

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_each_namespace if {
	obj := fixtures.with_pod_spec({"hostNetwork": true, "hostPID": true, "hostIPC": true})
	count(deny) == 3 with input as obj
}

test_false_is_fine if count(deny) == 0 with input as fixtures.with_pod_spec({"hostNetwork": false})

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_pod_spec({"hostPID": true}), "host-namespaces")
