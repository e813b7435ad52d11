package policyctl.terraform.security_group_ingress

import rego.v1

group(rule) := {"resource": {"aws_security_group": {"web": [{"ingress": [rule]}]}}}

test_allows_https_from_world if count(deny) == 0 with input as group({"from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]})

test_allows_ssh_from_office if count(deny) == 0 with input as group({"from_port": 22, "to_port": 22, "cidr_blocks": ["10.0.0.0/8"]})

test_denies_ssh_from_world if {
	some r in deny with input as group({"from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]})
	contains(r.msg, "aws_security_group.web")
}

test_denies_rule_resource_ipv6 if {
	obj := {"resource": {"aws_security_group_rule": {"db": [{"type": "ingress", "from_port": 5432, "to_port": 5432, "ipv6_cidr_blocks": ["::/0"]}]}}}
	count(deny) == 1 with input as obj
}
