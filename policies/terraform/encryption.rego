# Data at rest must be encrypted: EBS volumes and RDS instances default to unencrypted.
package policyctl.terraform.encryption

import rego.v1

import data.policyctl.lib.terraform

checks := {"aws_ebs_volume": "encrypted", "aws_db_instance": "storage_encrypted", "aws_rds_cluster": "storage_encrypted"}

deny contains {"msg": msg, "code": "terraform-encryption"} if {
	some type, field in checks
	some [name, body] in terraform.resources(type)
	object.get(body, field, false) != true
	msg := sprintf("%s.%s: set %s = true", [type, name, field])
}
