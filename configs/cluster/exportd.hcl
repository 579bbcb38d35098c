# exportd on each of three VMs (vm1, vm2, vm3), which also run the NATS
# cluster of nats-server.conf beside this file. Every replica has the same
# file; see the README's "Scaling out" for sizing and what each replica must
# reach.
#
#   exportd validate -config /etc/exportd/exportd.hcl -check

data_dir   = "/var/lib/exportd"         # this replica's own spool and lock
plugin_dir = "/usr/lib/exportd/plugins"

log {
  level  = "info"
  format = "json"
}

nats {
  # All three nodes, comma-separated: the client starts with any of them
  # and moves to another when its node goes down.
  url       = "nats://vm1:4222,nats://vm2:4222,nats://vm3:4222"
  # The seed of the EXPORTD_NKEY user (nk -gen user), mode 0600.
  nkey_file = "/etc/exportd/nats.nk"
  # The event stream, its consumer and every KV bucket keep three copies:
  # a node can be lost, or restarted, without losing an event or a
  # receipt's record.
  replicas  = 3
}

jobs {
  # Large exports (whose last dump held more than small_rows rows) each
  # replica encodes at once: they need the CPU. Three replicas × 4 = 12.
  workers = 4
  # Small exports each replica runs beside them: they mostly wait on NATS,
  # the plugin and the disk, so they take concurrency rather than cores.
  small_workers = 16
  small_rows    = 100000
  # The defaults, which the shared state's retries depend on: a read or
  # write of the state that meets a NATS leader election is retried for
  # half the shorter of the two (30 s) before the export fails and is
  # retried as a whole.
  ack_wait  = "2m"
  lease_ttl = "1m"
}

http {
  listen = "127.0.0.1:9464"
}

# Customers' destinations registered by the platform app through the API
# (README, "Registering destinations at run time"). Every replica has the
# same key file, mode 0600, owned by exportd:
#   exportd destinations keygen -id k2026a > /etc/exportd/registry.key
registry {
  key_file = "/etc/exportd/registry.key"
  plugins  = ["s3legacy"]
}

source "postgres" {
  dsn_file = "/etc/exportd/postgres.dsn"
  schema   = "acct_${event.account_id}"
}

parquet {
  compression      = "gzip"
  target_file_size = "128MiB"
}

plugin "s3legacy" {
  path = "/usr/lib/exportd/plugins/exportd-plugin-s3legacy"
}

destination "s3legacy" "acme" {
  account     = "acme"
  bucket      = "acme-platform-dump"
  role_arn    = "arn:aws:iam::123456789012:role/platform-export"
  external_id = "acme"
  folder      = "dumps"
}
