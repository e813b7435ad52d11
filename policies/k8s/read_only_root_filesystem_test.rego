package policyctl.k8s.read_only_root_filesystem

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_writable if count(deny) == 1 with input as fixtures.with_container({"securityContext": {"readOnlyRootFilesystem": false}})

test_exempt if count(deny) == 0 with input as fixtures.exempted(fixtures.with_container({"securityContext": {"readOnlyRootFilesystem": false}}), "read-only-root-filesystem")
