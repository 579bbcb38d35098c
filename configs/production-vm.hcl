# exportd on a production VM: PostgreSQL snapshots, a shared NATS cluster,
# and one destination per customer: AWS S3 Legacy, Google Cloud Storage or
# Azure Blob Storage (their blocks follow each other below).
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
plugin_dir = "/usr/lib/exportd/plugins" # where the Debian package puts them

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
  workers         = 2  # large exports at once (more than small_rows rows)
  small_workers   = 16 # small exports at once, besides
  backoff         = ["30s", "2m", "10m"]
  put_concurrency = 8
  reexport_limit  = 10 # new re-export jobs per account and hour; joined requests do not count
}

http {
  listen = "127.0.0.1:9464"
}

source "postgres" {
  dsn_file          = "/etc/exportd/postgres.dsn"
  schema            = "acct_${event.account_id}"   # at most 63 bytes once evaluated
  statement_timeout = "30m"
  max_value_size    = "64MiB"                      # a larger value fails the export

  # Event values reach a query only through quote_literal() or quote_ident().
  table "events" {
    query = "SELECT * FROM events WHERE NOT deleted AND account_id = ${quote_literal(event.account_id)}"
  }
}

parquet {
  compression      = "gzip"
  target_file_size = "128MiB"
}

# Pinning the plugin's digest makes the daemon refuse a binary that was
# replaced behind its back. Update it with every release:
#   sha256sum /usr/lib/exportd/plugins/exportd-plugin-s3legacy
# The binary and /usr/lib/exportd/plugins must not be writable by group or
# others (install -m 0755, owned by root).
#
# A plugin sees none of the daemon's environment (the NATS URL, the DSN)
# beyond PATH, HOME, TMPDIR, TZ and LANG, unless env names it. The
# instance role needs no variable. Where the platform's identity comes
# from the environment instead (access keys in /etc/exportd/env, a
# container's or web identity's credentials), pass it on:
#   env = ["AWS_*"]
# and an egress proxy too: env = ["AWS_*", "HTTPS_PROXY", "NO_PROXY"].
plugin "s3legacy" {
  path = "/usr/lib/exportd/plugins/exportd-plugin-s3legacy"
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

# Google Cloud Storage. The platform's own Google identity is the VM's
# service account (Application Default Credentials; outside Google Cloud,
# a workload identity federation file in credentials_file). It
# impersonates the customer's service account, which holds
# roles/storage.objectCreator on the bucket and storage.objects.delete on
# dumps/receipt.json only. See the README's Google Cloud Storage section.
plugin "gcs" {
  path = "/usr/lib/exportd/plugins/exportd-plugin-gcs"
}

destination "gcs" "initech" {
  account                     = "initech"
  bucket                      = "initech-platform-dump"
  folder                      = "dumps"
  impersonate_service_account = "platform-export@initech-analytics.iam.gserviceaccount.com"
  kms_key_name                = "projects/initech-analytics/locations/europe-west1/keyRings/exports/cryptoKeys/dumps"
}

# Azure Blob Storage, with a container SAS token that may only create and
# write blobs, kept out of this file.
plugin "azblob" {
  path = "/usr/lib/exportd/plugins/exportd-plugin-azblob"
  # The Entra identity below comes from the daemon's environment; a
  # plugin sees only the variables its block names.
  env = ["AZURE_*"]
}

destination "azblob" "umbrella" {
  account         = "umbrella"
  storage_account = "umbrelladata"
  container       = "platform-dump"
  folder          = "dumps"
  sas_token       = file("/etc/exportd/secrets/umbrella.sas")
}

# Azure Blob Storage as the platform's own Microsoft Entra identity (a
# multi-tenant application, its secret in the daemon's environment as
# AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or the VM's
# managed identity), to which the customer assigned a role that may write
# blobs in the container; tenant_id is the customer's tenant.
destination "azblob" "hooli" {
  account          = "hooli"
  storage_account  = "hoolianalytics"
  container        = "platform-dump"
  tenant_id        = "7f3c1e2a-9b4d-4c8e-a1f0-2d3e4f5a6b7c"
  encryption_scope = "platform-dumps-cmk"
}

# Customers' destinations registered at run time by the platform's app
# (exportd destinations put, or a request on exportd.api.destinations.put)
# live in the <kv_prefix>_registry bucket of the NATS cluster, beside those
# of this file. Their sensitive attributes (an Azure SAS token, say) are
# sealed with the first key of key_file; every key of it opens. The file
# belongs to the daemon's user and nobody else may read it (chmod 600):
#   exportd destinations keygen -id k2026a >  /etc/exportd/registry.key
#   chmod 600 /etc/exportd/registry.key; chown exportd: /etc/exportd/registry.key
# Every replica needs the same file. plugins limits what the app may
# register (localfs never can be: its path is the operator's to set).
registry {
  key_file = "/etc/exportd/registry.key"
  plugins  = ["s3legacy", "gcs", "azblob"]
}

# Outcomes for the platform team: exports that failed for good and
# destinations that recovered, signed with a shared secret, to the
# platform's own receiver; and the same as Slack messages. A Slack
# webhook URL is itself a secret: keep it in /etc/exportd/env.
notify "webhook" {
  name   = "platform-ops"
  url    = env("EXPORTD_WEBHOOK_URL")
  secret = env("EXPORTD_WEBHOOK_SECRET")
  events = ["failed", "recovered"]
}

notify "webhook" {
  name   = "slack-data-platform"
  url    = env("EXPORTD_SLACK_WEBHOOK_URL")
  format = "slack"
  events = ["failed", "recovered"]
}
