package policyctl.k8s.host_ports

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_host_port if {
	some r in deny with input as fixtures.with_container({"ports": [{"containerPort": 80, "hostPort": 80}]})
	contains(r.msg, "hostPort 80")
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_container({"ports": [{"hostPort": 80}]}), "host-ports")
