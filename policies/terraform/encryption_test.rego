package policyctl.terraform.encryption

import rego.v1

test_allows_encrypted if count(deny) == 0 with input as {"resource": {"aws_ebs_volume": {"v": [{"encrypted": true}]}, "aws_db_instance": {"db": [{"storage_encrypted": true}]}}}

test_denies_unencrypted_volume if {
	some r in deny with input as {"resource": {"aws_ebs_volume": {"v": [{"size": 10}]}}}
	contains(r.msg, "aws_ebs_volume.v: set encrypted = true")
}

test_denies_unencrypted_db if count(deny) == 1 with input as {"resource": {"aws_db_instance": {"db": [{"storage_encrypted": false}]}}}
