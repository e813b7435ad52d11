package policyctl.docker.user

import rego.v1

from(stage, image) := {"Cmd": "from", "Value": [image], "Stage": stage, "Line": 1, "Flags": []}

user(stage, u) := {"Cmd": "user", "Value": [u], "Stage": stage, "Line": 9, "Flags": []}

test_allows_non_root if count(deny) == 0 with input as [from(0, "alpine:3.20"), user(0, "app")]

test_denies_missing_user if count(deny) == 1 with input as [from(0, "alpine:3.20")]

test_only_final_stage_counts if count(deny) == 1 with input as [from(0, "golang:1.22"), user(0, "app"), from(1, "alpine:3.20")]

test_denies_root if {
	some r in deny with input as [from(0, "alpine:3.20"), user(0, "app"), user(0, "0:0")]
	r._loc.line == 9
}

test_ignores_non_dockerfiles if count(deny) == 0 with input as {"kind": "Pod"}
