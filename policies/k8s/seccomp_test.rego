package policyctl.k8s.seccomp

import rego.v1

import data.policyctl.lib.fixtures

test_allows_pod_level if count(deny) == 0 with input as fixtures.good_deployment

test_denies_unconfined if count(deny) == 1 with input as fixtures.with_container({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})

test_denies_missing if count(deny) == 1 with input as fixtures.with_pod_spec({"securityContext": {"seccompProfile": null}})

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_pod_spec({"securityContext": {"seccompProfile": null}}), "seccomp")
