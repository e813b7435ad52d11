package policyctl.k8s.host_path

import rego.v1

import data.policyctl.lib.fixtures

host_volume := {"volumes": [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}, {"name": "tmp", "emptyDir": {}}]}

test_allows_compliant if count(deny) == 0 with input as fixtures.with_pod_spec({"volumes": [{"name": "tmp", "emptyDir": {}}]})

test_denies_host_path if {
	some r in deny with input as fixtures.with_pod_spec(host_volume)
	contains(r.msg, "/var/run/docker.sock")
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_pod_spec(host_volume), "host-path")
