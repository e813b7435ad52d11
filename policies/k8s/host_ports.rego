# PSS baseline: hostPort binds the node's network interface and bypasses network policy.
package policyctl.k8s.host_ports

import rego.v1

import data.policyctl.lib.k8s.containers
import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.subject

deny contains {"msg": msg, "code": "host-ports"} if {
	not "host-ports" in exempted
	some c in containers
	some port in c.ports
	object.get(port, "hostPort", 0) != 0
	msg := sprintf("%s: container %q uses hostPort %d; expose it through a Service instead", [subject, c.name, port.hostPort])
}
