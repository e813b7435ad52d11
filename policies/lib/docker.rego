# Shared helpers for Dockerfile policies (input is the list of instructions).
package policyctl.lib.docker

import rego.v1

is_dockerfile if {
	is_array(input)
	some cmd in input
	cmd.Cmd == "from"
}

final_stage := max({cmd.Stage | some cmd in input; cmd.Cmd == "from"}) if is_dockerfile

# Names given to earlier stages (`FROM x AS build`), which later FROMs may refer to.
stage_names contains lower(cmd.Value[2]) if {
	some cmd in input
	cmd.Cmd == "from"
	count(cmd.Value) >= 3
	lower(cmd.Value[1]) == "as"
}
