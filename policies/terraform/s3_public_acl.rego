# Public S3 ACLs are the classic data leak. Keep buckets private; serve public content through a
# CDN with an origin access identity.
package policyctl.terraform.s3_public_acl

import rego.v1

import data.policyctl.lib.terraform

public := {"public-read", "public-read-write", "authenticated-read"}

deny contains {"msg": msg, "code": "terraform-s3-public-acl"} if {
	some type in ["aws_s3_bucket", "aws_s3_bucket_acl"]
	some [name, body] in terraform.resources(type)
	body.acl in public
	msg := sprintf("%s.%s: acl %q makes the bucket readable by anyone; use \"private\"", [type, name, body.acl])
}
