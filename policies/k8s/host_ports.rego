# PSS baseline: hostPort binds the node's network interface and bypasses network policy.
package policyctl.k8s.host_ports

import rego.v1

import data.policyctl.lib.k8s

deny contains {"msg": msg, "code": "host-ports"} if {
	not k8s.exempt("host-ports")
	some c in k8s.containers
	some port in c.ports
	object.get(port, "hostPort", 0) != 0
	msg := sprintf("%s: container %q uses hostPort %d; expose it through a Service instead", [k8s.subject, c.name, port.hostPort])
}
