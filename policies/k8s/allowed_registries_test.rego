package policyctl.k8s.allowed_registries

import rego.v1

import data.policyctl.lib.fixtures

allowed := ["registry.example.com/", "ghcr.io/acme/"]

test_unconfigured_allows_everything if count(deny) == 0 with input as fixtures.with_container({"image": "docker.io/evil/miner:1"})

test_allows_listed if count(deny) == 0 with input as fixtures.good_deployment with data.policyctl.config.allowed_registries as allowed

test_denies_unlisted if {
	some r in deny with input as fixtures.with_container({"image": "docker.io/evil/miner:1"}) with data.policyctl.config.allowed_registries as allowed
	contains(r.msg, "docker.io/evil/miner:1")
}

test_exempt if {
	obj := fixtures.exempted(fixtures.with_container({"image": "docker.io/x:1"}), "allowed-registries")
	count(deny) == 0 with input as obj with data.policyctl.config.allowed_registries as allowed
}
