# exportd on a production VM: PostgreSQL snapshots, a shared NATS cluster,
# and one AWS S3 Legacy destination per customer.
#
#   exportd validate -config /etc/exportd/exportd.hcl -check
#
# checks this file and, with -check, assumes every customer's role once.
#
# The platform's own AWS identity is the VM's instance role, found by the
# default credential chain (no keys on disk). Every customer's role trusts
# that role's ARN, with the customer's external ID; the customer grants it
# s3:PutObject and s3:PutObjectAcl on the bucket and nothing else. See
# plugins/s3legacy/README.md for the customer's side.

data_dir   = "/var/lib/exportd"
plugin_dir = "/opt/exportd/plugins"

log {
  level  = "info"
  format = "json"
}

nats {
  url              = env("EXPORTD_NATS_URL")
  credentials_file = "/etc/exportd/nats.creds"
  replicas         = 3
}

jobs {
  workers         = 2
  backoff         = ["30s", "2m", "10m"]
  put_concurrency = 8
  reexport_limit  = 10 # new re-export jobs per account and hour; joined requests do not count
}

http {
  listen = "127.0.0.1:9464"
}

source "postgres" {
  dsn_file          = "/etc/exportd/postgres.dsn"
  schema            = "acct_${event.account_id}"
  statement_timeout = "30m"
}

parquet {
  compression      = "gzip"
  target_file_size = "128MiB"
}

# Pinning the plugin's digest makes the daemon refuse a binary that was
# replaced behind its back. Update it with every release:
#   sha256sum /opt/exportd/plugins/exportd-plugin-s3legacy
plugin "s3legacy" {
  path = "/opt/exportd/plugins/exportd-plugin-s3legacy"
  # sha256 = "…"
}

# What a customer enters in the app: the bucket name and the role ARN.
# The external ID is the customer's account id on the platform.
destination "s3legacy" "acme" {
  account     = "acme"
  bucket      = "acme-platform-dump"
  role_arn    = "arn:aws:iam::123456789012:role/platform-export"
  external_id = "acme"
  folder      = "dumps"
  region      = "eu-west-1"
}

# A bucket encrypted with the customer's own KMS key (the role also holds
# kms:GenerateDataKey and kms:Decrypt on it), with ACLs disabled on the
# bucket: no ACL header is sent.
destination "s3legacy" "globex" {
  account     = "globex"
  bucket      = "globex-data-platform"
  role_arn    = "arn:aws:iam::210987654321:role/data-platform/platform-export"
  external_id = "globex"
  kms_key_arn = "arn:aws:kms:us-east-2:210987654321:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
  acl         = "none"
}
