package policyctl.docker.no_add

import rego.v1

from := {"Cmd": "from", "Value": ["alpine:3.20"], "Stage": 0, "Line": 1, "Flags": []}

test_allows_copy if count(deny) == 0 with input as [from, {"Cmd": "copy", "Value": ["a", "/a"], "Stage": 0, "Line": 2}]

test_denies_add if {
	some r in deny with input as [from, {"Cmd": "add", "Value": ["https://x/y.tgz", "/y"], "Stage": 0, "Line": 2}]
	r._loc.line == 2
}
