# PSS baseline: only namespaced, safe sysctls may be set; others change the whole node.
package policyctl.k8s.sysctls

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.pod_spec
import data.policyctl.lib.k8s.subject

safe := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

deny contains {"msg": msg, "code": "sysctls"} if {
	not "sysctls" in exempted
	some s in pod_spec.securityContext.sysctls
	not s.name in safe
	msg := sprintf("%s: sysctl %q is not in the Pod Security Standards' safe set", [subject, s.name])
}
