# One rule per input format, each keyed on the document shape that format's parser produces
# (conftest's shapes). Every file in inputs/ violates exactly the rule for its format.
package parsers

import rego.v1

deny_yaml contains "yaml: debug is on" if input.debug == true

deny_json contains "json: debug is on" if input.settings.debug == true

deny_toml contains "toml: server.debug is on" if input.server.debug == true

deny_hcl2 contains sprintf("hcl2: bucket %s has versioning off", [name]) if {
	some name, buckets in input.resource.aws_s3_bucket
	buckets[0].versioning[0].enabled == false
}

deny_tfplan contains sprintf("tfplan: %s is created", [rc.address]) if {
	some rc in input.resource_changes
	"create" in rc.change.actions
}

deny_dockerfile contains sprintf("dockerfile: line %d runs curl | sh", [cmd.Line]) if {
	some cmd in input
	cmd.Cmd == "run"
	contains(cmd.Value[0], "| sh")
}

deny_ini contains "ini: database.port must not be 5432" if input.database.port == 5432

deny_dotenv contains "dotenv: DEBUG is on" if input.DEBUG == "true"

deny_properties contains "properties: log level is DEBUG" if input["log.level"] == "DEBUG"

deny_xml contains sprintf("xml: dependency %s uses a SNAPSHOT", [d.artifactId]) if {
	some d in input.project.dependencies.dependency
	endswith(d.version, "-SNAPSHOT")
}

deny_cyclonedx contains sprintf("cyclonedx: component %s has no version", [c.name]) if {
	input.bomFormat == "CycloneDX"
	some c in input.components
	not c.version
}

deny_spdx contains sprintf("spdx: package %s has no license", [p.name]) if {
	input.spdxVersion
	some p in input.packages
	p.licenseConcluded == "NOASSERTION"
}

deny_ignore contains "ignore: .env must be ignored" if {
	is_array(input)
	some entry in input
	entry.Kind == "NegatedPath"
	entry.Value == ".env"
}

deny_jsonc contains "jsonc: editor.debug is on" if input.editor.debug == true

deny_jsonnet contains sprintf("jsonnet: %s runs %d replica", [input.name, input.replicas]) if input.replicas < 2
