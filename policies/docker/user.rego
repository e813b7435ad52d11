# Containers run as root unless the image says otherwise: the final stage must switch to a
# non-root USER.
package policyctl.docker.user

import rego.v1

import data.policyctl.lib.docker.final_stage
import data.policyctl.lib.docker.is_dockerfile

final_users := [cmd |
	some cmd in input
	cmd.Cmd == "user"
	cmd.Stage == final_stage
]

final_from := [cmd | some cmd in input; cmd.Cmd == "from"; cmd.Stage == final_stage][0]

deny contains {"msg": "the final stage has no USER instruction, so the container runs as root; add `USER <non-root>`", "code": "dockerfile-user", "_loc": {"line": final_from.Line}} if {
	is_dockerfile
	count(final_users) == 0
}

deny contains {"msg": msg, "code": "dockerfile-user", "_loc": {"line": last.Line}} if {
	is_dockerfile
	last := final_users[count(final_users) - 1]
	user := split(last.Value[0], ":")[0]
	user in {"root", "0"}
	msg := sprintf("the final USER is %q; switch to a non-root user", [last.Value[0]])
}
