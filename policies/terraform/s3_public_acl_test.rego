package policyctl.terraform.s3_public_acl

import rego.v1

test_allows_private if count(deny) == 0 with input as {"resource": {"aws_s3_bucket": {"logs": [{"acl": "private"}]}}}

test_denies_public if {
	some r in deny with input as {"resource": {"aws_s3_bucket": {"site": [{"acl": "public-read"}]}}}
	contains(r.msg, "aws_s3_bucket.site")
}

test_denies_public_acl_resource if count(deny) == 1 with input as {"resource": {"aws_s3_bucket_acl": {"a": [{"acl": "public-read-write"}]}}}
