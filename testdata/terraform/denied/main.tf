resource "aws_s3_bucket" "site" {
  bucket = "acme-site"
  acl    = "public-read"
}

resource "aws_security_group" "bastion" {
  name = "bastion"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_db_instance" "orders" {
  engine            = "postgres"
  instance_class    = var.db_class
  storage_encrypted = false
}
