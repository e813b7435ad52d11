# Security groups open to the whole internet on anything but HTTP(S) invite brute force (SSH,
# RDP, databases).
package policyctl.terraform.security_group_ingress

import rego.v1

import data.policyctl.lib.terraform

world := {"0.0.0.0/0", "::/0"}

web_ports := {80, 443}

deny contains {"msg": msg, "code": "terraform-open-ingress"} if {
	some [name, sg] in terraform.resources("aws_security_group")
	some rule in sg.ingress
	open_rule(rule)
	msg := sprintf("aws_security_group.%s: ingress ports %v-%v open to the internet", [name, rule.from_port, rule.to_port])
}

deny contains {"msg": msg, "code": "terraform-open-ingress"} if {
	some [name, rule] in terraform.resources("aws_security_group_rule")
	rule.type == "ingress"
	open_rule(rule)
	msg := sprintf("aws_security_group_rule.%s: ingress ports %v-%v open to the internet", [name, rule.from_port, rule.to_port])
}

open_rule(rule) if {
	some cidr in array.concat(object.get(rule, "cidr_blocks", []), object.get(rule, "ipv6_cidr_blocks", []))
	cidr in world
	not web_only(rule)
}

web_only(rule) if {
	rule.from_port == rule.to_port
	rule.from_port in web_ports
}
