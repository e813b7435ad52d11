package policyctl.k8s.probes

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(warn) == 0 with input as fixtures.good_deployment

test_warns_missing_probes if {
	obj := fixtures.with_pod_spec({"containers": [{"name": "bare", "image": "x:1"}]})
	count(warn) == 2 with input as obj
}

test_jobs_need_no_probes if {
	obj := object.union(fixtures.with_pod_spec({"containers": [{"name": "bare"}]}), {"kind": "Job"})
	count(warn) == 0 with input as obj
}

test_exempt if count(warn) == 0 with input as fixtures.exempted(fixtures.with_pod_spec({"containers": [{"name": "b"}]}), "probes")
