package policyctl.k8s.required_labels

import rego.v1

import data.policyctl.lib.fixtures

test_allows_compliant if count(deny) == 0 with input as fixtures.good_deployment

test_denies_missing_default_label if {
	obj := json.remove(fixtures.good_deployment, ["metadata/labels"])
	count(deny) == 1 with input as obj
}

test_configured_labels if {
	count(deny) == 2 with input as fixtures.good_deployment with data.policyctl.config.required_labels as ["team", "cost-center"]
}

test_exempt if count(deny) == 0 with input as fixtures.exempted(json.remove(fixtures.good_deployment, ["metadata/labels"]), "required-labels")
