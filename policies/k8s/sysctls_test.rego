package policyctl.k8s.sysctls

import rego.v1

import data.policyctl.lib.fixtures

test_allows_safe if count(deny) == 0 with input as fixtures.with_pod_spec({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}})

test_denies_unsafe if {
	some r in deny with input as fixtures.with_pod_spec({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}})
	contains(r.msg, "kernel.msgmax")
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_pod_spec({"securityContext": {"sysctls": [{"name": "kernel.msgmax"}]}}), "sysctls")
