# ADD fetches URLs and unpacks archives implicitly; COPY does only what it says. Use COPY (and
# curl with a checksum for downloads).
package policyctl.docker.no_add

import rego.v1

import data.policyctl.lib.docker.is_dockerfile

deny contains {"msg": msg, "code": "dockerfile-no-add", "_loc": {"line": cmd.Line}} if {
	is_dockerfile
	some cmd in input
	cmd.Cmd == "add"
	msg := sprintf("ADD %s: use COPY for local files, or a checked download for remote ones", [concat(" ", cmd.Value)])
}
