# Operational: labels drive ownership, cost allocation and selectors. Configure the list with
# data.policyctl.config.required_labels (default: app.kubernetes.io/name).
package policyctl.k8s.required_labels

import rego.v1

import data.policyctl.lib.k8s.exempted
import data.policyctl.lib.k8s.is_workload
import data.policyctl.lib.k8s.subject

default required := ["app.kubernetes.io/name"]

required := data.policyctl.config.required_labels

deny contains {"msg": msg, "code": "required-labels"} if {
	not "required-labels" in exempted
	is_workload
	some label in required
	not input.metadata.labels[label]
	msg := sprintf("%s: missing required label %q in metadata.labels", [subject, label])
}
