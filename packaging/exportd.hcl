# exportd's configuration, installed by the Debian package as a starting
# point. It is valid as it is, and does nothing harmful: the sample
# source, and no destination. Edit it, then check it and start the daemon:
#
#   exportd validate -config /etc/exportd/exportd.hcl [-check]
#   systemctl enable --now exportd
#
# The systemd unit reads environment variables (secrets, say) from
# /etc/exportd/env, a file for root's eyes only:
#
#   EXPORTD_NATS_URL=nats://nats-1:4222,nats://nats-2:4222
#
# env("NAME") reads one (an unset one is an error unless a default is
# given), file("path") reads a file. The full reference is in
# /usr/share/doc/exportd/README.md, a production example in
# /usr/share/doc/exportd/examples/production-vm.hcl.

# The spool and, without an external NATS, the embedded NATS store.
data_dir = "/var/lib/exportd"

# Plugins are found in /usr/lib/exportd/plugins, where the package puts
# them; set plugin_dir for plugins of your own elsewhere.
# plugin_dir = "/usr/lib/exportd/plugins"

log {
  level  = "info"
  format = "json" # journald keeps one JSON object per line
}

# Without url, exportd runs an embedded NATS server in data_dir: fine for
# one VM. Several replicas share one NATS cluster instead.
nats {
  # url              = env("EXPORTD_NATS_URL")
  # credentials_file = "/etc/exportd/nats.creds"
  # replicas         = 3
}

jobs {
  workers = 2 # large exports at once
  # small_workers = 16 # small exports (at most small_rows = 100000 rows) at once, besides
  # max_deliver = 5
  # backoff     = ["30s", "2m", "10m"]
}

# /metrics, /healthz and /readyz for Prometheus and load balancers.
http {
  listen = "127.0.0.1:9464"
}

# Generated data, until you point exportd at the platform's PostgreSQL:
#
# source "postgres" {
#   dsn_file = "/etc/exportd/postgres.dsn" # root:exportd, mode 0640
#   schema   = "acct_${event.account_id}"
# }
source "sample" {
  scale = 1
}

parquet {
  compression      = "gzip"
  target_file_size = "128MiB"
}

# One block per customer destination.
#
# destination "s3legacy" "acme" {
#   account     = "acme"
#   bucket      = "acme-platform-dump"
#   role_arn    = "arn:aws:iam::123456789012:role/platform-export"
#   external_id = "acme"
#   region      = "eu-west-1"
# }

# Post outcomes to a webhook: failures for good and recoveries, signed
# with the secret (see "Notifications" in the README).
#
# notify "webhook" {
#   name   = "ops"
#   url    = env("EXPORTD_WEBHOOK_URL")
#   secret = env("EXPORTD_WEBHOOK_SECRET")
#   events = ["failed", "recovered"]
# }
