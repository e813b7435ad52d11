# A team's exception to a built-in policy, loaded with `-p builtin -p testdata/k8s/exceptions`:
# the privileged DaemonSet named "privileged" is allowed (reported as an exception).
package policyctl.k8s.privileged

import rego.v1

exception contains [""] if input.metadata.name == "privileged"
