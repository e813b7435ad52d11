package policyctl.lib.k8s_test

import rego.v1

import data.policyctl.lib.fixtures
import data.policyctl.lib.k8s

test_pod_spec_in_every_workload_kind if {
	some kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]
	obj := object.union(fixtures.good_deployment, {"kind": kind})
	k8s.pod_spec == fixtures.good_pod_spec with input as obj
}

test_pod_and_cronjob if {
	pod := fixtures.pod
	cronjob := fixtures.cronjob
	k8s.pod_spec == fixtures.good_pod_spec with input as pod
	k8s.pod_spec == fixtures.good_pod_spec with input as cronjob
}

test_not_a_workload if {
	not k8s.is_workload with input as {"kind": "Service", "metadata": {"name": "s"}, "spec": {}}
}

test_containers_include_init_and_ephemeral if {
	obj := fixtures.with_pod_spec({"initContainers": [{"name": "i"}], "ephemeralContainers": [{"name": "e"}]})
	names := {c.name | some c in k8s.containers} with input as obj
	names == {"app", "i", "e"}
}

test_security_falls_back_to_pod if {
	k8s.security({"name": "x"}, "runAsNonRoot") with input as fixtures.good_deployment
	k8s.security({"securityContext": {"runAsNonRoot": false}}, "runAsNonRoot") == false with input as fixtures.good_deployment
}

test_exempt_annotation if {
	"host-path" in k8s.exempted with input as fixtures.exempted(fixtures.good_deployment, "privileged, host-path")
	not "seccomp" in k8s.exempted with input as fixtures.exempted(fixtures.good_deployment, "privileged, host-path")
}
